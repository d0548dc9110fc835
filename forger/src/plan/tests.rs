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
