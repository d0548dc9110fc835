//! The stage cache end to end, offline: real builds of an image whose payload comes from a
//! fixture IPS repository (`file://`), with an overlay file and two tarball targets, read
//! back by GNU tar. Each case asserts what the build's cache events and stage runs say and
//! compares the outputs byte for byte: same inputs hit, an overlay byte re-runs only the
//! overlay and target stages, the package list or a newly published package re-runs the
//! payload, a corrupt entry is rebuilt to the same bytes, concurrent builds sharing a cache
//! agree, and a stage pushed to a real registry by one machine is pulled by another.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use forger::build::{BuildOptions, Events, build};
use forger::cache::{Cache, Lookup, Registry};
use forger::model::*;
use forger::plan::PlanOptions;

use crate::ips_fixture::{RepoBuilder, file, raw};
use crate::util::run_ok;

const TS: &str = "20250101T000000Z";

/// Which stages ran and what the cache answered, in order.
#[derive(Default, Debug)]
pub(crate) struct Record {
    pub(crate) ran: Vec<String>,
    pub(crate) lookups: Vec<(String, Lookup)>,
    pub(crate) warnings: Vec<String>,
}

impl Record {
    pub(crate) fn lookup(&self, stage: &str) -> Option<Lookup> {
        self.lookups
            .iter()
            .find(|(s, _)| s == stage)
            .map(|(_, l)| *l)
    }

    pub(crate) fn ran(&self, stage: &str) -> bool {
        self.ran.iter().any(|s| s == stage)
    }
}

impl Events for Record {
    fn stage_start(&mut self, _: &str, _: &str) {}
    fn stage_done(&mut self, stage: &str, _: Duration) {
        self.ran.push(stage.to_owned());
    }
    fn warning(&mut self, code: &str, message: &str) {
        self.warnings.push(format!("[{code}] {message}"));
    }
    fn output(&mut self, _: &str, _: &Path) {}
    fn cache(&mut self, stage: &str, lookup: Lookup) {
        self.lookups.push((stage.to_owned(), lookup));
    }
}

/// A fixture repository: `base` (etc, passwd, group) and `tools` (one binary); `extra`
/// adds a third package, as publishing a new package would.
fn repo(root: &Path, extra: bool) {
    let mut r = RepoBuilder::new(root, "fix");
    r.add(
        "base",
        &format!("1.0,5.11-0:{TS}"),
        vec![
            raw("dir group=sys mode=0755 owner=root path=etc"),
            raw("dir group=sys mode=0755 owner=root path=usr"),
            raw("dir group=bin mode=0755 owner=root path=usr/bin"),
            raw("link path=usr/bin/sh target=ksh93 mediator=sh mediator-implementation=ksh93"),
            file(
                "etc/passwd",
                "0644",
                "root",
                "sys",
                "",
                b"root:x:0:0::/root:/bin/sh\n",
            ),
            file(
                "etc/group",
                "0644",
                "root",
                "sys",
                "",
                b"root::0:\nbin::2:\nsys::3:\n",
            ),
        ],
    );
    r.add(
        "tools",
        &format!("2.0,5.11-0:{TS}"),
        vec![
            file(
                "usr/bin/tool",
                "0555",
                "root",
                "bin",
                "",
                b"#!/bin/sh\necho tool\n",
            ),
            raw("depend fmri=base type=require"),
        ],
    );
    if extra {
        r.add(
            "extra",
            &format!("1.0,5.11-0:{TS}"),
            vec![file("usr/bin/extra", "0555", "root", "bin", "", b"extra\n")],
        );
        r.add(
            "py",
            &format!("3.11,5.11-0:{TS}"),
            vec![
                file("usr/bin/python3.11", "0555", "root", "bin", "", b"py\n"),
                raw(
                    "link path=usr/bin/python target=python3.11 mediator=python \
                     mediator-version=3.11",
                ),
            ],
        );
        r.add(
            "staff",
            &format!("1.0,5.11-0:{TS}"),
            vec![raw("group groupname=staff gid=10")],
        );
    }
    r.finish();
}

/// The image: `packages` from the fixture repository at `repo`, `/etc/motd` from
/// `files/motd`, and two tarball targets.
fn image(repo: &Path, files: &Path, packages: &[&str]) -> Image {
    named_image("cache-e2e", repo, files, packages)
}

/// [`image`] named `name`.
fn named_image(name: &str, repo: &Path, files: &Path, packages: &[&str]) -> Image {
    Image::builder()
        .metadata(Metadata::builder().name(name).version("1").build())
        .distro(Distro::OmniOs)
        .content(
            Fragment::builder()
                .base_dir(files)
                .repositories(
                    Repositories::builder()
                        .publishers(vec![
                            Publisher::with_name("fix")
                                .origin(format!("file://{}", repo.display()))
                                .build(),
                        ])
                        .build(),
                )
                .packages(vec![PackageSet::of(packages.iter().copied())])
                .overlays(vec![
                    OverlaySet::builder()
                        .actions(vec![Overlay::File(
                            FileOverlay::to("/etc/motd")
                                .source("motd")
                                .owner("root")
                                .group("sys")
                                .mode("644".parse().unwrap())
                                .build(),
                        )])
                        .build(),
                ])
                .build(),
        )
        .targets(targets())
        .build()
}

/// A child of `base` named `name` that adds `packages`, with the same targets.
fn child_image(name: &str, base: Image, packages: &[&str]) -> Image {
    Image::builder()
        .metadata(Metadata::builder().name(name).version("1").build())
        .base(base)
        .content(
            Fragment::builder()
                .packages(vec![PackageSet::of(packages.iter().copied())])
                .build(),
        )
        .targets(targets())
        .build()
}

/// A gzipped and a plain tarball.
fn targets() -> Vec<Target> {
    vec![
        Target::artifact("rootfs"),
        Target::named("plain")
            .kind(TargetKind::Artifact(
                ArtifactTarget::builder()
                    .compression(Compression::None)
                    .build(),
            ))
            .build(),
    ]
}

/// A test directory: the fixture repository, the spec files and a cache.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        repo(&dir.path().join("repo"), false);
        std::fs::create_dir_all(dir.path().join("spec")).unwrap();
        std::fs::write(dir.path().join("spec/motd"), "hello\n").unwrap();
        Setup { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn image(&self, packages: &[&str]) -> Image {
        image(&self.path("repo"), &self.path("spec"), packages)
    }

    /// Builds into `out` with `cache`, which must give no warning; returns the record and
    /// the two outputs' bytes.
    fn build_with(&self, image: &Image, cache: &Cache, out: &str) -> (Record, Vec<Vec<u8>>) {
        let (rec, bytes) = self.build_warned(image, cache, out);
        assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
        (rec, bytes)
    }

    /// [`Setup::build_with`], warnings allowed (they are in the record).
    fn build_warned(&self, image: &Image, cache: &Cache, out: &str) -> (Record, Vec<Vec<u8>>) {
        let options = BuildOptions {
            plan: PlanOptions {
                epoch: 1_700_000_000,
                ..Default::default()
            },
            out_dir: self.path(out),
            skip_push: true,
            cache: Some(cache.clone()),
            ..Default::default()
        };
        let mut rec = Record::default();
        let report = build(image, &options, &mut rec).unwrap_or_else(|e| panic!("{e:?}"));
        let bytes = report
            .outputs
            .iter()
            .map(|o| std::fs::read(&o.path).unwrap())
            .collect();
        for o in &report.outputs {
            let listing = run_ok(Command::new("tar").arg("-tvf").arg(&o.path));
            assert!(
                listing.contains("./etc/motd") && listing.contains("./usr/bin/tool"),
                "{listing}"
            );
        }
        (rec, bytes)
    }

    /// The outputs of an image without a base named `name` with `packages`, built with a
    /// cache of its own.
    fn flat(&self, name: &str, packages: &[&str]) -> Vec<Vec<u8>> {
        let image = named_image(name, &self.path("repo"), &self.path("spec"), packages);
        let cache = Cache::new(self.path(&format!("flat-{name}-cache")));
        self.build_with(&image, &cache, &format!("out-flat-{name}"))
            .1
    }

    fn build(&self, image: &Image, out: &str) -> (Record, Vec<Vec<u8>>) {
        self.build_with(image, &Cache::new(self.path("cache")), out)
    }
}

const TARGETS: [&str; 2] = ["target:rootfs", "target:plain"];

#[test]
fn cache_same_inputs_hit_and_an_overlay_byte_reruns_only_overlays_and_targets() {
    let s = Setup::new();
    let img = s.image(&["tools"]);
    let (cold, first) = s.build(&img, "out1");
    assert_eq!(cold.lookup("overlays"), Some(Lookup::Miss), "{cold:?}");
    assert_eq!(cold.lookup("payload"), Some(Lookup::Miss), "{cold:?}");
    assert!(cold.ran("payload") && cold.ran("overlays"), "{cold:?}");

    let (warm, second) = s.build(&img, "out2");
    assert_eq!(warm.lookup("overlays"), Some(Lookup::Hit), "{warm:?}");
    for t in TARGETS {
        assert_eq!(warm.lookup(t), Some(Lookup::Hit), "{warm:?}");
    }
    assert!(warm.ran.is_empty(), "nothing runs on a full hit: {warm:?}");
    assert_eq!(first, second);

    std::fs::write(s.path("spec/motd"), "hellO\n").unwrap();
    let (changed, third) = s.build(&img, "out3");
    assert_eq!(
        changed.lookup("overlays"),
        Some(Lookup::Miss),
        "{changed:?}"
    );
    assert_eq!(changed.lookup("payload"), Some(Lookup::Hit), "{changed:?}");
    assert!(!changed.ran("payload"), "{changed:?}");
    assert!(changed.ran("overlays"), "{changed:?}");
    for t in TARGETS {
        assert_eq!(changed.lookup(t), Some(Lookup::Miss), "{changed:?}");
        assert!(changed.ran(t), "{changed:?}");
    }
    assert_ne!(first, third);
    // The rebuilt tarball took its unchanged compressed blocks from the cache: it must be
    // the bytes a build with an empty cache writes.
    let (_, fresh) = s.build_with(&img, &Cache::new(s.path("fresh-cache")), "out4");
    assert_eq!(third, fresh);
    let kinds: Vec<_> = Cache::new(s.path("cache"))
        .list()
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.hash))
        .filter(|(kind, _)| *kind == "blocks")
        .collect();
    assert_eq!(kinds, [("blocks", "gzip-6".to_owned())]);
    let motd = tar_member(&s.path("out3/plain.tar"), "./etc/motd");
    assert_eq!(motd, "hellO\n");
}

#[test]
fn cache_package_list_or_a_published_package_reruns_the_payload() {
    let s = Setup::new();
    let (_, first) = s.build(&s.image(&["tools"]), "out1");

    let (more, _) = s.build(&s.image(&["tools", "base"]), "out2");
    assert_eq!(more.lookup("payload"), Some(Lookup::Miss), "{more:?}");
    assert!(more.ran("payload"), "{more:?}");

    // Same model, but the catalog changed: a package was published.
    repo(&s.path("repo"), true);
    let (published, again) = s.build(&s.image(&["tools"]), "out3");
    assert_eq!(
        published.lookup("payload"),
        Some(Lookup::Miss),
        "{published:?}"
    );
    assert!(published.ran("payload"), "{published:?}");
    // The image's copy of the catalog (/var/pkg) is the new one, so the outputs differ.
    assert_ne!(first, again);
}

#[test]
fn cache_corrupt_entries_are_detected_rebuilt_and_identical() {
    let s = Setup::new();
    let img = s.image(&["tools"]);
    let (_, first) = s.build(&img, "out1");
    let cache = s.path("cache");

    // Flip bytes of a file inside every stored tree, and of every stored output.
    let mut flipped = 0;
    for sub in ["stages", "outputs"] {
        for entry in std::fs::read_dir(cache.join(sub)).unwrap() {
            let entry = entry.unwrap().path();
            let victim = if sub == "stages" {
                entry.join("tree/etc/passwd")
            } else {
                std::fs::read_dir(&entry)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                    .unwrap()
            };
            // A new file in place of the old (the old inode may be an earlier output).
            let mut bytes = std::fs::read(&victim).unwrap();
            bytes[0] ^= 0xff;
            std::fs::remove_file(&victim).unwrap();
            std::fs::write(&victim, bytes).unwrap();
            flipped += 1;
        }
    }
    assert_eq!(flipped, 4, "payload, overlays and two outputs are stored");

    let (rebuilt, second) = s.build(&img, "out2");
    assert_eq!(
        rebuilt.lookup("overlays"),
        Some(Lookup::Corrupt),
        "{rebuilt:?}"
    );
    assert_eq!(
        rebuilt.lookup("payload"),
        Some(Lookup::Corrupt),
        "{rebuilt:?}"
    );
    assert!(
        rebuilt.ran("payload") && rebuilt.ran("overlays"),
        "{rebuilt:?}"
    );
    assert_eq!(first, second);

    let (warm, third) = s.build(&img, "out3");
    assert_eq!(warm.lookup("overlays"), Some(Lookup::Hit), "{warm:?}");
    for t in TARGETS {
        assert_eq!(warm.lookup(t), Some(Lookup::Hit), "{warm:?}");
    }
    assert_eq!(first, third);
}

#[test]
fn cache_concurrent_builds_sharing_a_cache_agree() {
    let s = Setup::new();
    let img = s.image(&["tools"]);
    let (a, b) = std::thread::scope(|scope| {
        let one = scope.spawn(|| s.build(&img, "out-a").1);
        let two = scope.spawn(|| s.build(&img, "out-b").1);
        (one.join().unwrap(), two.join().unwrap())
    });
    assert_eq!(a, b);
    let (warm, c) = s.build(&img, "out-c");
    assert_eq!(warm.lookup("overlays"), Some(Lookup::Hit), "{warm:?}");
    assert_eq!(a, c);
    let leftovers: Vec<_> = ["stages", "outputs"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(s.path("cache").join(sub)).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "partial entries left: {leftovers:?}");
}

#[test]
fn cache_registry_machine_a_pushes_machine_b_pulls_without_running_the_payload() {
    let registry = crate::registry::Registry::start(None);
    let repo_ref = registry.reference("forger-cache");
    let s = Setup::new();
    let img = s.image(&["tools"]);

    let machine_a = Cache::new(s.path("cache-a")).with_registry(Registry {
        push_to: Some(repo_ref.clone()),
        ..Registry::default()
    });
    let (a, built) = s.build_with(&img, &machine_a, "out-a");
    assert!(a.ran("payload") && a.ran("cache-push"), "{a:?}");
    let tags = run_ok(Command::new("skopeo").args([
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{repo_ref}"),
    ]));
    assert_eq!(tags.matches("\"stage-").count(), 2, "{tags}");
    assert_eq!(tags.matches("\"output-").count(), 2, "{tags}");
    // Pushing the same entries again uploads nothing: the registry has their tags.
    let listed = |kind: &str| -> Vec<String> {
        std::fs::read_dir(s.path("cache-a").join(kind))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.starts_with('.'))
            .collect()
    };
    let (stages, outputs) = (listed("stages"), listed("outputs"));
    assert_eq!((stages.len(), outputs.len()), (2, 2));
    assert_eq!(
        machine_a
            .push(
                &stages.iter().map(String::as_str).collect::<Vec<_>>(),
                &outputs.iter().map(String::as_str).collect::<Vec<_>>()
            )
            .unwrap(),
        0
    );

    let machine_b = Cache::new(s.path("cache-b")).with_registry(Registry {
        pull_from: Some(repo_ref.clone()),
        ..Registry::default()
    });
    let (b, pulled) = s.build_with(&img, &machine_b, "out-b");
    assert_eq!(b.lookup("overlays"), Some(Lookup::RegistryHit), "{b:?}");
    for t in TARGETS {
        assert_eq!(b.lookup(t), Some(Lookup::RegistryHit), "{b:?}");
    }
    assert!(b.ran.is_empty(), "machine B runs no stage: {b:?}");
    assert_eq!(built, pulled);

    // A changed overlay on machine C: the payload comes from the registry, the rest runs.
    std::fs::write(s.path("spec/motd"), "changed\n").unwrap();
    let machine_c = Cache::new(s.path("cache-c")).with_registry(Registry {
        pull_from: Some(repo_ref),
        ..Registry::default()
    });
    let (c, _) = s.build_with(&img, &machine_c, "out-c");
    assert_eq!(c.lookup("overlays"), Some(Lookup::Miss), "{c:?}");
    assert_eq!(c.lookup("payload"), Some(Lookup::RegistryHit), "{c:?}");
    assert!(!c.ran("payload") && c.ran("overlays"), "{c:?}");
}

/// A `--cache-from` registry nobody answers at is a miss with a warning per stage, and the
/// build goes on.
#[test]
fn cache_an_unreachable_registry_is_a_miss_with_a_warning() {
    let s = Setup::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let cache = Cache::new(s.path("cache")).with_registry(Registry {
        pull_from: Some(format!("127.0.0.1:{port}/forger-cache")),
        options: forger::oci::PushOptions {
            insecure_registries: vec![format!("127.0.0.1:{port}")],
            retry: forger::oci::Retry {
                attempts: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        ..Registry::default()
    });
    let (rec, _) = s.build_warned(&s.image(&["tools"]), &cache, "out");
    assert!(rec.ran("payload"), "{rec:?}");
    assert!(
        !rec.warnings.is_empty()
            && rec
                .warnings
                .iter()
                .all(|w| w.starts_with("[cache-registry-unavailable]")),
        "{:?}",
        rec.warnings
    );
}

/// The bytes of `member` of the tarball `tar`, as GNU tar reads them.
fn tar_member(tar: &Path, member: &str) -> String {
    run_ok(Command::new("tar").arg("-xOf").arg(tar).arg(member))
}

/// Every inode that `usr/bin/tool` has among the cache's stage entries.
fn tool_inodes(cache: &Path) -> std::collections::BTreeSet<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(cache.join("stages"))
        .unwrap()
        .filter_map(|e| std::fs::metadata(e.unwrap().path().join("tree/usr/bin/tool")).ok())
        .map(|m| m.ino())
        .collect()
}

#[test]
fn cache_an_ips_base_is_a_stage_its_children_share_and_layering_gives_the_flat_install() {
    let s = Setup::new();
    repo(&s.path("repo"), true);
    let base = s.image(&["tools"]);
    let child = child_image("child", base.clone(), &["extra", "py"]);

    let cache = Cache::new(s.path("cache"));
    let (cold, layered) = s.build_with(&child, &cache, "out-child");
    assert_eq!(
        cold.lookup("base:cache-e2e"),
        Some(Lookup::Miss),
        "{cold:?}"
    );
    assert_eq!(cold.lookup("payload"), Some(Lookup::Miss), "{cold:?}");
    assert!(
        cold.ran("base:cache-e2e") && cold.ran("payload"),
        "{cold:?}"
    );
    // The child's tree kept the base's installed files: one inode in every stage entry.
    assert_eq!(
        tool_inodes(&s.path("cache")).len(),
        1,
        "the child installed all again"
    );

    // The base built alone is the same stage; a second child reuses it.
    let (alone, _) = s.build_with(&base, &cache, "out-base");
    assert_eq!(alone.lookup("payload"), Some(Lookup::Hit), "{alone:?}");
    let sibling = child_image("sibling", base.clone(), &["extra", "base"]);
    let (second, _) = s.build_with(&sibling, &cache, "out-sibling");
    assert_eq!(
        second.lookup("base:cache-e2e"),
        Some(Lookup::Hit),
        "{second:?}"
    );
    assert!(
        !second.ran("base:cache-e2e") && second.ran("payload"),
        "{second:?}"
    );

    // Byte for byte what a flat install of the same packages writes, and a build without
    // the cache gives the same.
    assert!(
        layered == s.flat("child", &["tools", "extra", "py"]),
        "a layered IPS install differs from a flat one"
    );
    let options = BuildOptions {
        plan: PlanOptions {
            epoch: 1_700_000_000,
            ..Default::default()
        },
        out_dir: s.path("out-nocache"),
        skip_push: true,
        ..Default::default()
    };
    let report = build(&child, &options, &mut Record::default()).unwrap();
    let no_cache: Vec<Vec<u8>> = report
        .outputs
        .iter()
        .map(|o| std::fs::read(&o.path).unwrap())
        .collect();
    assert!(no_cache == layered, "the cache changes a layered build");

    // A child whose package adds a group changes /etc/group, which the installer writes for
    // the whole set: it installs everything again, and again gives the flat bytes.
    let grouped = child_image("grouped", base, &["staff"]);
    let fresh = Cache::new(s.path("grouped-cache"));
    let (_, grouped_bytes) = s.build_with(&grouped, &fresh, "out-grouped");
    assert_eq!(
        tool_inodes(&s.path("grouped-cache")).len(),
        2,
        "layered over a group"
    );
    assert!(
        grouped_bytes == s.flat("grouped", &["tools", "staff"]),
        "a whole reinstall differs from a flat one"
    );
    let group = tar_member(&s.path("out-grouped/plain.tar"), "./etc/group");
    assert!(group.contains("staff::10:"), "{group}");

    // Both mediations, the base's and the child's own, are the image's.
    let listing = run_ok(
        Command::new("tar")
            .arg("-tvf")
            .arg(s.path("out-child/plain.tar")),
    );
    assert!(
        listing.contains("./usr/bin/python -> python3.11"),
        "{listing}"
    );
    let image = tar_member(&s.path("out-child/plain.tar"), "./var/pkg/pkg5.image");
    assert!(
        image.contains("python") && image.contains("ksh93"),
        "{image}"
    );
}
