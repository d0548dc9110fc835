//! Linux boot files from a synthetic staged tree: the systemd-boot ESP file list (loader from
//! the image, newest kernel with an initrd, loader.conf, entry with `root=UUID=`) and
//! `/etc/fstab`, which util-linux's `findmnt --verify` must parse.

use std::process::Command;

use forger::boot::{Error, FstabEntry, LinuxBoot, find_kernel, write_fstab};
use forger::fs::EspSource;
use forger::stage::{Entry, EntryKind, StagePath, StagingTree};

use crate::util::run;

fn p(s: &str) -> StagePath {
    StagePath::new(s).expect("valid path")
}

fn file(t: &mut StagingTree, path: &str, bytes: &[u8]) {
    let path = p(path);
    if let Some(parent) = path.parent() {
        t.ensure_dir(&parent, 0, 0, 0o755).expect("parent");
    }
    t.write_file(&path, &mut &bytes[..], Entry::file(0, 0, 0o644))
        .expect("file");
}

fn debian_like_tree(root: &std::path::Path) -> StagingTree {
    let mut t = StagingTree::create(root).expect("tree");
    file(
        &mut t,
        "/usr/lib/systemd/boot/efi/systemd-bootx64.efi",
        b"MZ loader",
    );
    file(&mut t, "/boot/vmlinuz-6.1.0-9-amd64", b"kernel 9");
    file(&mut t, "/boot/initrd.img-6.1.0-9-amd64", b"initrd 9");
    file(&mut t, "/boot/vmlinuz-6.1.0-10-amd64", b"kernel 10");
    file(&mut t, "/boot/initrd.img-6.1.0-10-amd64", b"initrd 10");
    file(&mut t, "/boot/config-6.1.0-10-amd64", b"CONFIG_X=y");
    // A newer kernel without an initrd is not bootable and must be passed over.
    file(&mut t, "/boot/vmlinuz-6.1.0-11-amd64", b"kernel 11");
    // Debian's /vmlinuz symlink and merged /usr: /lib -> usr/lib.
    for (path, target) in [
        ("/vmlinuz", "boot/vmlinuz-6.1.0-10-amd64"),
        ("/lib", "usr/lib"),
    ] {
        t.add_special(
            &p(path),
            Entry::new(
                EntryKind::Symlink {
                    target: target.into(),
                },
                0,
                0,
                0o777,
            ),
        )
        .expect("symlink");
    }
    t
}

#[test]
fn linux_boot_esp_files_for_systemd_boot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = debian_like_tree(&dir.path().join("stage"));
    let uuid = "0b4f5e2c-1111-4222-8333-444455556666";
    let mut boot = LinuxBoot::new("debian", uuid);
    boot.title = "Debian GNU/Linux 12".into();
    boot.cmdline.push("panic=-1".into());
    let files = boot.esp_files(&tree).expect("esp files");
    let listing: Vec<(&str, String)> = files
        .iter()
        .map(|f| {
            let src = match &f.source {
                EspSource::Staged(p) => format!("staged {p}"),
                EspSource::Host(h) => format!("host {}", h.display()),
                EspSource::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            };
            (f.path.as_str(), src)
        })
        .collect();
    let expected: Vec<(&str, String)> = vec![
        (
            "EFI/BOOT/BOOTX64.EFI",
            "staged /usr/lib/systemd/boot/efi/systemd-bootx64.efi".into(),
        ),
        (
            "debian/6.1.0-10-amd64/linux",
            "staged /boot/vmlinuz-6.1.0-10-amd64".into(),
        ),
        (
            "debian/6.1.0-10-amd64/initrd",
            "staged /boot/initrd.img-6.1.0-10-amd64".into(),
        ),
        (
            "loader/loader.conf",
            "default debian.conf\ntimeout 0\nconsole-mode keep\neditor no\n".into(),
        ),
        (
            "loader/entries/debian.conf",
            format!(
                "title Debian GNU/Linux 12\nversion 6.1.0-10-amd64\n\
                 linux /debian/6.1.0-10-amd64/linux\ninitrd /debian/6.1.0-10-amd64/initrd\n\
                 options root=UUID={uuid} rw console=ttyS0 panic=-1\n"
            ),
        ),
    ];
    assert_eq!(listing, expected);
    // Every staged source is readable through the staging tree.
    for f in &files {
        if let EspSource::Staged(path) = &f.source {
            tree.open_file(path).expect("staged ESP source is a file");
        }
    }
    let k = find_kernel(&tree.manifest).expect("kernel");
    assert_eq!(k.version, "6.1.0-10-amd64");
}

#[test]
fn linux_boot_missing_pieces_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tree = debian_like_tree(&dir.path().join("stage"));
    let boot = LinuxBoot::new("debian", "0b4f5e2c-1111-4222-8333-444455556666");
    tree.remove(&p("/usr/lib/systemd/boot/efi/systemd-bootx64.efi"))
        .expect("remove loader");
    let err = boot.esp_files(&tree).expect_err("no loader");
    assert!(matches!(err, Error::NoLoader { .. }), "{err:?}");
    tree.remove(&p("/boot")).expect("remove /boot");
    file(
        &mut tree,
        "/usr/lib/systemd/boot/efi/systemd-bootx64.efi",
        b"MZ",
    );
    file(&mut tree, "/boot/vmlinuz-6.1.0-10-amd64", b"kernel");
    match boot.esp_files(&tree) {
        Err(Error::NoKernel { found }) => assert_eq!(found, "vmlinuz-6.1.0-10-amd64"),
        other => panic!("expected NoKernel, got {other:?}"),
    }
    let bad = LinuxBoot::new("deb ian", "x");
    assert!(matches!(bad.esp_files(&tree), Err(Error::BadConfig { .. })));
}

#[test]
fn linux_boot_fstab_parses_with_findmnt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tree = debian_like_tree(&dir.path().join("stage"));
    let uuid = "0b4f5e2c-1111-4222-8333-444455556666";
    write_fstab(
        &mut tree,
        &[
            FstabEntry::ext4_root(uuid),
            FstabEntry::esp(0x145A_E072, "/boot/efi"),
        ],
        1_700_000_000,
    )
    .expect("fstab");
    let fstab = p("/etc/fstab");
    let e = tree.manifest.get(&fstab).expect("fstab entry");
    assert_eq!(
        (e.uid, e.gid, e.mode, e.mtime),
        (0, 0, 0o644, 1_700_000_000)
    );
    let host = tree.host_path(&fstab);

    let out = run(Command::new("findmnt")
        .args([
            "-J",
            "-o",
            "SOURCE,TARGET,FSTYPE,OPTIONS,PASSNO",
            "--tab-file",
        ])
        .arg(&host));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "findmnt -J output is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let rows = json["filesystems"].as_array().expect("filesystems");
    let flat: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            let mut v = vec![r.clone()];
            v.extend(r["children"].as_array().cloned().unwrap_or_default());
            v
        })
        .map(|r| {
            format!(
                "{} {} {} {} {}",
                r["source"].as_str().unwrap_or("?"),
                r["target"].as_str().unwrap_or("?"),
                r["fstype"].as_str().unwrap_or("?"),
                r["options"].as_str().unwrap_or("?"),
                r["passno"]
            )
        })
        .collect();
    assert_eq!(
        flat,
        [
            format!("UUID={uuid} / ext4 errors=remount-ro 1"),
            "UUID=145A-E072 /boot/efi vfat umask=0077 2".to_owned()
        ]
    );
    // --verify parses every line; on this host the UUIDs do not exist, which is its only
    // complaint ("unreachable on boot required source/target").
    let out = run(Command::new("findmnt")
        .args(["--verify", "--tab-file"])
        .arg(&host));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("0 parse errors"), "{text}");
    for line in text.lines().filter(|l| l.contains("[E]")) {
        assert!(line.contains("unreachable on boot required"), "{text}");
    }
}
