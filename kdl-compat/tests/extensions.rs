//! Every node and property of the language, including the spellings of the model's
//! extensions: decoded into the right fields, and exported back to text that loads equal.

use forger::model::{
    Architecture, Bootloader, Compression, Distro, FsKind, Overlay, PartitionRole, SectorSize,
    Size, TargetKind,
};

const FULL: &str = r##"
metadata name="full" version="2.0" description="every node"
distro "debian-12"
architecture "arm64"
build-host "builder.example"
incorporation "entire"
repositories {
    publisher name="omnios" origin="https://pkg.omnios.org/r151054/core/"
    apt-mirror "http://deb.debian.org/debian" suite="bookworm" components="main contrib"
    apt-mirror "http://deb.debian.org/debian" suite="bookworm-updates"
}
certificates {
    ca publisher="omnios" certfile="certs/ca.pem"
}
variants {
    set name="opensolaris.zone" value="global"
}
facets {
    set name="doc.man" value=#false
}
packages {
    package "openssh-server" "curl"
}
packages if="build" {
    package "build-essential"
}
customization if="dev" {
    user "ci" uid=1000 gid=1001 shell="/bin/bash" home="/srv/ci" create-home=#false password-hash="$6$x" comment="CI \"runner\"" {
        group "sudo" "adm"
        authorized-key "ssh-ed25519 AAAA ci@example"
    }
    user "plain"
}
overlays if="dev" {
    file destination="/etc/motd" content="line one\nline two\ttab \\ back" mode="0600"
    file destination="/etc/hosts" source="etc/hosts" owner="root" group="bin" mode="644"
    ensure-dir "/opt/app" owner="ci" group="ci" mode="2775"
    ensure-symlink "/usr/bin/vi" target="vim"
    remove-files "/a" "/b" file="/c" dir="/var/cache" pattern="/etc/ssh/ssh_host_*"
    shadow username="root" password="$5$abc"
    devfsadm
}
builder {
    image "oci://ghcr.io/example/builder:1"
    binary "https://example.com/forger" sha256="00ff"
    binary "./local-tool"
    vcpus 8
    memory 8192
    disk 40
}
target "disk" kind="QCOW" {
    disk-size "8 GiB"
    bootloader "grub-efi-amd64-bin"
    filesystem "zfs"
    compression "zstd"
    pool name="tank" boot-environment="be1" {
        property name="ashift" value=12
        filesystem-property name="compression" value="lz4"
        dataset "export/home" {
            property name="mountpoint" value="/export/home"
        }
        dataset "scratch"
    }
    layout sector-size=4096 esp-size="512M" {
        partition "esp" role="esp" size="512M"
        partition "root" role="root" type-guid="6A85CF4D-1DD2-11B2-99A6-080020736631"
    }
    push-to "registry.example/full:disk"
}
target "raw" kind="raw" {
    disk-size "1G"
    layout sector-size="4K"
}
target "app" kind="oci" {
    entrypoint "/bin/sh" "-c"
    cmd "echo hi"
    env "PATH" "/usr/bin"
    environment {
        set "LANG" "C.UTF-8"
    }
    workdir "/app"
    user "1000:1000"
    port "80/tcp" "53/udp"
    label "org.example.a" "1"
    annotation "org.opencontainers.image.title" "app"
    compression "none"
}
target "old" kind="oci" {
    entrypoint command="/usr/bin/app"
}
target "rootfs" kind="tar" {
    compression "zstd"
}
"##;

#[test]
fn every_node_decodes_into_its_field() {
    let image = kdl_compat::load_str("full.kdl", FULL).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(image.distro, Some(Distro::Debian("12".into())));
    assert_eq!(image.architecture, Some(Architecture::Arm64));
    assert_eq!(image.build_host.as_deref(), Some("builder.example"));
    let c = &image.content;
    assert_eq!(c.incorporation.as_deref(), Some("entire"));
    assert_eq!(
        c.repositories.apt_mirrors[0].components,
        ["main", "contrib"]
    );
    assert!(c.repositories.apt_mirrors[1].components.is_empty());
    assert!(!c.facets[0].value);
    assert_eq!(c.packages[0].packages.len(), 2);
    let ci = &c.customizations[0].users[0];
    assert_eq!(c.customizations[0].profile.as_deref(), Some("dev"));
    assert_eq!((ci.uid, ci.gid), (Some(1000), Some(1001)));
    assert_eq!(ci.groups, ["sudo", "adm"]);
    assert!(!ci.create_home);
    assert_eq!(ci.comment.as_deref(), Some("CI \"runner\""));
    assert!(c.customizations[0].users[1].create_home);
    let a = &c.overlays[0].actions;
    assert!(
        matches!(&a[0], Overlay::File(f) if f.content.as_deref() == Some("line one\nline two\ttab \\ back") && f.mode.unwrap().bits() == 0o600)
    );
    assert!(matches!(&a[2], Overlay::EnsureDir(d) if d.mode.unwrap().bits() == 0o2775));
    let Overlay::RemoveFiles(r) = &a[4] else {
        panic!("remove-files")
    };
    assert_eq!(r.files, ["/a", "/b", "/c"]);
    assert_eq!(r.dirs, ["/var/cache"]);
    assert_eq!(r.patterns, ["/etc/ssh/ssh_host_*"]);
    assert_eq!(a[6], Overlay::Devfsadm);
    let vm = image.builder_vm.as_ref().unwrap();
    assert_eq!(vm.binaries[0].sha256.as_deref(), Some("00ff"));
    assert_eq!(vm.binaries[1].sha256, None);
    assert_eq!(
        (vm.vcpus, vm.memory_mb, vm.disk_gb),
        (Some(8), Some(8192), Some(40))
    );
    let TargetKind::Qcow2(d) = &image.targets[0].kind else {
        panic!("qcow alias")
    };
    assert_eq!(d.disk_size, Size::gib(8));
    assert_eq!(d.bootloader, Some(Bootloader::Grub));
    assert_eq!(d.filesystem, Some(FsKind::Zfs));
    assert_eq!(d.compression, Some(Compression::Zstd));
    assert_eq!(d.pool.name, "tank");
    assert_eq!(d.pool.property("ashift"), Some("12"));
    assert_eq!(d.pool.datasets[0].properties[0].value, "/export/home");
    assert_eq!(d.layout.sector_size, SectorSize::S4096);
    assert_eq!(d.layout.partitions[1].role, PartitionRole::Root);
    let TargetKind::Raw(raw) = &image.targets[1].kind else {
        panic!("raw")
    };
    assert_eq!(raw.layout.sector_size, SectorSize::S4096);
    let TargetKind::Oci(o) = &image.targets[2].kind else {
        panic!("oci")
    };
    assert_eq!(o.entrypoint, ["/bin/sh", "-c"]);
    assert_eq!(o.env.len(), 2);
    assert_eq!(o.exposed_ports, ["80/tcp", "53/udp"]);
    assert_eq!(o.compression, Compression::None);
    let TargetKind::Oci(old) = &image.targets[3].kind else {
        panic!("oci")
    };
    assert_eq!(
        old.entrypoint,
        ["/usr/bin/app"],
        "command= is a one-element vector"
    );
    assert!(
        matches!(&image.targets[4].kind, TargetKind::Artifact(t) if t.compression == Compression::Zstd)
    );
}

#[test]
fn every_node_round_trips_through_export() {
    let image = kdl_compat::load_str("full.kdl", FULL).unwrap();
    let text = kdl_compat::to_kdl(&image);
    let back = kdl_compat::load_str("full.kdl", &text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    assert_eq!(image, back, "{text}");
    // Exporting the re-import gives the same text: the layout is stable.
    assert_eq!(kdl_compat::to_kdl(&back), text);
}

#[test]
fn strange_strings_survive_export() {
    let mut image = kdl_compat::load_str("s.kdl", "metadata name=\"s\" version=\"1\"").unwrap();
    image.metadata.description = Some(
        "quote \" back \\ nl \n cr \r nul \u{0} bom \u{feff} rtl \u{202e} é 😀 #\"x\"#".into(),
    );
    let text = kdl_compat::to_kdl(&image);
    let back = kdl_compat::load_str("s.kdl", &text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    assert_eq!(image, back);
}
