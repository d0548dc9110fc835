//! The OmniOS finishing steps on synthetic OmniOS-shaped trees, checked with real readers:
//! `isoinfo -R` and `xorriso` read the boot archive (names, Rock Ridge modes and owners, byte-
//! equal contents), `sha1sum` checks the hash file, `sh -n` the SMF method and Python's XML
//! parser the SMF manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use forger::illumos::{self, Console, ConsoleOptions, FinishOptions};
use forger::stage::{Entry, EntryKind, StagePath, StagingTree};

use crate::util::{run, run_ok};

const EPOCH: i64 = 1_700_000_000;
const LONG_NAME: &str = "a-driver-configuration-file-whose-name-is-much-longer-than-any-iso9660-identifier-could-ever-be-so-rock-ridge-carries-it.conf";

fn p(s: &str) -> StagePath {
    StagePath::new(s).unwrap()
}

fn dir(t: &mut StagingTree, path: &str, uid: u32, gid: u32, mode: u32) {
    t.ensure_dir(&p(path), uid, gid, mode).unwrap();
}

fn file(t: &mut StagingTree, path: &str, bytes: &[u8], uid: u32, gid: u32, mode: u32) {
    let mut e = Entry::file(uid, gid, mode);
    e.mtime = EPOCH - 1000;
    t.write_file(&p(path), &mut &bytes[..], e).unwrap();
}

/// Deterministic filler bytes (an LCG), so files are not all zeros.
fn bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

fn elf(class: u8, n: usize) -> Vec<u8> {
    let mut v = vec![0x7f, b'E', b'L', b'F', class, 1, 1, 0];
    v.extend(bytes(n, u32::from(class)));
    v
}

fn two_hundred_chars() -> String {
    format!("{}.cfg", "x".repeat(196))
}

/// An OmniOS-shaped tree: filelists naming directories and files, kernel modules, a long
/// name, a 200-byte name (needs a Rock Ridge continuation area), a case collision, a deep
/// path, a hard link, an empty file, a symlink and a 32-bit ELF object (both left out).
fn omnios_tree(root: &Path) -> StagingTree {
    let mut t = StagingTree::create(root).unwrap();
    for d in [
        "/boot/solaris",
        "/etc/boot/solaris",
        "/etc/zfs",
        "/lib/svc/seed",
        "/usr/bin",
        "/dev/dsk",
    ] {
        dir(&mut t, d, 0, 3, 0o755);
    }
    file(
        &mut t,
        "/boot/solaris/filelist.ramdisk",
        b"etc/system\netc/name_to_major\netc/rtc_config\nkernel\nplatform\n\nboot/solaris/bootenv.rc\n",
        0,
        0,
        0o644,
    );
    file(
        &mut t,
        "/etc/boot/solaris/filelist.ramdisk",
        b"etc/site.conf\nkernel/drv\n",
        0,
        0,
        0o644,
    );
    file(
        &mut t,
        "/boot/solaris/bootenv.rc",
        b"setprop keyboard-layout US-English\n",
        0,
        0,
        0o644,
    );
    file(&mut t, "/etc/system", b"* /etc/system\n", 0, 3, 0o644);
    file(
        &mut t,
        "/etc/name_to_major",
        b"sd 32\nzfs 182\n",
        0,
        3,
        0o644,
    );
    file(&mut t, "/etc/site.conf", b"site\n", 0, 0, 0o600);
    file(
        &mut t,
        "/etc/ttydefs",
        b"console:9600 hupcl opost onlcr:9600::console\nauto:hupcl:auto::auto\n",
        0,
        2,
        0o644,
    );
    file(&mut t, "/etc/zfs/zpool.cache", b"stale", 0, 0, 0o644);
    file(
        &mut t,
        "/lib/svc/seed/global.db",
        &bytes(5000, 9),
        0,
        3,
        0o444,
    );
    file(&mut t, "/usr/bin/ls", &elf(2, 3000), 0, 2, 0o555);
    file(
        &mut t,
        "/dev/dsk/c9t9d9s0",
        b"stale link stand-in",
        0,
        0,
        0o644,
    );
    dir(&mut t, "/kernel/drv/amd64", 0, 3, 0o755);
    dir(&mut t, "/kernel/misc/amd64", 0, 3, 0o755);
    dir(&mut t, "/kernel/a/b/c/d/e/f/g/h/i", 0, 3, 0o755);
    dir(&mut t, "/kernel/emptydir", 0, 3, 0o700);
    dir(&mut t, "/platform/i86pc/kernel/amd64", 0, 3, 0o755);
    dir(&mut t, "/platform/i86pc/ucode", 0, 3, 0o755);
    file(&mut t, "/kernel/drv/amd64/sd", &elf(2, 70_000), 0, 3, 0o755);
    file(
        &mut t,
        "/kernel/drv/sd.conf",
        b"name=\"sd\" parent=\"scsi\";\n",
        0,
        3,
        0o644,
    );
    file(&mut t, "/kernel/drv/Foo", b"upper\n", 0, 3, 0o644);
    file(&mut t, "/kernel/drv/foo", b"lower\n", 0, 3, 0o644);
    file(&mut t, "/kernel/drv/empty.conf", b"", 0, 3, 0o644);
    file(
        &mut t,
        &format!("/kernel/drv/{LONG_NAME}"),
        b"long\n",
        0,
        3,
        0o644,
    );
    file(
        &mut t,
        &format!("/kernel/drv/{}", two_hundred_chars()),
        b"longer\n",
        0,
        3,
        0o644,
    );
    file(
        &mut t,
        "/kernel/misc/amd64/zmod",
        &elf(2, 2048 * 3),
        0,
        3,
        0o755,
    );
    file(&mut t, "/kernel/misc/legacy32", &elf(1, 500), 0, 3, 0o755);
    file(
        &mut t,
        "/kernel/a/b/c/d/e/f/g/h/i/deep.conf",
        b"deep\n",
        0,
        3,
        0o644,
    );
    t.add_hardlink(
        &p("/kernel/misc/amd64/zmod-link"),
        &p("/kernel/misc/amd64/zmod"),
    )
    .unwrap();
    let mut link = Entry::new(
        EntryKind::Symlink {
            target: "sd.conf".to_owned(),
        },
        0,
        0,
        0o777,
    );
    link.mtime = EPOCH;
    t.add_special(&p("/kernel/drv/sd-link.conf"), link).unwrap();
    file(
        &mut t,
        "/platform/i86pc/kernel/amd64/unix",
        &elf(2, 200_001),
        0,
        3,
        0o755,
    );
    file(
        &mut t,
        "/platform/i86pc/ucode/not-listed",
        b"x",
        0,
        3,
        0o644,
    );
    // A directory whose records fill several sectors, and enough directories that the path
    // tables take more than one sector.
    dir(&mut t, "/kernel/drv/many", 0, 3, 0o755);
    for (path, content) in many_files() {
        if let Some((parent, _)) = path.rsplit_once('/')
            && t.manifest.get(&p(parent)).is_none()
        {
            dir(&mut t, parent, 0, 3, 0o755);
        }
        file(&mut t, &path, content.as_bytes(), 0, 3, 0o644);
    }
    t
}

/// 300 files of assorted name lengths in one directory and 120 directories of one file each.
fn many_files() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for i in 0..300 {
        let name = format!("mod-{i}-{}.conf", "y".repeat(i % 60));
        v.push((format!("/kernel/drv/many/{name}"), format!("module {i}\n")));
    }
    for i in 0..120 {
        v.push((
            format!("/kernel/dirs/d{i:03}-with-a-longer-name/f.conf"),
            format!("dir {i}\n"),
        ));
    }
    v
}

/// Files expected in the archive: image path → staged path holding the bytes.
fn expected_files() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for f in [
        "/boot/solaris/bootenv.rc",
        "/etc/system",
        "/etc/name_to_major",
        "/etc/site.conf",
        "/kernel/drv/amd64/sd",
        "/kernel/drv/sd.conf",
        "/kernel/drv/Foo",
        "/kernel/drv/foo",
        "/kernel/drv/empty.conf",
        "/kernel/misc/amd64/zmod",
        "/kernel/a/b/c/d/e/f/g/h/i/deep.conf",
        "/platform/i86pc/kernel/amd64/unix",
    ] {
        m.insert(f.to_owned(), f.to_owned());
    }
    m.insert(
        "/kernel/misc/amd64/zmod-link".to_owned(),
        "/kernel/misc/amd64/zmod".to_owned(),
    );
    for (path, _) in many_files() {
        m.insert(path.clone(), path);
    }
    for name in [LONG_NAME.to_owned(), two_hundred_chars()] {
        let path = format!("/kernel/drv/{name}");
        m.insert(path.clone(), path);
    }
    m
}

fn archive_path(t: &StagingTree) -> PathBuf {
    t.host_path(&p(illumos::boot_archive::ARCHIVE_PATH))
}

/// `isoinfo -R -l` parsed into path → (mode string, uid, gid, size).
fn isoinfo_listing(iso: &Path) -> BTreeMap<String, (String, u32, u32, u64)> {
    let out = run_ok(
        Command::new("isoinfo")
            .arg("-R")
            .arg("-l")
            .arg("-i")
            .arg(iso),
    );
    let mut map = BTreeMap::new();
    let mut dir = String::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("Directory listing of ") {
            dir = rest.trim().to_owned();
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 10 || !line.starts_with(['-', 'd']) {
            continue;
        }
        // "-rw-r--r--   1    0    3   26 Nov 14 2023 [     40 00]  sd.conf"
        let name = line.rsplit("]  ").next().unwrap().trim_end().to_owned();
        if name == "." || name == ".." {
            continue;
        }
        let size: u64 = fields[4].parse().unwrap();
        map.insert(
            format!("{dir}{name}"),
            (
                fields[0].to_owned(),
                fields[2].parse().unwrap(),
                fields[3].parse().unwrap(),
                size,
            ),
        );
    }
    map
}

#[test]
fn boot_archive_holds_the_listed_files_with_rock_ridge_names_modes_and_owners() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = omnios_tree(&tmp.path().join("stage"));
    let report = illumos::write_boot_archive(&mut t, EPOCH).unwrap();
    assert_eq!(report.missing, ["/etc/rtc_config"]);
    assert!(report.skipped.contains(&"/kernel/misc/legacy32".to_owned()));
    assert!(
        report
            .skipped
            .contains(&"/kernel/drv/sd-link.conf".to_owned())
    );
    let iso = archive_path(&t);

    let listing = isoinfo_listing(&iso);
    let files: BTreeSet<String> = listing
        .iter()
        .filter(|(_, v)| v.0.starts_with('-'))
        .map(|(k, _)| k.clone())
        .collect();
    let expected = expected_files();
    assert_eq!(files, expected.keys().cloned().collect::<BTreeSet<_>>());
    assert!(
        listing.contains_key("/kernel/emptydir"),
        "empty listed dirs are kept"
    );
    assert!(!listing.keys().any(|k| k.starts_with("/usr")));
    assert!(!listing.contains_key("/platform/i86pc/ucode"));

    // Rock Ridge PX: owner, group and permission bits from the manifest.
    assert_eq!(listing["/etc/site.conf"].0, "-rw-------");
    assert_eq!(listing["/etc/system"].1, 0);
    assert_eq!(listing["/etc/system"].2, 3);
    assert_eq!(listing["/kernel/drv/amd64/sd"].0, "-rwxr-xr-x");
    assert_eq!(listing["/kernel/emptydir"].0, "drwx------");
    for (path, staged) in &expected {
        let size = fs::metadata(t.host_path(&p(staged))).unwrap().len();
        assert_eq!(listing[path].3, size, "size of {path}");
    }

    // xorriso reads it without complaint and extracts byte-equal files.
    let out_dir = tmp.path().join("extract");
    let out = run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(&iso)
        .args(["-extract", "/"])
        .arg(&out_dir));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "xorriso failed:\n{stderr}");
    for bad in ["WARNING", "FAILURE", "SORRY", "MISHAP"] {
        assert!(!stderr.contains(bad), "xorriso reported {bad}:\n{stderr}");
    }
    // Extraction under the Rock Ridge names (below) proves xorriso read Rock Ridge: the ISO
    // names are upper-case level-2 identifiers such as `SD.CONF;1`.
    for (path, staged) in &expected {
        let got = fs::read(out_dir.join(&path[1..])).unwrap();
        let want = fs::read(t.host_path(&p(staged))).unwrap();
        assert!(got == want, "{path} differs after extraction");
    }
    assert!(!out_dir.join("kernel/misc/legacy32").exists());
    assert!(!out_dir.join("kernel/drv/sd-link.conf").exists());

    // genisoimage's verifier finds no structural errors; isoinfo sees the Rock Ridge `ER`.
    let vfy = run_ok(Command::new("isovfy").arg(&iso));
    assert!(vfy.contains("No errors found"), "isovfy:\n{vfy}");
    let info = run_ok(Command::new("isoinfo").arg("-d").arg("-i").arg(&iso));
    assert!(
        info.contains("Rock Ridge signatures version 1 found"),
        "{info}"
    );

    // The lookup the illumos kernel does on the archive at boot finds every file.
    let image = fs::read(&iso).unwrap();
    for (path, staged) in &expected {
        let got = hsfs_boot_lookup(&image, path).unwrap_or_else(|| panic!("boot lookup of {path}"));
        let want = fs::read(t.host_path(&p(staged))).unwrap();
        assert!(got == want, "boot lookup of {path} read other bytes");
    }
    assert!(hsfs_boot_lookup(&image, "/kernel/misc/legacy32").is_none());
    // The walk itself agrees with what bootadm's own tool makes: an image of the extracted
    // files from `mkisofs -dlrDJN -relaxed-filenames` (genisoimage) reads the same way.
    let reference = tmp.path().join("reference.iso");
    run_ok(
        Command::new("genisoimage")
            .args([
                "-quiet",
                "-graft-points",
                "-dlrDJN",
                "-relaxed-filenames",
                "-o",
            ])
            .arg(&reference)
            .arg(&out_dir),
    );
    let reference = fs::read(&reference).unwrap();
    for path in ["/etc/system", "/kernel/drv/amd64/sd", "/kernel/drv/sd.conf"] {
        let got = hsfs_boot_lookup(&reference, path).unwrap_or_else(|| panic!("{path}"));
        assert!(got == fs::read(t.host_path(&p(path))).unwrap(), "{path}");
    }

    // The hash file is the SHA-1 of the archive, as `sha1sum` computes it.
    let sum = run_ok(Command::new("sha1sum").arg(&iso));
    let hash = fs::read_to_string(t.host_path(&p(illumos::boot_archive::HASH_PATH))).unwrap();
    assert_eq!(
        hash,
        format!("{}\n", sum.split_whitespace().next().unwrap())
    );
    assert_eq!(hash.trim_end(), report.sha1);
    let e = t
        .manifest
        .get(&p(illumos::boot_archive::ARCHIVE_PATH))
        .unwrap();
    assert_eq!((e.uid, e.gid, e.mode, e.mtime), (0, 0, 0o644, EPOCH));
}

#[test]
fn boot_archive_rebuilds_are_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = omnios_tree(&tmp.path().join("a"));
    let mut b = omnios_tree(&tmp.path().join("b"));
    illumos::write_boot_archive(&mut a, EPOCH).unwrap();
    illumos::write_boot_archive(&mut b, EPOCH).unwrap();
    let (x, y) = (
        fs::read(archive_path(&a)).unwrap(),
        fs::read(archive_path(&b)).unwrap(),
    );
    assert!(x == y, "two builds of the same tree differ");
    // Building again in place replaces the archive without packing the old one.
    illumos::write_boot_archive(&mut a, EPOCH).unwrap();
    assert!(fs::read(archive_path(&a)).unwrap() == x);
    // Another epoch changes the dates and so the bytes.
    illumos::write_boot_archive(&mut b, EPOCH - 86_400).unwrap();
    assert!(fs::read(archive_path(&b)).unwrap() != x);
}

#[test]
fn a_tree_without_filelists_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = StagingTree::create(tmp.path().join("s")).unwrap();
    let err = illumos::write_boot_archive(&mut t, EPOCH).unwrap_err();
    assert!(matches!(err, illumos::Error::NoFilelist), "{err:?}");
}

#[test]
fn finish_prepares_the_first_boot_and_the_serial_console() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = omnios_tree(&tmp.path().join("stage"));
    let opts = FinishOptions {
        epoch: EPOCH,
        console: ConsoleOptions {
            console: Console::Ttya,
            speed: 115_200,
            autoboot_delay: Some(2),
        },
        reguid_on_first_boot: true,
    };
    let warnings = illumos::finish(&mut t, &opts).unwrap();
    let codes: Vec<&str> = warnings.iter().map(|w| w.code).collect();
    assert!(codes.contains(&"devfsadm-offline"), "{codes:?}");
    assert!(codes.contains(&"zpool-cache-removed"), "{codes:?}");
    assert!(codes.contains(&"smf-import-at-first-boot"), "{codes:?}");
    let devfs = warnings
        .iter()
        .find(|w| w.code == "devfsadm-offline")
        .unwrap();
    assert!(devfs.message.contains("/dev/dsk"), "{}", devfs.message);

    let read = |path: &str| fs::read_to_string(t.host_path(&p(path))).unwrap();
    let reconf = t.manifest.get(&p("/reconfigure")).unwrap();
    assert!(matches!(reconf.kind, EntryKind::File));
    assert_eq!(
        fs::metadata(t.host_path(&p("/reconfigure"))).unwrap().len(),
        0
    );

    let msglog = t.manifest.get(&p("/dev/msglog")).unwrap();
    assert_eq!(
        msglog.kind,
        EntryKind::Symlink {
            target: "../devices/pseudo/sysmsg@0:msglog".to_owned()
        }
    );
    assert!(t.manifest.get(&p("/dev/dsk/c9t9d9s0")).is_none());
    assert!(t.manifest.get(&p("/dev/dsk")).is_some());
    assert!(t.manifest.get(&p("/etc/zfs/zpool.cache")).is_none());
    let repo = t.manifest.get(&p("/etc/svc/repository.db")).unwrap();
    assert_eq!((repo.uid, repo.gid, repo.mode), (0, 3, 0o600));

    // Console settings as OmniOS documents them for a serial console.
    let conf = read("/boot/conf.d/console");
    assert!(conf.contains("console=\"ttya,text\""), "{conf}");
    assert!(conf.contains("os_console=\"ttya\""), "{conf}");
    assert!(conf.contains("ttya-mode=\"115200,8,n,1,-\""), "{conf}");
    assert_eq!(read("/boot/config"), "-h\n");
    assert!(read("/etc/ttydefs").starts_with("console:115200 hupcl opost onlcr:115200::console\n"));
    assert_eq!(t.manifest.get(&p("/etc/ttydefs")).unwrap().gid, 2);

    // The reguid service: well-formed XML, a method that sh parses, the marker.
    let manifest = t.host_path(&p(illumos::first_boot::REGUID_MANIFEST));
    run_ok(
        Command::new("python3")
            .args([
                "-c",
                "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])",
            ])
            .arg(&manifest),
    );
    let method = t.host_path(&p(illumos::first_boot::REGUID_METHOD));
    run_ok(Command::new("sh").arg("-n").arg(&method));
    assert!(read(illumos::first_boot::REGUID_METHOD).contains("zpool reguid \"$pool\""));
    let m = t
        .manifest
        .get(&p(illumos::first_boot::REGUID_METHOD))
        .unwrap();
    assert_eq!((m.uid, m.gid, m.mode), (0, 2, 0o555));
    assert!(
        t.manifest
            .get(&p(illumos::first_boot::REGUID_MARKER))
            .is_some()
    );

    // The archive was made last and is readable.
    let listing = isoinfo_listing(&archive_path(&t));
    assert!(listing.contains_key("/kernel/drv/sd.conf"));
}

#[test]
fn finish_with_a_text_console_and_no_reguid_leaves_those_out() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = omnios_tree(&tmp.path().join("stage"));
    let opts = FinishOptions {
        epoch: EPOCH,
        console: ConsoleOptions::default(),
        reguid_on_first_boot: false,
    };
    illumos::finish(&mut t, &opts).unwrap();
    let conf = fs::read_to_string(t.host_path(&p("/boot/conf.d/console"))).unwrap();
    assert!(conf.contains("console=\"text\""));
    assert!(t.manifest.get(&p("/boot/config")).is_none());
    assert!(
        t.manifest
            .get(&p(illumos::first_boot::REGUID_MANIFEST))
            .is_none()
    );
    let ttydefs = fs::read_to_string(t.host_path(&p("/etc/ttydefs"))).unwrap();
    assert!(ttydefs.starts_with("console:9600 "));
}

/// Walks `path` in `iso` the way the illumos kernel's early-boot reader does
/// (`usr/src/common/fs/hsfs.c`: `find`, `dlook`, `readdir`, `parse_dir`, `parse_susp`): names
/// come from the ISO identifier (cut at `;`, spaces dropped) unless an `NM` entry with zero
/// flags gives one; a `CE` continuation area is read from the start of its block (the offset
/// field is ignored); a record's extent block is its inode number and 0 means "not found".
/// Returns the file's bytes. This checks the constraints the general readers above do not.
fn hsfs_boot_lookup(iso: &[u8], path: &str) -> Option<Vec<u8>> {
    const S: usize = 2048;
    let u32le = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let pvd = &iso[16 * S..17 * S];
    assert_eq!(&pvd[..6], b"\x01CD001");
    let root = &pvd[156..];
    let (mut ino, mut size, mut is_dir) = (u32le(root, 2) as usize, u32le(root, 10) as usize, true);
    // One record: (name, extent, size, is_dir, length).
    let parse = |rec: &[u8]| -> (Vec<u8>, usize, usize, bool, usize) {
        let len = rec[0] as usize;
        let nlen = rec[32] as usize;
        let mut name: Vec<u8> = rec[33..33 + nlen]
            .iter()
            .copied()
            .take_while(|&c| c != b';')
            .filter(|&c| c != b' ')
            .collect();
        let mut su_off = 33 + nlen + (nlen + 1) % 2;
        let mut su: Vec<u8> = rec[su_off.min(len)..len].to_vec();
        loop {
            let mut ce = None;
            su_off = 0;
            while su_off + 4 <= su.len() {
                let e = &su[su_off..];
                if e[0] == 0 || e[1] == 0 || e[2] == 0 {
                    break;
                }
                match &e[..2] {
                    b"CE" => ce = Some((u32le(e, 4) as usize, u32le(e, 20) as usize)),
                    b"NM" if e[4] == 0 => name = e[5..e[2] as usize].to_vec(),
                    b"ST" => break,
                    _ => {}
                }
                su_off += e[2] as usize;
            }
            match ce {
                Some((block, clen)) => su = iso[block * S..block * S + clen].to_vec(),
                None => break,
            }
        }
        (
            name,
            u32le(rec, 2) as usize,
            u32le(rec, 10) as usize,
            rec[25] & 2 != 0,
            len,
        )
    };
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if !is_dir || size == 0 {
            return None;
        }
        let mut loc = 0;
        let mut found = None;
        while loc < size {
            let off = loc % S;
            let sector = &iso[(ino + loc / S) * S..(ino + loc / S + 1) * S];
            if sector[off] == 0 {
                loc = (loc / S + 1) * S;
                continue;
            }
            let (name, ext, len, dir, rlen) = parse(&sector[off..]);
            loc += rlen;
            if name == part.as_bytes() {
                found = Some((ext, len, dir));
                break;
            }
        }
        let (ext, len, dir) = found?;
        if ext == 0 {
            return None;
        }
        (ino, size, is_dir) = (ext, len, dir);
    }
    Some(iso[ino * S..ino * S + size].to_vec())
}
