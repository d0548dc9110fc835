//! `kdl_compat::codegen::to_rust`: a model covering every construct, built with the bon
//! builders, is turned into DSL source; the source is compared with the reviewed file
//! `tests/codegen/generated.rs` (rewrite it with `FORGER_BLESS=1`), and that file is
//! compiled into this test and must yield a model equal to the original.

use forger::model::*;

#[path = "codegen/generated.rs"]
#[allow(dead_code)]
mod generated;

const GENERATED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/codegen/generated.rs");

fn overlay_actions() -> Vec<Overlay> {
    vec![
        Overlay::Devfsadm,
        Overlay::EnsureDir(
            EnsureDir::at("/dev/cfg")
                .owner("root")
                .group("sys")
                .mode(Mode::new(0o755))
                .build(),
        ),
        Overlay::EnsureDir(EnsureDir::at("/srv").build()),
        Overlay::RemoveFiles(
            RemoveFiles::builder()
                .files(vec!["/a".into(), "/b".into()])
                .dirs(vec!["/dev/cfg".into(), "/dev/dsk".into()])
                .patterns(vec!["/etc/ssh/ssh_host_*".into()])
                .build(),
        ),
        Overlay::EnsureSymlink(
            EnsureSymlink::at("/dev/msglog")
                .target("../devices/pseudo/sysmsg@0:msglog")
                .owner("root")
                .group("root")
                .build(),
        ),
        Overlay::File(
            FileOverlay::to("/etc/hosts")
                .source("etc/hosts")
                .owner("root")
                .group("root")
                .mode(Mode::new(0o644))
                .build(),
        ),
        Overlay::File(
            FileOverlay::to("/etc/motd")
                .content("quote \" and newline\n and $dollar")
                .mode(Mode::new(0o4755))
                .build(),
        ),
        Overlay::File(FileOverlay::to("/reconfigure").build()),
        Overlay::Shadow(Shadow {
            username: "root".into(),
            password: "$5$kr1VgdIt$OUiUAyZC".into(),
        }),
    ]
}

fn devfs() -> Fragment {
    Fragment::builder()
        .name("/specs/devfs.kdl")
        .base_dir("/specs")
        .overlays(vec![
            OverlaySet::builder().actions(overlay_actions()).build(),
        ])
        .build()
}

fn common() -> Fragment {
    Fragment::builder()
        .name("/specs/common.kdl")
        .base_dir("/specs")
        .includes(vec![devfs()])
        .facets(vec![
            Facet::new("doc.man", false),
            Facet::new("locale.de", true),
        ])
        .build()
}

fn unnamed() -> Fragment {
    Fragment::builder()
        .packages(vec![PackageSet::of(["curl"])])
        .build()
}

fn base() -> Image {
    Image::builder()
        .metadata(
            Metadata::builder()
                .name("omnios-bloody-base")
                .version("0.0.1")
                .description("base")
                .build(),
        )
        .distro(Distro::OmniOs)
        .content(
            Fragment::builder()
                .base_dir("/specs")
                .incorporation("entire")
                .repositories(
                    Repositories::builder()
                        .publishers(vec![
                            Publisher::with_name("omnios")
                                .origin("https://pkg.omnios.org/bloody/core/")
                                .build(),
                            Publisher::with_name("extra.omnios")
                                .origin("https://pkg.omnios.org/bloody/extra/")
                                .build(),
                        ])
                        .build(),
                )
                .certificates(vec![
                    Certificate::builder()
                        .publisher("omnios")
                        .certfile("omniosce-ca.cert.pem")
                        .build(),
                ])
                .variants(vec![Variant::new("opensolaris.zone", "global")])
                .includes(vec![devfs()])
                .packages(vec![
                    PackageSet::of(["/editor/vim", "/network/rsync"]),
                    PackageSet::builder()
                        .profile("build")
                        .packages(vec!["/developer/build-essential".parse().unwrap()])
                        .build(),
                ])
                .build(),
        )
        .targets(vec![Target::qcow2(
            "base-disk",
            DiskTarget::builder().disk_size(Size::gib(2)).build(),
        )])
        .build()
}

/// Every construct of the model at least once.
fn model() -> Image {
    Image::builder()
        .metadata(
            Metadata::builder()
                .name("everything")
                .version("1.2.3")
                .build(),
        )
        .distro(Distro::OmniOs)
        .architecture(Architecture::Amd64)
        .base(base())
        .build_host("builder.example")
        .content(
            Fragment::builder()
                .name("/specs/everything.kdl")
                .includes(vec![common(), devfs(), unnamed()])
                .repositories(
                    Repositories::builder()
                        .apt_mirrors(vec![
                            AptMirror::with_url("http://deb.debian.org/debian")
                                .suite("bookworm")
                                .components(vec!["main".into(), "contrib".into()])
                                .build(),
                            AptMirror::with_url("http://deb.debian.org/debian-security")
                                .suite("bookworm-security")
                                .build(),
                        ])
                        .build(),
                )
                .packages(vec![PackageSet::builder().build()])
                .customizations(vec![
                    Customization::builder()
                        .profile("dev")
                        .users(vec![
                            User::named("ci")
                                .uid(1000)
                                .gid(1000)
                                .groups(vec!["staff".into(), "adm".into()])
                                .shell("/bin/bash")
                                .home("/export/home/ci")
                                .create_home(false)
                                .authorized_keys(vec!["ssh-ed25519 AAAA ci@example".into()])
                                .password_hash("$6$salt$hash")
                                .comment("CI user")
                                .build(),
                            User::new("plain"),
                        ])
                        .build(),
                ])
                .overlays(vec![
                    OverlaySet::builder()
                        .profile("debug")
                        .base_dir("/elsewhere")
                        .actions(overlay_actions())
                        .build(),
                ])
                .build(),
        )
        .targets(vec![
            Target::named("qcow2")
                .kind(TargetKind::Qcow2(
                    DiskTarget::builder()
                        .disk_size(Size::mib(4000))
                        .bootloader(Bootloader::Uefi)
                        .filesystem(FsKind::Zfs)
                        .compression(Compression::Zstd)
                        .pool(
                            ZfsPool::builder()
                                .name("tank")
                                .boot_environment("be")
                                .properties(vec![Property::new("ashift", "12")])
                                .filesystem_properties(vec![Property::new("compression", "lz4")])
                                .datasets(vec![
                                    Dataset::named("export")
                                        .properties(vec![Property::new("mountpoint", "/export")])
                                        .build(),
                                    Dataset::named("export/home").build(),
                                ])
                                .build(),
                        )
                        .layout(
                            DiskLayout::builder()
                                .sector_size(SectorSize::S4096)
                                .esp_size(Size::mib(256))
                                .partitions(vec![
                                    PartitionSpec::named("esp")
                                        .role(PartitionRole::Esp)
                                        .size(Size::mib(256))
                                        .build(),
                                    PartitionSpec::named("bios")
                                        .role(PartitionRole::BiosBoot)
                                        .size(Size::kib(1024))
                                        .type_guid("21686148-6449-6E6F-744E-656564454649")
                                        .build(),
                                    PartitionSpec::named("spare")
                                        .role(PartitionRole::Empty)
                                        .size(Size::bytes(1536 * 512))
                                        .build(),
                                    PartitionSpec::named("root")
                                        .role(PartitionRole::Root)
                                        .build(),
                                ])
                                .build(),
                        )
                        .build(),
                ))
                .push_to("ghcr.io/example/everything:latest")
                .build(),
            Target::raw(
                "raw",
                DiskTarget::builder()
                    .disk_size(Size::gib(1))
                    .bootloader(Bootloader::Both)
                    .build(),
            ),
            Target::named("ctr")
                .kind(TargetKind::Oci(
                    OciTarget::builder()
                        .entrypoint(vec!["/bin/sh".into(), "-c".into()])
                        .cmd(vec!["echo hi".into()])
                        .env(vec![EnvVar::new("PATH", "/usr/bin"), EnvVar::new("A", "b")])
                        .working_dir("/")
                        .user("0:0")
                        .labels(
                            [
                                ("a".to_owned(), "1".to_owned()),
                                ("b".to_owned(), "2".to_owned()),
                            ]
                            .into(),
                        )
                        .annotations([("c".to_owned(), "3".to_owned())].into())
                        .exposed_ports(vec!["22/tcp".into(), "53/udp".into()])
                        .compression(Compression::None)
                        .build(),
                ))
                .push_to("localhost:5000/ctr:1")
                .build(),
            Target::named("rootfs")
                .kind(TargetKind::Artifact(
                    ArtifactTarget::builder()
                        .compression(Compression::Zstd)
                        .build(),
                ))
                .build(),
            Target::artifact("plain"),
        ])
        .builder_vm(
            BuilderVm::builder()
                .image("oci://ghcr.io/example/builder:1")
                .binaries(vec![
                    Binary {
                        source: "oci://ghcr.io/example/tool:1".into(),
                        sha256: Some("00ff".into()),
                    },
                    Binary {
                        source: "/usr/bin/true".into(),
                        sha256: None,
                    },
                ])
                .vcpus(4)
                .memory_mb(4096)
                .disk_gb(20)
                .build(),
        )
        .build()
}

#[test]
fn codegen_output_matches_the_reviewed_file() {
    let source = kdl_compat::codegen::to_rust(&model());
    if std::env::var_os("FORGER_BLESS").is_some() {
        std::fs::write(GENERATED, &source).expect("write the generated file");
    }
    let expected = std::fs::read_to_string(GENERATED).expect("read the generated file");
    assert_eq!(
        source, expected,
        "the generated DSL changed; review it and rerun with FORGER_BLESS=1"
    );
}

#[test]
fn codegen_output_compiles_to_an_equal_model() {
    assert_eq!(generated::image(), model());
}
