//! The `image!` DSL: the trybuild suite (compile-fail cases with reviewed `.stderr`
//! snapshots in `forger/tests/ui/fail`, pass cases in `forger/tests/ui/pass`), and the DSL and
//! the bon builders producing equal model values for the same image.

use std::path::Path;

use forger::model::*;

/// Compiles every case in `tests/ui` (minutes on a cold cache: trybuild builds the
/// dependencies once more in `target/tests/trybuild`), so it runs with `FORGER_SLOW_TESTS=1`.
#[test]
fn dsl_trybuild_suite() {
    if std::env::var_os("FORGER_SLOW_TESTS").is_none() {
        eprintln!("skipped: the trybuild suite runs with FORGER_SLOW_TESTS=1");
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}

fn devfs() -> Fragment {
    forger::fragment! {
        name "devfs"
        overlays {
            devfsadm
            ensure-dir "/dev/cfg" owner="root" group="root" mode="755"
            remove-files dir="/dev/cfg"
            ensure-symlink "/dev/msglog" target="../devices/pseudo/sysmsg@0:msglog" owner="root" group="root"
            file destination="/reconfigure" owner="root" group="root" mode="644"
        }
    }
}

fn this_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it")
        .canonicalize()
        .expect("the test directory exists")
        .to_string_lossy()
        .into_owned()
}

fn devfs_by_builders() -> Fragment {
    Fragment::builder()
        .name("devfs")
        .base_dir(this_dir())
        .overlays(vec![
            OverlaySet::builder()
                .actions(vec![
                    Overlay::Devfsadm,
                    Overlay::EnsureDir(
                        EnsureDir::at("/dev/cfg")
                            .owner("root")
                            .group("root")
                            .mode(Mode::new(0o755))
                            .build(),
                    ),
                    Overlay::RemoveFiles(
                        RemoveFiles::builder().dirs(vec!["/dev/cfg".into()]).build(),
                    ),
                    Overlay::EnsureSymlink(
                        EnsureSymlink::at("/dev/msglog")
                            .target("../devices/pseudo/sysmsg@0:msglog")
                            .owner("root")
                            .group("root")
                            .build(),
                    ),
                    Overlay::File(
                        FileOverlay::to("/reconfigure")
                            .owner("root")
                            .group("root")
                            .mode(Mode::new(0o644))
                            .build(),
                    ),
                ])
                .build(),
        ])
        .build()
}

#[test]
fn dsl_and_builders_give_equal_models() {
    let dsl = forger::image! {
        metadata name="omnios-rust-ci" version="0.1.0" description="CI"
        distro "omnios"
        include {devfs()}
        incorporation "entire"
        repositories { publisher name="omnios" origin="https://pkg.omnios.org/bloody/core/" }
        variants { set name="opensolaris.zone" value="global" }
        packages { package "/developer/lang/rust" package "/network/rsync" }
        packages if="build" { package "/developer/build-essential" }
        customization { user "ci" uid=1000 { groups "staff" } }
        overlays {
            shadow username="root" password="$5$kr1VgdIt$x"
            file destination="/etc/default/init" source="default_init.utc" mode="0644"
        }
        target "qcow2" kind="qcow2" {
            disk-size "4000M"
            bootloader "uefi"
            filesystem "zfs"
            push-to "ghcr.io/example/omnios-rust:latest"
            pool { property name="ashift" value="12" }
        }
        target "ctr" kind="oci" { entrypoint "/bin/sh"; env "A" "b"; expose "22/tcp" }
        target "rootfs" kind="artifact"
    };
    let builders = Image::builder()
        .metadata(
            Metadata::builder()
                .name("omnios-rust-ci")
                .version("0.1.0")
                .description("CI")
                .build(),
        )
        .distro(Distro::OmniOs)
        .content(
            Fragment::builder()
                .base_dir(this_dir())
                .includes(vec![devfs_by_builders()])
                .incorporation("entire")
                .repositories(
                    Repositories::builder()
                        .publishers(vec![
                            Publisher::with_name("omnios")
                                .origin("https://pkg.omnios.org/bloody/core/")
                                .build(),
                        ])
                        .build(),
                )
                .variants(vec![Variant::new("opensolaris.zone", "global")])
                .packages(vec![
                    PackageSet::of(["/developer/lang/rust", "/network/rsync"]),
                    PackageSet::builder()
                        .profile("build")
                        .packages(vec!["/developer/build-essential".parse().unwrap()])
                        .build(),
                ])
                .customizations(vec![
                    Customization::builder()
                        .users(vec![
                            User::named("ci")
                                .uid(1000)
                                .groups(vec!["staff".into()])
                                .build(),
                        ])
                        .build(),
                ])
                .overlays(vec![
                    OverlaySet::builder()
                        .actions(vec![
                            Overlay::Shadow(Shadow {
                                username: "root".into(),
                                password: "$5$kr1VgdIt$x".into(),
                            }),
                            Overlay::File(
                                FileOverlay::to("/etc/default/init")
                                    .source("default_init.utc")
                                    .mode(Mode::new(0o644))
                                    .build(),
                            ),
                        ])
                        .build(),
                ])
                .build(),
        )
        .targets(vec![
            Target::named("qcow2")
                .kind(TargetKind::Qcow2(
                    DiskTarget::builder()
                        .disk_size("4000M".parse().unwrap())
                        .bootloader(Bootloader::Uefi)
                        .filesystem(FsKind::Zfs)
                        .pool(
                            ZfsPool::builder()
                                .properties(vec![Property::new("ashift", "12")])
                                .build(),
                        )
                        .build(),
                ))
                .push_to("ghcr.io/example/omnios-rust:latest")
                .build(),
            Target::oci(
                "ctr",
                OciTarget::builder()
                    .entrypoint(vec!["/bin/sh".into()])
                    .env(vec![EnvVar::new("A", "b")])
                    .exposed_ports(vec!["22/tcp".into()])
                    .build(),
            ),
            Target::artifact("rootfs"),
        ])
        .build();
    assert_eq!(dsl, builders);
    dsl.validate().expect("the image is valid");
}

#[allow(dead_code)]
#[path = "../../../examples/omnios/mod.rs"]
mod omnios;

#[allow(dead_code)]
#[path = "../../../examples/debian-ci.rs"]
mod debian_ci;

#[test]
fn dsl_omnios_example_is_the_corpus_image() {
    let image = omnios::rust_ci::image();
    image.validate().expect("the example is valid");
    assert_eq!(image.metadata.name, "omnios-rust-ci");
    let base = image.base.as_deref().expect("has the bloody base");
    assert_eq!(base.content.incorporation.as_deref(), Some("entire"));
    assert_eq!(base.content.repositories.publishers.len(), 2);
    assert_eq!(base.content.packages[1].profile.as_deref(), Some("build"));
    let names: Vec<_> = image
        .content
        .includes
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(names, [Some("devfs".to_owned()), Some("common".to_owned())]);
    assert_eq!(image.content.includes[0].overlays[0].actions.len(), 15);
    assert_eq!(image.content.packages[0].packages.len(), 7);
    let disk = image.targets[0].kind.disk().expect("a disk target");
    assert_eq!(disk.disk_size, Size::mib(4000));
    // Overlay sources resolve against the directory of the fragment's source file, where the
    // corpus files were copied.
    let dir = image
        .content
        .base_dir
        .clone()
        .expect("the image has a base dir");
    assert!(dir.join("files/default_init.utc").is_file(), "{dir:?}");
    assert_eq!(
        image.content.includes[1].base_dir.as_deref(),
        Some(dir.as_path())
    );
}

#[test]
fn dsl_debian_example_is_valid() {
    let image = debian_ci::image();
    image.validate().expect("the example is valid");
    assert_eq!(image.distro().apt_suite().as_deref(), Some("bookworm"));
    assert_eq!(
        image.content.repositories.apt_mirrors[0].url,
        "http://deb.debian.org/debian"
    );
    let kinds: Vec<_> = image.targets.iter().map(|t| t.kind.keyword()).collect();
    assert_eq!(kinds, ["qcow2", "artifact"]);
}

/// A package name computed at run time (`{expr}`) cannot be checked by the compiler; a bad one
/// is reported by validation with the other problems, not by a panic.
#[test]
fn dsl_bad_runtime_package_name_is_a_validation_problem() {
    let from_env = "open ssh".to_owned();
    let image = forger::image! {
        metadata name="x" version="1"
        distro "debian-12"
        packages {
            package {from_env.clone()}
            package {String::new()}
        }
    };
    let report = format!("{:?}", miette::Report::new(image.validate().unwrap_err()));
    assert!(
        report.contains("`open ssh` is not a package name"),
        "{report}"
    );
    assert!(report.contains("`` is not a package name"), "{report}");
}
