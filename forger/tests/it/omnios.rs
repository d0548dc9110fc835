//! OmniOS end to end, offline: a fixture IPS repository (exact pkg5 v4 layout) → the native
//! client installs it → overlays → the OmniOS finishing steps (boot archive, /dev skeleton,
//! first-boot services) → a raw disk with the illumos layout, a FAT ESP holding the loader
//! and a ZFS pool written by Forger. Checked with sfdisk, zdb (labels, leaks, files in
//! `rpool/ROOT/omnios`), isoinfo (the boot archive) and mtools (the ESP).

use std::path::Path;
use std::process::Command;

use forger::build::{BuildOptions, NoEvents, build};
use forger::model::*;
use forger::plan::PlanOptions;

use crate::ips_fixture::{RepoBuilder, file, raw};
use crate::util::{run, run_ok};

const TS: &str = "20250101T000000Z";
const LOADER: &[u8] = b"MZ fake illumos loader64.efi for the ESP test";

fn repo(root: &Path) {
    let mut r = RepoBuilder::new(root, "omnios");
    let d = |p: &str, g: &str| raw(&format!("dir group={g} mode=0755 owner=root path={p}"));
    r.add(
        "SUNWcs",
        &format!("0.5.11,5.11-151054.0:{TS}"),
        vec![
            d("etc", "sys"),
            d("etc/svc", "sys"),
            d("etc/svc/profile", "sys"),
            d("etc/default", "sys"),
            d("usr", "sys"),
            d("usr/bin", "bin"),
            file("etc/passwd", "0644", "root", "sys", "preserve=true",
                b"root:x:0:0:Super-User:/root:/usr/bin/bash\ndaemon:x:1:1::/:\nbin:x:2:2::/usr/bin:\nsys:x:3:3::/:\n"),
            file("etc/shadow", "0400", "root", "sys", "preserve=true", b"root:$5$abc:6445::::::\n"),
            file("etc/group", "0644", "root", "sys", "preserve=true", b"root::0:\nother::1:root\nbin::2:root\nsys::3:root\n"),
            file("etc/system", "0644", "root", "sys", "", b"* kernel tunables\n"),
            file("usr/bin/true", "0555", "root", "bin", "", b"#!/bin/sh\nexit 0\n"),
        ],
    );
    r.add(
        "system/boot/loader",
        &format!("1.1,5.11-151054.0:{TS}"),
        vec![
            d("boot", "sys"),
            d("boot/solaris", "sys"),
            file("boot/loader64.efi", "0444", "root", "sys", "", LOADER),
            file(
                "boot/loader32.efi",
                "0444",
                "root",
                "sys",
                "",
                b"MZ fake loader32.efi",
            ),
            file(
                "boot/solaris/filelist.ramdisk",
                "0644",
                "root",
                "sys",
                "",
                b"etc/system\nkernel\n",
            ),
        ],
    );
    r.add(
        "system/kernel",
        &format!("0.5.11,5.11-151054.0:{TS}"),
        vec![
            d("kernel", "sys"),
            d("kernel/drv", "sys"),
            file(
                "kernel/drv/vioblk.conf",
                "0644",
                "root",
                "sys",
                "",
                b"# vioblk\n",
            ),
            raw("depend fmri=SUNWcs type=require"),
        ],
    );
    r.finish();
}

fn image(repo: &Path, files: &Path) -> Image {
    Image::builder()
        .metadata(Metadata::builder().name("omnios-e2e").version("1").build())
        .distro(Distro::OmniOs)
        .content(
            Fragment::builder()
                .base_dir(files)
                .repositories(
                    Repositories::builder()
                        .publishers(vec![
                            Publisher::with_name("omnios")
                                .origin(format!("file://{}", repo.display()))
                                .build(),
                        ])
                        .build(),
                )
                .variants(vec![Variant::new("opensolaris.zone", "global")])
                .packages(vec![PackageSet::of([
                    "SUNWcs",
                    "system/boot/loader",
                    "system/kernel",
                ])])
                .overlays(vec![
                    OverlaySet::builder()
                        .actions(vec![
                            Overlay::Devfsadm,
                            Overlay::EnsureSymlink(
                                EnsureSymlink::at("/etc/svc/profile/generic.xml")
                                    .target("generic_limited_net.xml")
                                    .owner("root")
                                    .group("root")
                                    .build(),
                            ),
                            Overlay::File(
                                FileOverlay::to("/etc/default/init")
                                    .source("init")
                                    .owner("root")
                                    .group("sys")
                                    .mode("644".parse().unwrap())
                                    .build(),
                            ),
                            Overlay::Shadow(Shadow {
                                username: "root".into(),
                                password: "$5$kr1VgdIt$OUiU".into(),
                            }),
                        ])
                        .build(),
                ])
                .build(),
        )
        .targets(vec![Target::raw(
            "disk",
            DiskTarget::builder()
                .disk_size(Size::mib(512))
                .pool(
                    ZfsPool::builder()
                        .properties(vec![Property::new("ashift", "12")])
                        .build(),
                )
                .build(),
        )])
        .build()
}

#[test]
fn omnios_fixture_repo_to_a_zfs_disk_that_zdb_and_isoinfo_accept() {
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("repo");
    repo(&repo_dir);
    let files = dir.path().join("spec");
    std::fs::create_dir_all(files.join("files")).unwrap();
    std::fs::write(files.join("files/init"), "TZ=UTC\n").unwrap();
    let options = BuildOptions {
        plan: PlanOptions {
            epoch: 1_700_000_000,
            ..Default::default()
        },
        out_dir: dir.path().join("out"),
        skip_push: true,
        output_name: None,
        rootfs: None,
        cache: None,
        push: Default::default(),
        ips_client: forger::payload::ips::IpsClient::Native,
    };
    let report = build(&image(&repo_dir, &files), &options, &mut NoEvents)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let disk = &report.outputs[0].path;

    // The ZFS partition, as sfdisk sees it, copied out for zdb (which scans whole devices).
    let table: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new("sfdisk").arg("-J").arg(disk))).unwrap();
    let parts = table["partitiontable"]["partitions"].as_array().unwrap();
    let zfs = parts
        .iter()
        .find(|p| p["name"] == "zfs")
        .expect("a zfs partition");
    let esp = parts
        .iter()
        .find(|p| p["name"] == "loader")
        .expect("an ESP named loader");
    assert_eq!(esp["start"], 256);
    let pool = dir.path().join("pool.img");
    run_ok(
        Command::new("dd")
            .arg(format!("if={}", disk.display()))
            .arg(format!("of={}", pool.display()))
            .arg("bs=512")
            .arg(format!("skip={}", zfs["start"]))
            .arg(format!("count={}", zfs["size"]))
            .arg("conv=sparse")
            .arg("status=none"),
    );

    let labels = run_ok(Command::new("zdb").arg("-l").arg(&pool));
    assert!(
        labels.contains("name: 'rpool'") && !labels.contains("Bad label cksum"),
        "{labels}"
    );
    let leaks = run(Command::new("zdb")
        .args(["-e", "-p"])
        .arg(&pool)
        .args(["-bcc", "rpool"]));
    let text = String::from_utf8_lossy(&leaks.stdout);
    assert!(
        leaks.status.success() && text.contains("No leaks"),
        "{text}\n{}",
        String::from_utf8_lossy(&leaks.stderr)
    );

    let read = |path: &str| -> Vec<u8> {
        let out = dir.path().join("read.out");
        run_ok(
            Command::new("zdb")
                .args(["-e", "-p"])
                .arg(&pool)
                .args(["-r", "rpool/ROOT/omnios", path.trim_start_matches('/')])
                .arg(&out),
        );
        std::fs::read(&out).unwrap()
    };
    assert_eq!(read("/usr/bin/true"), b"#!/bin/sh\nexit 0\n");
    assert_eq!(read("/etc/default/init"), b"TZ=UTC\n");
    assert!(
        String::from_utf8(read("/etc/shadow"))
            .unwrap()
            .starts_with("root:$5$kr1VgdIt$OUiU:")
    );
    let pkg_installed = run_ok(Command::new("zdb").args(["-e", "-p"]).arg(&pool).args([
        "-O",
        "rpool/ROOT/omnios",
        "var/pkg/pkg5.image",
    ]));
    assert!(pkg_installed.contains("ZFS plain file"), "{pkg_installed}");

    // The boot archive is an ISO9660 image holding the files the filelist names.
    let archive = dir.path().join("boot_archive");
    std::fs::write(&archive, read("/platform/i86pc/amd64/boot_archive")).unwrap();
    let listing = run_ok(
        Command::new("isoinfo")
            .args(["-R", "-f", "-i"])
            .arg(&archive),
    );
    assert!(
        listing.contains("/etc/system") && listing.contains("/kernel/drv/vioblk.conf"),
        "{listing}"
    );

    // The ESP holds the image's loader as the removable-media boot file.
    let offset = esp["start"].as_u64().unwrap() * 512;
    let efi = run_ok(
        Command::new("mtype")
            .env("MTOOLS_SKIP_CHECK", "1")
            .arg("-i")
            .arg(format!("{}@@{offset}", disk.display()))
            .arg("::/EFI/BOOT/BOOTX64.EFI"),
    );
    assert_eq!(efi.as_bytes(), LOADER);
}
