//! The Debian bookworm CI image: the Debian counterpart of the corpus spec
//! `ubuntu-rust-ci.kdl` (APT from deb.debian.org, a `ci` user with a home, systemd and the
//! Debian kernel booted by systemd-boot, SSH), written to an 8G QCOW2 with ext4 and to a
//! tarball.
//!
//! `cargo run --example debian-ci -- build --skip-push` builds both targets into `out/`;
//! `-- inspect`, `-- plan --json` and `-- validate` show what would be built.

use forger::model::Image;

/// The image.
pub fn image() -> Image {
    forger::image! {
        metadata name="debian-rust-ci" version="0.1.0" description="Debian 12 CI image with Rust"

        distro "debian-12"

        repositories {
            apt-mirror "http://deb.debian.org/debian" suite="bookworm" components="main"
        }

        packages {
            package "systemd"
            package "systemd-sysv"
            package "udev"
            package "sudo"
            package "linux-image-amd64"
            package "systemd-boot-efi"
            package "openssh-server"
            package "build-essential"
            package "pkg-config"
            package "curl"
            package "git"
            package "ca-certificates"
            package "rustc"
            package "cargo"
            package "libssl-dev"
            package "cloud-init"
        }

        customization {
            user "ci" shell="/bin/bash" home="/home/ci" create-home=true {
                groups "sudo"
            }
        }

        overlays {
            shadow username="root" password="$5$kr1VgdIt$OUiUAyZCDogH/uaxH71rMeQxvpDEY2yX.x0ZQRnmeb9"
            ensure-dir "/home/ci" owner="ci" group="ci" mode="755"
        }

        builder {
            vcpus 4
            memory 4096
        }

        target "qcow2" kind="qcow2" {
            disk-size "8G"
            bootloader "uefi"
            filesystem "ext4"
            push-to "ghcr.io/cloudnebulaproject/debian-rust:latest"
        }

        target "rootfs" kind="artifact"
    }
}

fn main() -> forger::Result<()> {
    forger::run(image())
}
