//! One image written three ways — KDL (through kdl-compat), the `image!` DSL and the bon
//! builders — gives equal model values. Only the provenance fields differ by construction
//! (a fragment's `name` and `base_dir` say which file declared it), so they are cleared first.

use forger::model::*;

const SPEC: &str = r#"
metadata name="same" version="2.1" description="one image, three front ends"
distro "debian-12"
repositories {
    apt-mirror "http://deb.debian.org/debian" suite="bookworm" components="main contrib"
}
packages {
    package "openssh-server"
}
packages if="dev" {
    package "gdb"
}
customization {
    user "ci" uid=1000 shell="/bin/bash" {
        group "sudo"
        authorized-key "ssh-ed25519 AAAAC3Nza ci@example"
    }
}
overlays {
    file destination="/etc/motd" content="hello\n" owner="root" group="root" mode="644"
    ensure-dir "/srv/data" owner="ci" mode="750"
    ensure-symlink "/etc/localtime" target="/usr/share/zoneinfo/UTC"
    remove-files pattern="/etc/ssh/ssh_host_*"
    shadow username="root" password="$6$x$y"
}
target "disk" kind="qcow2" {
    disk-size "4G"
    bootloader "uefi"
    filesystem "ext4"
    push-to "registry.example/same:2.1"
}
target "rootfs" kind="artifact"
"#;

fn dsl() -> Image {
    forger::image! {
        metadata name="same" version="2.1" description="one image, three front ends"
        distro "debian-12"
        repositories {
            apt-mirror "http://deb.debian.org/debian" suite="bookworm" components="main contrib"
        }
        packages {
            package "openssh-server"
        }
        packages if="dev" {
            package "gdb"
        }
        customization {
            user "ci" uid=1000 shell="/bin/bash" {
                groups "sudo"
                authorized-key "ssh-ed25519 AAAAC3Nza ci@example"
            }
        }
        overlays {
            file destination="/etc/motd" content="hello\n" owner="root" group="root" mode="644"
            ensure-dir "/srv/data" owner="ci" mode="750"
            ensure-symlink "/etc/localtime" target="/usr/share/zoneinfo/UTC"
            remove-files pattern="/etc/ssh/ssh_host_*"
            shadow username="root" password="$6$x$y"
        }
        target "disk" kind="qcow2" {
            disk-size "4G"
            bootloader "uefi"
            filesystem "ext4"
            push-to "registry.example/same:2.1"
        }
        target "rootfs" kind="artifact"
    }
}

fn builders() -> Image {
    Image::builder()
        .metadata(
            Metadata::builder()
                .name("same")
                .version("2.1")
                .description("one image, three front ends")
                .build(),
        )
        .distro(Distro::Debian("12".into()))
        .content(
            Fragment::builder()
                .repositories(
                    Repositories::builder()
                        .apt_mirrors(vec![
                            AptMirror::with_url("http://deb.debian.org/debian")
                                .suite("bookworm")
                                .components(vec!["main".into(), "contrib".into()])
                                .build(),
                        ])
                        .build(),
                )
                .packages(vec![
                    PackageSet::of(["openssh-server"]),
                    PackageSet::builder()
                        .profile("dev")
                        .packages(vec!["gdb".parse().unwrap()])
                        .build(),
                ])
                .customizations(vec![
                    Customization::builder()
                        .users(vec![
                            User::named("ci")
                                .uid(1000)
                                .shell("/bin/bash")
                                .groups(vec!["sudo".into()])
                                .authorized_keys(vec!["ssh-ed25519 AAAAC3Nza ci@example".into()])
                                .build(),
                        ])
                        .build(),
                ])
                .overlays(vec![
                    OverlaySet::builder()
                        .actions(vec![
                            Overlay::File(
                                FileOverlay::to("/etc/motd")
                                    .content("hello\n")
                                    .owner("root")
                                    .group("root")
                                    .mode(Mode::new(0o644))
                                    .build(),
                            ),
                            Overlay::EnsureDir(
                                EnsureDir::at("/srv/data")
                                    .owner("ci")
                                    .mode(Mode::new(0o750))
                                    .build(),
                            ),
                            Overlay::EnsureSymlink(
                                EnsureSymlink::at("/etc/localtime")
                                    .target("/usr/share/zoneinfo/UTC")
                                    .build(),
                            ),
                            Overlay::RemoveFiles(
                                RemoveFiles::builder()
                                    .patterns(vec!["/etc/ssh/ssh_host_*".into()])
                                    .build(),
                            ),
                            Overlay::Shadow(Shadow {
                                username: "root".into(),
                                password: "$6$x$y".into(),
                            }),
                        ])
                        .build(),
                ])
                .build(),
        )
        .targets(vec![
            Target::named("disk")
                .kind(TargetKind::Qcow2(
                    DiskTarget::builder()
                        .disk_size(Size::gib(4))
                        .bootloader(Bootloader::Uefi)
                        .filesystem(FsKind::Ext4)
                        .build(),
                ))
                .push_to("registry.example/same:2.1")
                .build(),
            Target::artifact("rootfs"),
        ])
        .build()
}

/// Clears the fields that record which file declared a fragment.
fn without_provenance(mut image: Image) -> Image {
    image.content.name = None;
    image.content.base_dir = None;
    for set in &mut image.content.overlays {
        set.base_dir = None;
    }
    image
}

#[test]
fn kdl_dsl_and_builders_give_equal_models() {
    let kdl = kdl_compat::load_str("spec.kdl", SPEC).unwrap_or_else(|e| panic!("{e:?}"));
    let (kdl, dsl, builders) = (
        without_provenance(kdl),
        without_provenance(dsl()),
        without_provenance(builders()),
    );
    assert_eq!(dsl, builders, "DSL and builders differ");
    assert_eq!(kdl, builders, "KDL import and builders differ");
}
