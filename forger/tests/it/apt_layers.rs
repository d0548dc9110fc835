//! Bases as payload stages, with real mmdebstrap runs against this machine's Debian mirror
//! (slow: `FORGER_SLOW_TESTS=1`). Two children of one base: the first installs the base's
//! packages as a stage of its own and adds its own on top; the second reuses the base's
//! stage from the cache and installs only its package; the base built alone hits the same
//! entry. The layered tree is checked with the host's dpkg and against a flat install of
//! the same packages, and a build without the cache gives the same bytes.

use std::path::{Path, PathBuf};
use std::process::Command;

use forger::build::{BuildOptions, build};
use forger::cache::{Cache, Lookup};
use forger::model::*;
use forger::payload::apt::{AptMirror as Mirror, AptMode, AptPayload};
use forger::plan::PlanOptions;
use forger::stage::StagingTree;

use crate::apt::{host_mirror, slow_tests};
use crate::cache::Record;
use crate::util::run_ok;

/// A Debian 12 image named `name` with `packages` and a plain tarball target; the mirror is
/// set only where there is no base (children inherit it).
fn image(name: &str, base: Option<Image>, packages: &[&str]) -> Image {
    let repositories = base.is_none().then(|| {
        Repositories::builder()
            .apt_mirrors(vec![
                AptMirror::with_url(host_mirror())
                    .suite("bookworm")
                    .components(vec!["main".into()])
                    .build(),
            ])
            .build()
    });
    let distro = base.is_none().then(|| Distro::Debian("12".into()));
    let content = Fragment::builder()
        .packages(vec![PackageSet::of(packages.iter().copied())])
        .maybe_repositories(repositories);
    Image::builder()
        .metadata(Metadata::builder().name(name).version("1").build())
        .maybe_distro(distro)
        .maybe_base(base)
        .content(content.build())
        .targets(vec![
            Target::named("rootfs")
                .kind(TargetKind::Artifact(
                    ArtifactTarget::builder()
                        .compression(Compression::None)
                        .build(),
                ))
                .build(),
        ])
        .build()
}

/// Builds `image` into `out` and returns the tarball with what the build reported.
fn build_to(image: &Image, cache: Option<&Cache>, out: &Path) -> (Record, PathBuf) {
    let options = BuildOptions {
        plan: PlanOptions {
            epoch: 1_700_000_000,
            ..Default::default()
        },
        out_dir: out.to_path_buf(),
        skip_push: true,
        cache: cache.cloned(),
        ..Default::default()
    };
    let mut rec = Record::default();
    let report = build(image, &options, &mut rec).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
    (rec, report.outputs[0].path.clone())
}

fn extract(tar: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    run_ok(
        Command::new("tar")
            .args(["--numeric-owner", "-xf"])
            .arg(tar)
            .arg("-C")
            .arg(to),
    );
}

/// The sorted member names of a tarball.
fn names(tar: &Path) -> Vec<String> {
    let mut v: Vec<String> = run_ok(Command::new("tar").arg("-tf").arg(tar))
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[test]
fn children_of_a_base_share_its_payload_stage_and_add_only_their_packages() {
    if !slow_tests() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::new(dir.path().join("cache"));
    let base = image("deb-base", None, &["less"]);
    let child_a = image("child-a", Some(base.clone()), &["bzip2"]);
    let child_b = image("child-b", Some(base.clone()), &["file"]);

    let (a, tar_a) = build_to(&child_a, Some(&cache), &dir.path().join("a"));
    assert_eq!(a.lookup("payload"), Some(Lookup::Miss), "{a:?}");
    assert_eq!(a.lookup("base:deb-base"), Some(Lookup::Miss), "{a:?}");
    assert!(a.ran("base:deb-base") && a.ran("payload"), "{a:?}");

    let (b, tar_b) = build_to(&child_b, Some(&cache), &dir.path().join("b"));
    assert_eq!(b.lookup("base:deb-base"), Some(Lookup::Hit), "{b:?}");
    assert!(b.ran("payload") && !b.ran("base:deb-base"), "{b:?}");

    let (alone, _) = build_to(&base, Some(&cache), &dir.path().join("base"));
    assert_eq!(alone.lookup("payload"), Some(Lookup::Hit), "{alone:?}");
    assert!(!alone.ran("payload"), "{alone:?}");

    // The cache only saves work: without it the child is layered the same way, byte for byte.
    let (_, tar_a2) = build_to(&child_a, None, &dir.path().join("a-nocache"));
    let same = Command::new("cmp")
        .arg(&tar_a)
        .arg(&tar_a2)
        .status()
        .expect("cmp");
    assert!(same.success(), "a build without the cache gave other bytes");
    // What is checked from here on needs no cache; it would only take disk.
    std::fs::remove_dir_all(cache.dir()).expect("rm cache");
    std::fs::remove_file(&tar_a2).expect("rm");

    // The host's dpkg finds both layered systems consistent, with every package in place.
    for (tar, pkgs) in [(&tar_a, ["less", "bzip2"]), (&tar_b, ["less", "file"])] {
        let root = dir.path().join(format!(
            "x-{}",
            tar.parent().unwrap().file_name().unwrap().to_string_lossy()
        ));
        extract(tar, &root);
        let audit = run_ok(
            Command::new("dpkg")
                .arg(format!("--root={}", root.display()))
                .arg("--audit"),
        );
        assert!(audit.trim().is_empty(), "dpkg --audit: {audit}");
        for p in pkgs {
            let status = run_ok(
                Command::new("dpkg-query")
                    .arg(format!("--root={}", root.display()))
                    .args(["-W", "-f=${Status}", p]),
            );
            assert_eq!(status, "install ok installed", "{p}");
        }
    }

    // A flat install of the same packages has the same files and the same dpkg database.
    let flat = image("flat", None, &["less", "bzip2"]);
    let (_, tar_flat) = build_to(&flat, None, &dir.path().join("flat"));
    assert_eq!(names(&tar_a), names(&tar_flat));
    let root_flat = dir.path().join("x-flat");
    extract(&tar_flat, &root_flat);
    let status = |root: &Path| std::fs::read(root.join("var/lib/dpkg/status")).expect("status");
    assert!(
        status(&dir.path().join("x-a")) == status(&root_flat),
        "dpkg status differs"
    );
}

/// Layering in mmdebstrap's unshare mode, the one a builder that is not root gets: the base
/// tree reaches the user namespace as a tar unpacked by the setup hook, and the child's
/// packages are added. The result has the files, the dpkg database and the owners of a flat
/// unshare-mode install of the same packages, and the host's dpkg finds it consistent.
#[test]
fn layering_in_unshare_mode_gives_the_flat_install() {
    if !slow_tests() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut apt = AptPayload::debian("bookworm");
    apt.mirrors = vec![Mirror::new(host_mirror(), "bookworm", &["main"])];
    apt.cache_dir = Some(dir.path().join("apt-cache"));
    apt.source_date_epoch = Some(1_700_000_000);
    apt.mode = AptMode::Unshare;
    let install = |tree: &mut StagingTree, packages: &[&str], onto_tree: bool| {
        let layer = AptPayload {
            packages: packages.iter().map(|p| p.to_string()).collect(),
            onto_tree,
            ..apt.clone()
        };
        layer.install(tree).expect("mmdebstrap --mode=unshare");
    };
    let mut layered = StagingTree::create(dir.path().join("layered")).expect("tree");
    install(&mut layered, &["less"], false);
    install(&mut layered, &["bzip2"], true);
    let mut flat = StagingTree::create(dir.path().join("flat")).expect("tree");
    install(&mut flat, &["less", "bzip2"], false);

    let owners = |t: &StagingTree| -> Vec<(String, u32, u32, u32)> {
        t.manifest
            .iter()
            .map(|(p, e)| (p.to_string(), e.uid, e.gid, e.mode))
            .collect()
    };
    assert_eq!(owners(&layered), owners(&flat));
    let status =
        |t: &StagingTree| std::fs::read(t.root().join("var/lib/dpkg/status")).expect("status");
    assert!(status(&layered) == status(&flat), "dpkg status differs");
    let audit = run_ok(
        Command::new("dpkg")
            .arg(format!("--root={}", layered.root().display()))
            .arg("--audit"),
    );
    assert!(audit.trim().is_empty(), "dpkg --audit: {audit}");
}
