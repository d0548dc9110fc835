//! Model behaviour: builders, serde round trips and validation cases.

use super::*;

fn meta() -> Metadata {
    Metadata::builder().name("img").version("1.0").build()
}

fn disk(size: &str) -> DiskTarget {
    DiskTarget::builder()
        .disk_size(size.parse().unwrap())
        .build()
}

fn problems(image: &Image) -> Vec<String> {
    match image.validate() {
        Ok(()) => vec![],
        Err(Error::Invalid { problems }) => problems.iter().map(|p| p.to_string()).collect(),
        Err(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn a_complete_image_validates_and_round_trips_through_json() {
    let image = Image::builder()
        .metadata(meta())
        .distro("debian-12".parse().unwrap())
        .content(
            Fragment::builder()
                .repositories(
                    Repositories::builder()
                        .apt_mirrors(vec![
                            AptMirror::with_url("http://deb.example/debian")
                                .suite("bookworm")
                                .build(),
                        ])
                        .build(),
                )
                .packages(vec![PackageSet::of(["systemd", "openssh-server"])])
                .customizations(vec![
                    Customization::builder()
                        .users(vec![User::named("ci").groups(vec!["sudo".into()]).build()])
                        .build(),
                ])
                .overlays(vec![
                    OverlaySet::builder()
                        .actions(vec![
                            Overlay::File(
                                FileOverlay::to("/etc/motd")
                                    .content("hi\n")
                                    .mode(Mode::new(0o644))
                                    .build(),
                            ),
                            Overlay::EnsureDir(EnsureDir::at("/srv").owner("ci").build()),
                            Overlay::RemoveFiles(
                                RemoveFiles::builder()
                                    .patterns(vec!["/etc/ssh/ssh_host_*".into()])
                                    .build(),
                            ),
                        ])
                        .build(),
                ])
                .build(),
        )
        .targets(vec![
            Target::qcow2("disk", disk("8G")),
            Target::oci(
                "ctr",
                OciTarget::builder()
                    .entrypoint(vec!["/bin/sh".into()])
                    .exposed_ports(vec!["22/tcp".into()])
                    .build(),
            ),
            Target::artifact("rootfs"),
        ])
        .build();
    image.validate().unwrap();
    let json = serde_json::to_string(&image).unwrap();
    let back: Image = serde_json::from_str(&json).unwrap();
    assert_eq!(back, image);
    assert!(json.contains("\"disk-size\":\"8G\""), "{json}");
    assert!(json.contains("\"mode\":\"0644\""), "{json}");
}

#[test]
fn validation_reports_every_problem_at_once() {
    let image = Image::builder()
        .metadata(Metadata::builder().name("").version("1").build())
        .distro(Distro::OmniOs)
        .targets(vec![
            Target::qcow2(
                "t",
                DiskTarget::builder()
                    .disk_size(Size::gib(4))
                    .filesystem(FsKind::Ext4)
                    .build(),
            ),
            Target::artifact("t"),
            Target::qcow2(
                "small",
                DiskTarget::builder()
                    .disk_size(Size::mib(100))
                    .bootloader(Bootloader::Grub)
                    .build(),
            ),
        ])
        .content(
            Fragment::builder()
                .overlays(vec![
                    OverlaySet::builder()
                        .actions(vec![Overlay::EnsureDir(
                            EnsureDir::at("relative/dir").build(),
                        )])
                        .build(),
                ])
                .build(),
        )
        .build();
    let found = problems(&image);
    let expect = [
        "the image name is empty",
        "cannot boot from ext4",
        "two targets have this name",
        "bootloader \"grub\" is not available",
        "smaller than the minimum",
        "must be absolute",
    ];
    for e in expect {
        assert!(
            found.iter().any(|p| p.contains(e)),
            "missing `{e}` in {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}

#[test]
fn problems_in_base_and_includes_name_where_they_are() {
    let base = Image::builder()
        .metadata(Metadata::builder().name("base").version("1").build())
        .content(
            Fragment::builder()
                .includes(vec![
                    Fragment::builder()
                        .name("devfs")
                        .overlays(vec![
                            OverlaySet::builder()
                                .actions(vec![Overlay::File(FileOverlay::to("etc/x").build())])
                                .build(),
                        ])
                        .build(),
                ])
                .build(),
        )
        .build();
    let image = Image::builder().metadata(meta()).base(base).build();
    let found = problems(&image);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("base \"base\": include \"devfs\": overlays[0] file"),
        "{found:?}"
    );
}

#[test]
fn apt_only_and_ips_only_settings_are_checked() {
    let image = Image::builder()
        .metadata(meta())
        .distro(Distro::Ubuntu("22.04".into()))
        .content(
            Fragment::builder()
                .repositories(
                    Repositories::builder()
                        .publishers(vec![
                            Publisher::with_name("omnios").origin("https://pkg").build(),
                        ])
                        .build(),
                )
                .build(),
        )
        .targets(vec![Target::qcow2(
            "d",
            DiskTarget::builder()
                .disk_size(Size::gib(8))
                .filesystem(FsKind::Zfs)
                .build(),
        )])
        .build();
    let found = problems(&image);
    assert!(
        found
            .iter()
            .any(|p| p.contains("IPS publishers are set on an APT")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|p| p.contains("no ZFS root support")),
        "{found:?}"
    );
}

#[test]
fn a_4kn_linux_disk_cannot_ask_for_bios_boot() {
    let disk = |bootloader| {
        let image = Image::builder()
            .metadata(meta())
            .distro(Distro::Debian("12".into()))
            .targets(vec![Target::qcow2(
                "d",
                DiskTarget::builder()
                    .disk_size(Size::gib(8))
                    .bootloader(bootloader)
                    .layout(DiskLayout::builder().sector_size(SectorSize::S4096).build())
                    .build(),
            )])
            .build();
        problems(&image)
    };
    for bios in [Bootloader::Bios, Bootloader::Both] {
        let found = disk(bios);
        assert!(
            found.iter().any(|p| p.contains("512-byte sectors")),
            "{bios:?}: {found:?}"
        );
    }
    assert!(disk(Bootloader::Uefi).is_empty());
}

#[test]
fn keywords_parse_case_insensitively_with_aliases() {
    assert_eq!(
        "GRUB-EFI-AMD64-BIN".parse::<Bootloader>().unwrap(),
        Bootloader::Grub
    );
    assert_eq!("zfs".parse::<FsKind>().unwrap(), FsKind::Zfs);
    assert!("btrfs".parse::<FsKind>().is_err());
    assert_eq!("4096".parse::<SectorSize>().unwrap().bytes(), 4096);
    assert!("has space".parse::<Package>().is_err());
}

#[test]
fn pool_defaults_and_properties() {
    let pool = ZfsPool::builder()
        .properties(vec![Property::new("ashift", "9")])
        .build();
    assert_eq!(pool.name, "rpool");
    assert_eq!(pool.property("ashift"), Some("9"));
    let json = serde_json::to_string(&disk("2000M")).unwrap();
    assert_eq!(json, r#"{"disk-size":"2000M"}"#);
}
