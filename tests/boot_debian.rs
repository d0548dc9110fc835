//! Debian end to end: an APT payload (mmdebstrap), users and overlays, an ext4 root and a
//! systemd-boot ESP assembled into a QCOW2 by Forger, booted in QEMU with OVMF. A unit from
//! an overlay prints a marker, `id` of the test user and the overlay file's owner and mode to
//! the serial console; the test waits for them and for the login prompt. A second build with
//! the same package cache must give byte-identical QCOW2. Slow: runs with FORGER_SLOW_TESTS=1.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use forger::build::{BuildOptions, NoEvents, build};
use forger::cache::Cache;
use forger::model::*;
use forger::plan::PlanOptions;
use forger_workspace::{host_debian_mirror, qemu_vm, run_ok, slow_tests_enabled, watch_console};

const UNIT: &str = "[Unit]
Description=Forger boot-test marker
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo FORGER-MARKER-BOOTED; echo \"ID=$(id testuser)\"; echo \"OWN=$(stat -c \"%%U:%%G %%a\" /etc/forger-overlay.txt)\"; echo \"SH=$(getent shadow testuser | cut -d: -f2 | cut -c1-12)\"'
StandardOutput=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
";

fn image() -> Image {
    Image::builder()
        .metadata(Metadata::builder().name("debian-boot-test").version("1").build())
        .distro(Distro::Debian("12".into()))
        .content(
            Fragment::builder()
                .repositories(Repositories::builder()
                    .apt_mirrors(vec![AptMirror::with_url(host_debian_mirror()).suite("bookworm").components(vec!["main".into()]).build()])
                    .build())
                .packages(vec![PackageSet::of(["linux-image-amd64", "systemd-sysv", "udev", "systemd-boot-efi"])])
                .customizations(vec![Customization::builder()
                    .users(vec![User::named("testuser")
                        .uid(1500)
                        .groups(vec!["adm".into()])
                        .password_hash("$6$forger$K0UvU3eTPUqzNc0fy1aCSkVpBdZBAkxn1bmSLR1Cy8ZUrxCtvbxkBuOnWdtyaAwmqIZ3JXQRiM2uGbRkHcKLl.")
                        .build()])
                    .build()])
                .overlays(vec![OverlaySet::builder()
                    .actions(vec![
                        Overlay::File(FileOverlay::to("/etc/forger-overlay.txt").content("overlay\n").owner("testuser").group("adm").mode("640".parse().unwrap()).build()),
                        Overlay::File(FileOverlay::to("/etc/systemd/system/forger-marker.service").content(UNIT).build()),
                        Overlay::EnsureSymlink(EnsureSymlink::at("/etc/systemd/system/multi-user.target.wants/forger-marker.service")
                            .target("/etc/systemd/system/forger-marker.service").build()),
                        Overlay::File(FileOverlay::to("/etc/hostname").content("forger-test\n").build()),
                    ])
                    .build()])
                .build(),
        )
        .targets(vec![Target::qcow2("disk", DiskTarget::builder().disk_size(Size::gib(2)).build())])
        .build()
}

fn build_into(out: &Path, cache: &Path) -> std::path::PathBuf {
    let options = BuildOptions {
        plan: PlanOptions {
            epoch: 1_700_000_000,
            ..Default::default()
        },
        out_dir: out.to_path_buf(),
        skip_push: true,
        output_name: None,
        rootfs: None,
        cache: Some(Cache::new(cache)),
        ..Default::default()
    };
    let report = build(&image(), &options, &mut NoEvents).unwrap_or_else(|e| panic!("{e:?}"));
    report.outputs[0].path.clone()
}

#[test]
fn debian_qcow2_boots_with_overlays_and_users_and_rebuilds_identically() {
    if !slow_tests_enabled("debian boot test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache_a = dir.path().join("cache-a");
    let qcow2 = build_into(&dir.path().join("out-a"), &cache_a);
    run_ok(Command::new("qemu-img").arg("check").arg(&qcow2));
    // Only the downloaded packages are shared; the stage entries would only take disk.
    Cache::new(&cache_a).prune(0).unwrap();

    // A fresh stage cache that shares only the downloaded packages: every stage runs again.
    let cache_b = dir.path().join("cache-b");
    std::fs::create_dir_all(&cache_b).unwrap();
    std::os::unix::fs::symlink(cache_a.join("apt-archives"), cache_b.join("apt-archives")).unwrap();
    let again = build_into(&dir.path().join("out-b"), &cache_b);
    Cache::new(&cache_b).prune(0).unwrap();
    let same = Command::new("cmp")
        .arg(&qcow2)
        .arg(&again)
        .status()
        .unwrap();
    assert!(
        same.success(),
        "two builds with the same package cache differ"
    );
    std::fs::remove_file(&again).unwrap();

    let mut qemu = qemu_vm(&qcow2, "qcow2", Some(dir.path()));
    let markers = ["FORGER-MARKER-BOOTED", "OWN=", "login:"];
    let log = watch_console(&mut qemu, &markers, Duration::from_secs(280));
    let keep = std::env::temp_dir().join("forger-debian-boot.log");
    std::fs::write(&keep, &log.text).unwrap();
    assert!(
        log.seen.iter().all(Option::is_some),
        "markers {markers:?} seen at {:?}; serial log kept at {}\n{}",
        log.seen,
        keep.display(),
        &log.text[log.text.len().saturating_sub(3000)..]
    );
    assert!(
        log.text
            .contains("ID=uid=1500(testuser) gid=1500(testuser) groups=1500(testuser),4(adm)"),
        "{}",
        log.text
    );
    assert!(log.text.contains("OWN=testuser:adm 640"), "{}", log.text);
    assert!(log.text.contains("SH=$6$forger$K0"), "{}", log.text);
}
