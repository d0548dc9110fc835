//! GRUB end to end: one bookworm image with `bootloader "both"` (GRUB linked from the image's
//! own `grub-efi-amd64-bin` and `grub-pc-bin` modules, no chroot) booted from the same disk
//! twice: under OVMF (UEFI, `EFI/BOOT/BOOTX64.EFI`) and under SeaBIOS (QEMU's default
//! firmware: `boot.img` in the MBR, `core.img` in the BIOS boot partition). Each boot must
//! print GRUB's menu entry line, a marker from a unit with the kernel command line GRUB
//! passed (`root=UUID=` of the ext4 root, `console=ttyS0`) and the login prompt on ttyS0.
//! Slow: runs with FORGER_SLOW_TESTS=1. On failure the serial log is kept in the temp dir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use forger::build::{BuildOptions, NoEvents, build};
use forger::model::*;
use forger::plan::PlanOptions;
use forger_workspace::{host_debian_mirror, qemu_vm, run_ok, slow_tests_enabled, watch_console};

const UNIT: &str = "[Unit]
Description=Forger GRUB boot-test marker
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo \"FORGER-GRUB-BOOTED $(cat /proc/cmdline)\"; echo \"FIRMWARE=$(test -d /sys/firmware/efi && echo uefi || echo bios)\"'
StandardOutput=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
";

fn image() -> Image {
    Image::builder()
        .metadata(Metadata::builder().name("grub-boot-test").version("1").build())
        .distro(Distro::Debian("12".into()))
        .content(
            Fragment::builder()
                .repositories(
                    Repositories::builder()
                        .apt_mirrors(vec![
                            AptMirror::with_url(host_debian_mirror())
                                .suite("bookworm")
                                .components(vec!["main".into()])
                                .build(),
                        ])
                        .build(),
                )
                .packages(vec![PackageSet::of([
                    "linux-image-amd64",
                    "systemd-sysv",
                    "udev",
                    "grub-efi-amd64-bin",
                    "grub-pc-bin",
                ])])
                .overlays(vec![
                    OverlaySet::builder()
                        .actions(vec![
                            Overlay::File(
                                FileOverlay::to("/etc/systemd/system/forger-marker.service")
                                    .content(UNIT)
                                    .build(),
                            ),
                            Overlay::EnsureSymlink(
                                EnsureSymlink::at(
                                    "/etc/systemd/system/multi-user.target.wants/forger-marker.service",
                                )
                                .target("/etc/systemd/system/forger-marker.service")
                                .build(),
                            ),
                            Overlay::File(
                                FileOverlay::to("/etc/hostname")
                                    .content("forger-grub\n")
                                    .build(),
                            ),
                        ])
                        .build(),
                ])
                .build(),
        )
        .targets(vec![Target::qcow2(
            "disk",
            DiskTarget::builder()
                .disk_size(Size::gib(2))
                .bootloader(Bootloader::Both)
                .build(),
        )])
        .build()
}

/// Builds without a stage cache: there is one build, and a cache would only double the
/// scratch disk the test needs.
fn build_into(out: &Path) -> PathBuf {
    let options = BuildOptions {
        plan: PlanOptions {
            epoch: 1_700_000_000,
            ..Default::default()
        },
        out_dir: out.to_path_buf(),
        skip_push: true,
        output_name: None,
        rootfs: None,
        cache: None,
        ..Default::default()
    };
    let report = build(&image(), &options, &mut NoEvents).unwrap_or_else(|e| panic!("{e:?}"));
    report.outputs[0].path.clone()
}

/// Boots `disk` (read-only snapshot) under OVMF when `uefi`, else under SeaBIOS, and checks
/// the console.
fn boot(disk: &Path, dir: &Path, uefi: bool) {
    let firmware = if uefi { "uefi" } else { "bios" };
    let mut qemu = qemu_vm(disk, "qcow2", uefi.then_some(dir));
    let markers = [
        "Loading Linux ",
        "FORGER-GRUB-BOOTED",
        &format!("FIRMWARE={firmware}"),
        "login:",
    ];
    let log = watch_console(&mut qemu, &markers, Duration::from_secs(300));
    let keep = std::env::temp_dir().join(format!("forger-grub-boot-{firmware}.log"));
    std::fs::write(&keep, &log.text).unwrap();
    let tail: String = log
        .text
        .chars()
        .skip(log.text.chars().count().saturating_sub(3000))
        .collect();
    assert!(
        log.seen.iter().all(Option::is_some),
        "{firmware}: markers {markers:?} seen at {:?}; serial log kept at {}\n{tail}",
        log.seen,
        keep.display(),
    );
    let line = log
        .text
        .lines()
        .find(|l| l.contains("FORGER-GRUB-BOOTED"))
        .unwrap();
    assert!(
        line.contains(" root=UUID=") && line.contains(" rw console=ttyS0"),
        "{firmware}: {line}"
    );
}

#[test]
fn grub_both_disk_boots_under_ovmf_and_seabios() {
    if !slow_tests_enabled("GRUB boot test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = build_into(&dir.path().join("out"));
    run_ok(Command::new("qemu-img").arg("check").arg(&disk));
    boot(&disk, dir.path(), true);
    boot(&disk, dir.path(), false);
}
