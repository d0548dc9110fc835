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

/// The three building blocks together, with external tools standing in for the disk layer:
/// mmdebstrap (kernel, systemd, systemd-boot-efi) → ext4 by [`Ext4Writer`] → ESP files by
/// [`LinuxBoot`] copied with mtools → GPT by sfdisk → OVMF + QEMU (TCG) must reach `login:`.
#[test]
fn linux_boot_debian_image_boots_in_qemu() {
    use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use forger::fs::ext4::Ext4Writer;
    use forger::payload::apt::{AptMirror, AptPayload, AptVariant};
    use forger::seed::Seed;

    if std::env::var_os("FORGER_SLOW_TESTS").is_none_or(|v| v != "1") {
        eprintln!("skipped: set FORGER_SLOW_TESTS=1 to bootstrap and boot a Debian image");
        return;
    }
    const MIB: u64 = 1 << 20;
    let (esp_start, esp_len, root_start, root_len) = (MIB, 128 * MIB, 129 * MIB, 1400 * MIB);
    let dir = tempfile::tempdir().expect("tempdir");
    let mirror = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
        .expect("debian.sources")
        .lines()
        .find_map(|l| l.strip_prefix("URIs:").map(|u| u.trim().to_owned()))
        .expect("URIs:");

    let t = Instant::now();
    let mut tree = StagingTree::create(dir.path().join("stage")).expect("tree");
    let mut payload = AptPayload::debian("bookworm");
    payload.mirrors = vec![AptMirror::new(&mirror, "bookworm", &["main"])];
    payload.variant = AptVariant::Apt;
    payload.packages = [
        "linux-image-amd64",
        "systemd-sysv",
        "udev",
        "systemd-boot-efi",
    ]
    .map(String::from)
    .to_vec();
    payload.source_date_epoch = Some(1_700_000_000);
    payload.install(&mut tree).expect("mmdebstrap");
    eprintln!(
        "mmdebstrap: {:?}, {} entries",
        t.elapsed(),
        tree.manifest.len()
    );

    let seed = Seed::new("linux-boot-test");
    let ext4 = Ext4Writer::from_seed(&seed, "root", "root", 1_700_000_000);
    write_fstab(
        &mut tree,
        &[FstabEntry::ext4_root(&ext4.uuid)],
        1_700_000_000,
    )
    .expect("fstab");
    let mut boot = LinuxBoot::new("debian", &ext4.uuid);
    boot.cmdline.push("panic=-1".into());
    let files = boot.esp_files(&tree).expect("esp files");

    let disk = dir.path().join("disk.raw");
    std::fs::File::create(&disk)
        .and_then(|f| f.set_len(root_start + root_len + MIB))
        .expect("disk");
    let t = Instant::now();
    ext4.write_at(&tree, &disk, root_start, root_len)
        .expect("ext4");
    eprintln!("ext4: {:?}", t.elapsed());

    // ESP: mkfs.fat + mtools stand in for the FAT writer.
    let esp = dir.path().join("esp.img");
    crate::util::run_ok(
        Command::new("mkfs.fat")
            .args(["-F", "32", "-n", "ESP", "-C"])
            .arg(&esp)
            .arg((esp_len / 1024).to_string()),
    );
    let img = format!("{}", esp.display());
    for f in &files {
        let mut parents = Vec::new();
        let mut acc = String::new();
        for comp in f
            .path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .expect("path")
            .1
        {
            acc = if acc.is_empty() {
                comp.to_string()
            } else {
                format!("{acc}/{comp}")
            };
            parents.push(format!("::/{acc}"));
        }
        for p in parents {
            let _ = crate::util::run(
                Command::new("mmd")
                    .env("MTOOLS_SKIP_CHECK", "1")
                    .args(["-i", &img, &p]),
            );
        }
        let src = match &f.source {
            EspSource::Staged(p) => tree.host_path(p),
            EspSource::Host(h) => h.clone(),
            EspSource::Bytes(b) => {
                let tmp = dir.path().join("esp-bytes");
                std::fs::write(&tmp, b).expect("bytes");
                tmp
            }
        };
        crate::util::run_ok(
            Command::new("mcopy")
                .env("MTOOLS_SKIP_CHECK", "1")
                .args(["-o", "-i", &img])
                .arg(&src)
                .arg(format!("::/{}", f.path)),
        );
    }
    {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .open(&disk)
            .expect("disk");
        out.seek(SeekFrom::Start(esp_start)).expect("seek");
        std::io::copy(&mut std::fs::File::open(&esp).expect("esp"), &mut out).expect("copy esp");
        out.flush().expect("flush");
    }
    let layout = format!(
        "label: gpt\nunit: sectors\nfirst-lba: 2048\n\
         start={}, size={}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"ESP\"\n\
         start={}, size={}, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=\"root\"\n",
        esp_start / 512,
        esp_len / 512,
        root_start / 512,
        root_len / 512
    );
    let mut sfdisk = Command::new("sfdisk")
        .args(["-q", "--no-reread", "--no-tell-kernel"])
        .arg(&disk)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sfdisk");
    sfdisk
        .stdin
        .take()
        .expect("stdin")
        .write_all(layout.as_bytes())
        .expect("layout");
    assert!(sfdisk.wait().expect("sfdisk").success());

    let log_path = dir.path().join("serial.log");
    let mut qemu = Command::new("timeout")
        .args([
            "900",
            "qemu-system-x86_64",
            "-machine",
            "q35",
            "-accel",
            "tcg,thread=multi",
            "-smp",
            "2",
            "-m",
            "1024",
            "-nographic",
            "-no-reboot",
            "-net",
            "none",
            "-bios",
            "/usr/share/ovmf/OVMF.fd",
            "-drive",
        ])
        .arg(format!("if=virtio,format=raw,file={}", disk.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("qemu");
    let stdout = qemu.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let log_for_thread = log_path.clone();
    std::thread::spawn(move || {
        let mut log = std::fs::File::create(&log_for_thread).expect("log");
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            let _ = log.write_all(&line);
            let _ = log.write_all(b"\n");
            let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
        }
    });
    let start = Instant::now();
    let deadline = start + Duration::from_secs(840);
    let mut seen_kernel = None;
    let mut seen_login = None;
    while Instant::now() < deadline && seen_login.is_none() {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(line) => {
                if seen_kernel.is_none() && line.contains("Linux version") {
                    seen_kernel = Some(start.elapsed());
                }
                if line.contains(" login:") {
                    seen_login = Some(start.elapsed());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = qemu.kill();
    let _ = qemu.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    if seen_login.is_none() {
        let kept = dir.keep();
        panic!(
            "no login prompt (kernel at {seen_kernel:?}); serial log kept at {}:\n{}",
            kept.join("serial.log").display(),
            log.lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(
        log.contains(&format!("root=UUID={}", ext4.uuid)),
        "the kernel got the entry's command line"
    );
    eprintln!("boot: kernel at {seen_kernel:?}, login at {seen_login:?}");
}
