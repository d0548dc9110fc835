//! Plan behaviour: book order, union rules, diamonds, profiles, and stage-hash stability and
//! sensitivity.

use std::path::Path;

use super::*;
use crate::model::{
    BuilderVm, Distro, FileOverlay, Fragment, Image, Metadata, Overlay, OverlaySet, PackageSet,
    Publisher, Repositories, Target, Variant,
};

fn meta(name: &str) -> Metadata {
    Metadata::builder().name(name).version("1").build()
}

fn pkgs(names: &[&str]) -> Vec<PackageSet> {
    vec![PackageSet::of(names)]
}

fn names(plan: &Plan) -> Vec<String> {
    plan.packages.iter().map(|p| p.to_string()).collect()
}

fn file_overlay(dest: &str, src: &str) -> OverlaySet {
    OverlaySet::builder()
        .actions(vec![Overlay::File(
            FileOverlay::to(dest).source(src).build(),
        )])
        .build()
}

#[test]
fn book_order_is_base_chain_then_includes_then_own() {
    let inc = |n: &str| Fragment::builder().name(n).packages(pkgs(&[n])).build();
    let grand = Image::builder()
        .metadata(meta("g"))
        .content(Fragment::builder().packages(pkgs(&["g"])).build())
        .build();
    let base = Image::builder()
        .metadata(meta("b"))
        .base(grand)
        .content(
            Fragment::builder()
                .includes(vec![inc("bi")])
                .packages(pkgs(&["b"]))
                .build(),
        )
        .build();
    let image = Image::builder()
        .metadata(meta("c"))
        .base(base)
        .content(
            Fragment::builder()
                .includes(vec![inc("i1"), inc("i2")])
                .packages(pkgs(&["own"]))
                .build(),
        )
        .build();
    let plan = Plan::new(&image, &PlanOptions::default()).unwrap();
    assert_eq!(names(&plan), ["g", "bi", "b", "i1", "i2", "own"]);
}

#[test]
fn a_diamond_is_merged_once_and_unnamed_fragments_always() {
    let shared = Fragment::builder()
        .name("shared.kdl")
        .packages(pkgs(&["s"]))
        .build();
    let a = Fragment::builder()
        .name("a")
        .includes(vec![shared.clone()])
        .packages(pkgs(&["a"]))
        .build();
    let b = Fragment::builder()
        .name("b")
        .includes(vec![shared])
        .packages(pkgs(&["b"]))
        .build();
    let image = Image::builder()
        .metadata(meta("x"))
        .content(Fragment::builder().includes(vec![a, b]).build())
        .build();
    let plan = Plan::new(&image, &PlanOptions::default()).unwrap();
    assert_eq!(names(&plan), ["s", "a", "b"]);
}

#[test]
fn union_rules_child_and_including_spec_win() {
    let base = Image::builder()
        .metadata(meta("b"))
        .distro(Distro::OmniOs)
        .content(
            Fragment::builder()
                .incorporation("entire")
                .repositories(
                    Repositories::builder()
                        .publishers(vec![
                            Publisher::with_name("omnios")
                                .origin("https://old/")
                                .build(),
                            Publisher::with_name("extra")
                                .origin("https://extra/")
                                .build(),
                        ])
                        .build(),
                )
                .variants(vec![Variant::new("opensolaris.zone", "global")])
                .build(),
        )
        .targets(vec![Target::artifact("base-only")])
        .builder_vm(BuilderVm::builder().vcpus(2).build())
        .build();
    let include = Fragment::builder()
        .name("inc")
        .incorporation("ignored")
        .variants(vec![
            Variant::new("opensolaris.zone", "nonglobal"),
            Variant::new("arch", "i386"),
        ])
        .build();
    let image = Image::builder()
        .metadata(meta("c"))
        .base(base)
        .content(
            Fragment::builder()
                .includes(vec![include])
                .repositories(
                    Repositories::builder()
                        .publishers(vec![
                            Publisher::with_name("omnios")
                                .origin("https://new/")
                                .build(),
                        ])
                        .build(),
                )
                .variants(vec![Variant::new("arch", "amd64")])
                .build(),
        )
        .targets(vec![Target::artifact("own")])
        .build();
    let plan = Plan::new(&image, &PlanOptions::default()).unwrap();
    assert_eq!(
        plan.distro,
        Distro::OmniOs,
        "distro inherited from the base"
    );
    assert_eq!(
        plan.incorporation.as_deref(),
        Some("entire"),
        "includes do not override"
    );
    let pubs: Vec<_> = plan
        .repositories
        .publishers
        .iter()
        .map(|p| (p.name.as_str(), p.origin.as_str()))
        .collect();
    assert_eq!(
        pubs,
        [("omnios", "https://new/"), ("extra", "https://extra/")]
    );
    let vars: Vec<_> = plan
        .variants
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(vars, [("opensolaris.zone", "nonglobal"), ("arch", "amd64")]);
    let targets: Vec<_> = plan.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(targets, ["own"], "targets are not inherited");
    assert_eq!(
        plan.builder_vm.unwrap().vcpus,
        Some(2),
        "builder inherited when the child has none"
    );
}

#[test]
fn profiles_filter_blocks_and_unknown_ones_are_errors() {
    let image = Image::builder()
        .metadata(meta("p"))
        .content(
            Fragment::builder()
                .packages(vec![
                    PackageSet::of(["always"]),
                    PackageSet::builder()
                        .profile("build")
                        .packages(vec!["tools".parse().unwrap()])
                        .build(),
                ])
                .build(),
        )
        .build();
    let off = Plan::new(&image, &PlanOptions::default()).unwrap();
    assert_eq!(names(&off), ["always"]);
    let on = Plan::new(
        &image,
        &PlanOptions {
            profiles: vec!["build".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(names(&on), ["always", "tools"]);
    let err = Plan::new(
        &image,
        &PlanOptions {
            profiles: vec!["biuld".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    let text = format!(
        "{err} / {:?}",
        miette::Diagnostic::help(&err).map(|h| h.to_string())
    );
    assert!(
        text.contains("unknown profile `biuld`") && text.contains("build"),
        "{text}"
    );
}

#[test]
fn missing_and_escaping_sources_are_reported_together() {
    let dir = tempfile::tempdir().unwrap();
    let image = Image::builder()
        .metadata(meta("s"))
        .content(
            Fragment::builder()
                .base_dir(dir.path())
                .overlays(vec![
                    file_overlay("/etc/a", "nope"),
                    file_overlay("/etc/b", "../../etc/passwd"),
                ])
                .build(),
        )
        .build();
    match Plan::new(&image, &PlanOptions::default()).unwrap_err() {
        Error::Invalid { problems } => {
            assert!(matches!(problems[0], Error::SourceNotFound { .. }));
            assert!(matches!(problems[1], Error::SourceEscapes { .. }));
        }
        other => panic!("{other:?}"),
    }
}

fn hashing_image(dir: &Path) -> Image {
    Image::builder()
        .metadata(meta("h"))
        .content(
            Fragment::builder()
                .base_dir(dir)
                .packages(pkgs(&["p"]))
                .overlays(vec![file_overlay("/etc/motd", "motd")])
                .build(),
        )
        .targets(vec![Target::artifact("a")])
        .build()
}

#[test]
fn stage_hashes_are_stable_and_each_input_moves_only_its_stages() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("motd"), "hello").unwrap();
    let image = hashing_image(dir.path());
    let opts = PlanOptions::default();
    let one = Plan::new(&image, &opts).unwrap().stages;
    let two = Plan::new(&image, &opts).unwrap().stages;
    assert_eq!(one, two);

    std::fs::write(dir.path().join("motd"), "hellO").unwrap();
    let byte = Plan::new(&image, &opts).unwrap().stages;
    assert_eq!(byte[0], one[0], "payload unaffected by an overlay byte");
    assert_ne!(byte[1].hash, one[1].hash, "overlays hash moves");
    assert_ne!(byte[2].hash, one[2].hash, "target hash moves");

    let mut more = image.clone();
    more.content.packages = pkgs(&["p", "q"]);
    let pk = Plan::new(&more, &opts).unwrap().stages;
    assert_ne!(
        pk[0].hash, byte[0].hash,
        "payload moves with the package list"
    );

    let mut renamed = image.clone();
    renamed.targets = vec![Target::artifact("b")];
    let t = Plan::new(&renamed, &opts).unwrap().stages;
    assert_eq!(t[1], byte[1], "a target change leaves overlays alone");
    assert_ne!(t[2].hash, byte[2].hash);
}

fn ubuntu_image() -> Image {
    Image::builder()
        .metadata(meta("u"))
        .distro(Distro::Ubuntu("22.04".into()))
        .content(
            Fragment::builder()
                .repositories(
                    Repositories::builder()
                        .apt_mirrors(vec![
                            crate::model::AptMirror::with_url("http://archive.ubuntu.com/ubuntu")
                                .suite("jammy")
                                .components(vec!["main".into(), "universe".into()])
                                .build(),
                        ])
                        .build(),
                )
                .packages(pkgs(&["cargo"]))
                .build(),
        )
        .build()
}

#[test]
fn apt_override_replaces_mirrors_and_changes_the_payload_hash() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.gpg");
    std::fs::write(&key, b"key one").unwrap();
    let image = ubuntu_image();
    let plain = Plan::new(&image, &PlanOptions::default()).unwrap();
    let with = |apt_override: AptOverride| {
        Plan::new(
            &image,
            &PlanOptions {
                apt_override,
                ..Default::default()
            },
        )
    };
    let debian = AptOverride {
        mirrors: vec![
            "http://deb.debian.org/debian".into(),
            "copy:///srv/r".into(),
        ],
        suite: Some("bookworm".into()),
        components: vec![],
        keyrings: vec![key.clone()],
    };
    let over = with(debian.clone()).unwrap();
    assert!(over.apt_mirrors_overridden);
    let lines: Vec<String> = over
        .repositories
        .apt_mirrors
        .iter()
        .map(|m| format!("{} {} {}", m.url, m.suite, m.components.join(" ")))
        .collect();
    assert_eq!(
        lines,
        [
            "http://deb.debian.org/debian bookworm main",
            "copy:///srv/r bookworm main"
        ]
    );
    assert_eq!(over.apt_keyrings[0].path, key);
    assert_ne!(plain.stage_hash("payload"), over.stage_hash("payload"));
    assert_ne!(plain.stage_hash("overlays"), over.stage_hash("overlays"));

    // Without a suite the spec's is kept; a changed key is a changed payload.
    let keep = with(AptOverride {
        suite: None,
        ..debian.clone()
    })
    .unwrap();
    assert_eq!(keep.repositories.apt_mirrors[0].suite, "jammy");
    std::fs::write(&key, b"key two").unwrap();
    let rekeyed = with(debian.clone()).unwrap();
    assert_ne!(over.stage_hash("payload"), rekeyed.stage_hash("payload"));

    // No override: the hash does not depend on the new fields at all.
    assert_eq!(
        plain.stage_hash("payload"),
        Plan::new(&image, &PlanOptions::default())
            .unwrap()
            .stage_hash("payload")
    );
}

#[test]
fn bad_apt_overrides_are_refused() {
    let image = ubuntu_image();
    let err = |apt_override: AptOverride| {
        let e = Plan::new(
            &image,
            &PlanOptions {
                apt_override,
                ..Default::default()
            },
        )
        .unwrap_err();
        format!("{e} {e:?}")
    };
    let text = err(AptOverride {
        suite: Some("bookworm".into()),
        ..Default::default()
    });
    assert!(text.contains("need at least one --apt-mirror"), "{text}");
    let text = err(AptOverride {
        mirrors: vec!["deb.debian.org/debian".into()],
        ..Default::default()
    });
    assert!(text.contains("is not a mirror URL"), "{text}");
    let text = err(AptOverride {
        mirrors: vec!["file:///srv/r".into()],
        ..Default::default()
    });
    assert!(text.contains("copy:///PATH"), "{text}");
    let text = err(AptOverride {
        mirrors: vec!["http://m/debian".into()],
        keyrings: vec!["/nonexistent/key.gpg".into()],
        ..Default::default()
    });
    assert!(text.contains("/nonexistent/key.gpg"), "{text}");
    let omnios = Image::builder()
        .metadata(meta("o"))
        .distro(Distro::OmniOs)
        .build();
    let e = Plan::new(
        &omnios,
        &PlanOptions {
            apt_override: AptOverride {
                mirrors: vec!["http://m/debian".into()],
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not install with APT"), "{e}");
}

fn debian(name: &str, base: Option<Image>, packages: &[&str]) -> Image {
    let builder = Image::builder()
        .metadata(meta(name))
        .maybe_base(base.clone())
        .content(Fragment::builder().packages(pkgs(packages)).build())
        .targets(vec![Target::artifact("a")]);
    match base {
        Some(_) => builder.build(),
        None => builder.distro(Distro::Debian("12".into())).build(),
    }
}

#[test]
fn an_apt_base_is_a_payload_stage_whose_hash_is_the_base_alone() {
    let opts = PlanOptions::default();
    let base = debian("b", None, &["less"]);
    let child = debian("c", Some(base.clone()), &["bzip2"]);
    let alone = Plan::new(&base, &opts).unwrap();
    let plan = Plan::new(&child, &opts).unwrap();
    let stage_names: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stage_names, ["base:b", "payload", "overlays", "target:a"]);
    assert_eq!(
        plan.layers,
        [PayloadLayer {
            base: "b".into(),
            version: "1".into(),
            packages: 1
        }]
    );
    assert_eq!(plan.stage_hash("base:b"), alone.stage_hash("payload"));
    // Layered and flat installs differ, so the child's payload is not a flat one's.
    let flat = Plan::new(&debian("f", None, &["less", "bzip2"]), &opts).unwrap();
    assert_ne!(plan.stage_hash("payload"), flat.stage_hash("payload"));

    // A child that adds no package has the base's payload itself.
    let same = Plan::new(&debian("s", Some(base.clone()), &["less"]), &opts).unwrap();
    assert!(same.layers.is_empty());
    assert_eq!(same.stage_hash("payload"), alone.stage_hash("payload"));

    // A payload from outside the packages is one stage.
    let rootfs = plan.clone().without_layers();
    let stage_names: Vec<&str> = rootfs.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stage_names, ["payload", "overlays", "target:a"]);
    assert_ne!(rootfs.stage_hash("payload"), plan.stage_hash("payload"));
}

#[test]
fn a_base_with_other_sources_is_no_layer_and_an_ips_base_is_one() {
    let opts = PlanOptions::default();
    let base = debian("b", None, &["less"]);
    let mut child = debian("c", Some(base), &["bzip2"]);
    child.content.repositories = Repositories::builder()
        .apt_mirrors(vec![
            crate::model::AptMirror::with_url("http://example.org/debian")
                .suite("bookworm")
                .build(),
        ])
        .build();
    assert!(Plan::new(&child, &opts).unwrap().layers.is_empty());

    let ips_base = Image::builder()
        .metadata(meta("ob"))
        .distro(Distro::OmniOs)
        .content(Fragment::builder().packages(pkgs(&["a"])).build())
        .build();
    let ips_child = Image::builder()
        .metadata(meta("oc"))
        .base(ips_base)
        .content(Fragment::builder().packages(pkgs(&["b"])).build())
        .build();
    let plan = Plan::new(&ips_child, &opts).unwrap();
    let stage_names: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stage_names, ["base:ob", "payload", "overlays"]);
}
