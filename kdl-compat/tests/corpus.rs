//! The seven real specs of the earlier tool's users: each imports, has the expected
//! structure, reads the same from its KDL v1 text and its v2 conversion, and survives
//! export → import unchanged.

use std::path::{Path, PathBuf};

use forger::model::{Distro, FsKind, Overlay, TargetKind};

const SPECS: &[&str] = &[
    "common.kdl",
    "devfs.kdl",
    "omnios-bloody-base.kdl",
    "omnios-bloody-disk.kdl",
    "omnios-rust-ci.kdl",
    "ubuntu-docker.kdl",
    "ubuntu-rust-ci.kdl",
];

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

/// `common.kdl` and `devfs.kdl` are include-only files (no metadata): they load with
/// `load_fragment` (and through including specs); as image roots they must be refused with
/// the missing-metadata diagnostic.
#[test]
fn every_corpus_spec_imports() {
    for spec in SPECS {
        let result = kdl_compat::load(corpus(spec));
        if matches!(*spec, "common.kdl" | "devfs.kdl") {
            let err = result.expect_err("an include-only file is not an image");
            assert!(
                matches!(
                    err.problems(),
                    [kdl_compat::Problem::MissingMetadata { .. }]
                ),
                "{spec}: {err:?}"
            );
            let f =
                kdl_compat::load_fragment(corpus(spec)).unwrap_or_else(|e| panic!("{spec}: {e:?}"));
            assert_eq!(f.overlays.len(), 1, "{spec}");
            assert!(f.name.as_deref().is_some_and(|n| n.ends_with(spec)));
        } else {
            let image = result.unwrap_or_else(|e| panic!("{spec}: {e:?}"));
            image
                .validate()
                .unwrap_or_else(|e| panic!("{spec} does not validate: {e:?}"));
        }
    }
}

#[test]
fn bloody_disk_has_its_base_and_includes_in_order() {
    let image = kdl_compat::load(corpus("omnios-bloody-disk.kdl")).unwrap();
    assert_eq!(image.metadata.name, "omnios-bloody-disk");
    assert_eq!(image.distro, Some(Distro::OmniOs));
    let base = image.base.as_ref().expect("base loaded");
    assert_eq!(base.metadata.name, "omnios-bloody-base");
    assert_eq!(base.content.incorporation.as_deref(), Some("entire"));
    assert_eq!(base.content.repositories.publishers.len(), 2);
    assert_eq!(base.content.packages.len(), 2);
    assert_eq!(base.content.packages[1].profile.as_deref(), Some("build"));
    assert_eq!(base.content.certificates[0].publisher, "omnios");
    assert_eq!(base.content.variants[0].name, "opensolaris.zone");
    let dir = corpus("").canonicalize().unwrap();
    let names: Vec<PathBuf> = image
        .content
        .includes
        .iter()
        .map(|f| PathBuf::from(f.name.clone().unwrap()))
        .collect();
    assert_eq!(names, vec![dir.join("devfs.kdl"), dir.join("common.kdl")]);
    for f in &image.content.includes {
        assert_eq!(f.base_dir.as_deref(), Some(dir.as_path()));
    }
    assert_eq!(image.content.base_dir.as_deref(), Some(dir.as_path()));
    let devfs = &image.content.includes[0].overlays[0].actions;
    assert_eq!(devfs[0], Overlay::Devfsadm);
    assert_eq!(devfs.len(), 15);
    assert!(matches!(&devfs[5], Overlay::RemoveFiles(r) if r.dirs == ["/dev/cfg"]));
    let builder = image.builder_vm.as_ref().unwrap();
    assert_eq!(
        (builder.vcpus, builder.memory_mb, builder.disk_gb),
        (Some(4), Some(4096), Some(20))
    );
    let t = &image.targets[0];
    let TargetKind::Qcow2(disk) = &t.kind else {
        panic!("qcow2 target expected")
    };
    assert_eq!(disk.disk_size.as_bytes(), 2000 << 20);
    assert_eq!(disk.filesystem, Some(FsKind::Zfs));
    assert_eq!(disk.pool.property("ashift"), Some("12"));
    assert_eq!(
        t.push_to.as_deref(),
        Some("code.aopc.cloud/cloudnebulaproject/omnios-bloody:latest")
    );
    let shadow = image.content.overlays[0].actions.last().unwrap();
    assert!(matches!(shadow, Overlay::Shadow(s) if s.password.starts_with("$5$kr1V")));
}

#[test]
fn ubuntu_docker_reads_mirrors_users_and_overlays() {
    let image = kdl_compat::load(corpus("ubuntu-docker.kdl")).unwrap();
    assert_eq!(image.distro, Some(Distro::Ubuntu("22.04".into())));
    let m = &image.content.repositories.apt_mirrors;
    assert_eq!(m.len(), 3);
    assert_eq!(m[1].suite, "jammy-updates");
    assert_eq!(m[1].components, ["main", "universe"]);
    assert_eq!(image.content.customizations[0].users[0].name, "admin");
    let actions = &image.content.overlays[0].actions;
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Overlay::RemoveFiles(r) if r.patterns == ["/etc/ssh/ssh_host_*"]))
    );
    assert!(matches!(actions.last(), Some(Overlay::File(f))
        if f.destination == "/etc/machine-id" && f.source.is_none() && f.mode.is_none()));
}

/// The corpus is KDL v1; the kdl crate's converter writes the same documents as v2. Both
/// must give the same model.
#[test]
fn v1_and_v2_forms_give_equal_models() {
    for spec in SPECS
        .iter()
        .filter(|s| !matches!(**s, "common.kdl" | "devfs.kdl"))
    {
        let path = corpus(spec);
        let v1 = std::fs::read_to_string(&path).unwrap();
        kdl::KdlDocument::parse_v1(&v1).expect("the corpus is KDL v1");
        let v2 = kdl::KdlDocument::v1_to_v2(&v1).unwrap();
        kdl::KdlDocument::parse_v2(&v2).expect("the conversion is v2");
        let a = kdl_compat::load(&path).unwrap();
        let b = kdl_compat::load_str(&path, &v2).unwrap();
        assert_eq!(a, b, "{spec}");
    }
}

/// A spec written by hand in both versions, using v1-only (`true`, bare numbers, raw
/// strings `r"…"`) and v2-only (`#true`, `#"…"#`) spellings.
#[test]
fn handwritten_v1_and_v2_specs_agree() {
    let v1 = r##"
metadata name="demo" version="1.0"
distro "debian-12"
facets { set name="doc.man" value=false; }
customization {
    user "ci" uid=1000 create-home=false { group "sudo"; }
}
overlays { file destination="/etc/motd" content=r"hello \o/" mode="0644"; }
builder { vcpus 2; }
target "box" kind="OCI" { entrypoint command="/bin/sh"; env "A" "1"; }
"##;
    let v2 = r##"
metadata name=demo version="1.0"
distro debian-12
facets { set name=doc.man value=#false }
customization { user ci uid=1000 create-home=#false { group sudo } }
overlays { file destination="/etc/motd" content=#"hello \o/"# mode="0644" }
builder { vcpus 2 }
target box kind=oci { entrypoint "/bin/sh"; env A "1" }
"##;
    kdl::KdlDocument::parse_v2(v1).expect_err("the v1 text is not v2");
    let a = kdl_compat::load_str("demo.kdl", v1).unwrap();
    let b = kdl_compat::load_str("demo.kdl", v2).unwrap();
    assert_eq!(a, b);
    assert!(!a.content.facets[0].value);
    assert_eq!(a.content.customizations[0].users[0].uid, Some(1000));
    let TargetKind::Oci(oci) = &a.targets[0].kind else {
        panic!("oci")
    };
    assert_eq!(oci.entrypoint, ["/bin/sh"]);
}

#[test]
fn export_then_import_is_equal_over_the_corpus() {
    for spec in SPECS
        .iter()
        .filter(|s| !matches!(**s, "common.kdl" | "devfs.kdl"))
    {
        let path = corpus(spec);
        let image = kdl_compat::load(&path).unwrap();
        let text = kdl_compat::to_kdl(&image);
        kdl::KdlDocument::parse_v2(&text)
            .unwrap_or_else(|e| panic!("{spec}: export is not KDL v2: {e:?}\n{text}"));
        let back =
            kdl_compat::load_str(&path, &text).unwrap_or_else(|e| panic!("{spec}: {e:?}\n{text}"));
        assert_eq!(image, back, "{spec}:\n{text}");
        // The included files export on their own too.
        for inc in &image.content.includes {
            let text = kdl_compat::to_kdl_fragment(inc);
            let doc = format!("metadata name=\"x\" version=\"1\"\n{text}");
            let back = kdl_compat::load_str(&path, &doc).unwrap();
            assert_eq!(back.content.overlays, inc.overlays, "{spec}:\n{text}");
        }
    }
}

#[test]
fn export_reads_like_a_spec() {
    let image = kdl_compat::load(corpus("omnios-bloody-disk.kdl")).unwrap();
    let text = kdl_compat::to_kdl(&image);
    let expected = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/export-omnios-bloody-disk.kdl"),
    )
    .unwrap_or_default();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/snapshots/export-omnios-bloody-disk.kdl"),
            &text,
        )
        .unwrap();
    } else {
        assert_eq!(text, expected);
    }
}
