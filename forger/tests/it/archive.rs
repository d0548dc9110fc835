//! The tar writer checked with GNU tar (listing owners, modes, link targets, devices) and
//! Python's `tarfile` (pax xattr records), plus byte-for-byte reproducibility.

use std::path::Path;
use std::process::Command;

use forger::archive::{self, ArchiveOptions, Compression};
use forger::stage::{Entry, EntryKind, StagePath, StagingTree};

use crate::util::run_ok;

/// An image-path helper for tests.
pub fn sp(p: &str) -> StagePath {
    StagePath::new(p).expect("valid test path")
}

/// A long directory name that forces pax `path` records (> 100 bytes with the parents).
pub const LONG_DIR: &str = "this-directory-name-is-deliberately-long-so-that-the-full-member-name-exceeds-one-hundred-bytes";

/// A staging tree with every entry kind, owners that differ from the host user, setuid,
/// a hard link, devices, a FIFO, an xattr, a long name and a huge uid.
pub fn sample_tree(dir: &Path) -> StagingTree {
    let mut t = StagingTree::create(dir.join("stage")).expect("create stage");
    t.ensure_dir(&sp("/etc"), 0, 0, 0o755).unwrap();
    t.ensure_dir(&sp("/usr/bin"), 0, 0, 0o755).unwrap();
    t.ensure_dir(&sp("/home"), 0, 0, 0o755).unwrap();
    t.ensure_dir(&sp("/home/alice"), 1000, 1000, 0o700).unwrap();
    t.ensure_dir(&sp("/dev"), 0, 0, 0o755).unwrap();
    t.ensure_dir(&sp("/tmp"), 0, 0, 0o1777).unwrap();
    t.write_file(
        &sp("/etc/hosts"),
        &mut &b"127.0.0.1 localhost\n"[..],
        Entry::file(0, 0, 0o644),
    )
    .unwrap();
    t.write_file(
        &sp("/etc/shadow"),
        &mut &b"root:*:19000:0:99999:7:::\n"[..],
        Entry::file(0, 42, 0o640),
    )
    .unwrap();
    let tool: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    t.write_file(
        &sp("/usr/bin/tool"),
        &mut tool.as_slice(),
        Entry::file(0, 0, 0o4755),
    )
    .unwrap();
    t.add_hardlink(&sp("/usr/bin/tool-alias"), &sp("/usr/bin/tool"))
        .unwrap();
    // Over twice the largest compressor block (4 MiB; this pattern has no content-defined
    // cut), so gzip/zstd layers hold several independently compressed members.
    t.ensure_dir(&sp("/usr/lib"), 0, 0, 0o755).unwrap();
    let big: Vec<u8> = (0..9u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 & 0x3f)
        .collect();
    t.write_file(
        &sp("/usr/lib/big.bin"),
        &mut big.as_slice(),
        Entry::file(0, 0, 0o644),
    )
    .unwrap();
    t.write_file(
        &sp("/home/alice/notes.txt"),
        &mut &b"hello\n"[..],
        Entry::file(1000, 1000, 0o600),
    )
    .unwrap();
    t.write_file(
        &sp("/home/alice/big-uid"),
        &mut &b"x"[..],
        Entry::file(3_000_000, 3_000_001, 0o644),
    )
    .unwrap();
    t.add_special(
        &sp("/bin"),
        Entry::new(
            EntryKind::Symlink {
                target: "usr/bin".into(),
            },
            0,
            0,
            0o777,
        ),
    )
    .unwrap();
    t.add_special(
        &sp("/dev/null"),
        Entry::new(EntryKind::CharDevice { major: 1, minor: 3 }, 0, 0, 0o666),
    )
    .unwrap();
    t.add_special(
        &sp("/dev/sda"),
        Entry::new(EntryKind::BlockDevice { major: 8, minor: 0 }, 0, 6, 0o660),
    )
    .unwrap();
    t.add_special(&sp("/tmp/pipe"), Entry::new(EntryKind::Fifo, 0, 0, 0o600))
        .unwrap();
    let long = format!("/usr/share/{LONG_DIR}");
    t.ensure_dir(&sp(&long), 0, 0, 0o755).unwrap();
    t.write_file(
        &sp(&format!("{long}/file-with-a-long-name.txt")),
        &mut &b"long\n"[..],
        Entry::file(0, 0, 0o644),
    )
    .unwrap();
    // An mtime after the epoch is clamped; one before it is kept.
    t.manifest.get_mut(&sp("/etc/hosts")).unwrap().mtime = 2_000_000_000;
    t.manifest.get_mut(&sp("/etc/shadow")).unwrap().mtime = 1_600_000_000;
    t.manifest
        .get_mut(&sp("/etc/hosts"))
        .unwrap()
        .xattrs
        .insert("user.forger.test".into(), b"value\x00with-nul".to_vec());
    t
}

/// The sample tree's epoch.
pub const EPOCH: i64 = 1_700_000_000;

fn listing(archive: &Path, flag: &str) -> Vec<String> {
    let out = run_ok(
        Command::new("tar")
            .env("TZ", "UTC")
            .args(["--numeric-owner", "--full-time", flag, "-tvf"])
            .arg(archive),
    );
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn gnu_tar_lists_manifest_metadata_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = sample_tree(tmp.path());
    let out = tmp.path().join("rootfs.tar.gz");
    let d = archive::write(&tree, &out, &ArchiveOptions::new(Compression::Gzip, EPOCH)).unwrap();
    assert_eq!(d.size, std::fs::metadata(&out).unwrap().len());
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(d.compressed, archive::Digest::of(&bytes));

    let lines = listing(&out, "-z");
    let t = "2023-11-14 22:13:20";
    let long = format!("./usr/share/{LONG_DIR}");
    let expected = vec![
        "drwxr-xr-x 0/0 0 1970-01-01 00:00:00 ./".to_string(),
        "lrwxrwxrwx 0/0 0 1970-01-01 00:00:00 ./bin -> usr/bin".to_string(),
        "drwxr-xr-x 0/0 0 1970-01-01 00:00:00 ./dev/".to_string(),
        "crw-rw-rw- 0/0 1,3 1970-01-01 00:00:00 ./dev/null".to_string(),
        "brw-rw---- 0/6 8,0 1970-01-01 00:00:00 ./dev/sda".to_string(),
        "drwxr-xr-x 0/0 0 1970-01-01 00:00:00 ./etc/".to_string(),
        format!("-rw-r--r-- 0/0 20 {t} ./etc/hosts"),
        "-rw-r----- 0/42 26 2020-09-13 12:26:40 ./etc/shadow".to_string(),
        "drwxr-xr-x 0/0 0 1970-01-01 00:00:00 ./home/".to_string(),
        "drwx------ 1000/1000 0 1970-01-01 00:00:00 ./home/alice/".to_string(),
        "-rw-r--r-- 3000000/3000001 1 1970-01-01 00:00:00 ./home/alice/big-uid".to_string(),
        "-rw------- 1000/1000 6 1970-01-01 00:00:00 ./home/alice/notes.txt".to_string(),
        "drwxrwxrwt 0/0 0 1970-01-01 00:00:00 ./tmp/".to_string(),
        "prw------- 0/0 0 1970-01-01 00:00:00 ./tmp/pipe".to_string(),
        "drwxr-xr-x 0/0 0 1970-01-01 00:00:00 ./usr/".to_string(),
        "drwxr-xr-x 0/0 0 1970-01-01 00:00:00 ./usr/bin/".to_string(),
        "-rwsr-xr-x 0/0 300000 1970-01-01 00:00:00 ./usr/bin/tool".to_string(),
        format!("hrwsr-xr-x 0/0 0 1970-01-01 00:00:00 ./usr/bin/tool-alias link to ./usr/bin/tool"),
        "drwxr-xr-x 0/0 0 1970-01-01 00:00:00 ./usr/lib/".to_string(),
        "-rw-r--r-- 0/0 9437184 1970-01-01 00:00:00 ./usr/lib/big.bin".to_string(),
        "drwxr-xr-x 0/0 0 1970-01-01 00:00:00 ./usr/share/".to_string(),
        format!("drwxr-xr-x 0/0 0 1970-01-01 00:00:00 {long}/"),
        format!("-rw-r--r-- 0/0 5 1970-01-01 00:00:00 {long}/file-with-a-long-name.txt"),
    ];
    assert_eq!(lines, expected, "tar -tv listing");
    // Several gzip members; gzip itself accepts the concatenation.
    let members = run_ok(Command::new("python3").arg("-c").arg(
        "import sys, zlib\nd = open(sys.argv[1], 'rb').read(); n = 0\nwhile d:\n    o = zlib.decompressobj(31); o.decompress(d); d = o.unused_data; n += 1\nprint(n)",
    ).arg(&out));
    assert!(members.trim().parse::<u32>().unwrap() >= 3, "{members}");
    run_ok(Command::new("gzip").arg("-t").arg(&out));
    for l in &lines {
        let name = l.split(' ').nth(5).unwrap();
        assert!(name.starts_with("./") && !name.split('/').any(|c| c == ".."));
    }
}

#[test]
fn python_tarfile_sees_pax_xattrs_and_long_names() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = sample_tree(tmp.path());
    let out = tmp.path().join("rootfs.tar");
    archive::write(&tree, &out, &ArchiveOptions::new(Compression::None, EPOCH)).unwrap();
    let script = r#"
import sys, tarfile
t = tarfile.open(sys.argv[1])
for m in t.getmembers():
    x = {k: v for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}
    print(m.name, m.uid, m.gid, oct(m.mode), repr(sorted(x.items())))
"#;
    let out = run_ok(Command::new("python3").args(["-c", script]).arg(&out));
    assert!(
        out.lines().any(|l| l
            == r"./etc/hosts 0 0 0o644 [('SCHILY.xattr.user.forger.test', 'value\x00with-nul')]"),
        "{out}"
    );
    assert!(out.contains(&format!(
        "./usr/share/{LONG_DIR}/file-with-a-long-name.txt 0 0 0o644"
    )));
    assert!(out.contains("./home/alice/big-uid 3000000 3000001 0o644"));
}

#[test]
fn builds_are_byte_identical_and_zstd_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = sample_tree(tmp.path());
    for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        let mut one = ArchiveOptions::new(c, EPOCH);
        one.threads = 1;
        let mut two = ArchiveOptions::new(c, EPOCH);
        two.threads = 3;
        let da = archive::write(&tree, &a, &one).unwrap();
        let db = archive::write(&tree, &b, &two).unwrap();
        assert_eq!(da, db, "{c:?}");
        assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
    }
    let z = tmp.path().join("z.tar.zst");
    let d = archive::write(&tree, &z, &ArchiveOptions::new(Compression::Zstd, EPOCH)).unwrap();
    assert_eq!(listing(&z, "--zstd").len(), 23);
    // The uncompressed digest is the digest of what zstd decodes.
    let plain = run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(format!("zstd -dc {} | sha256sum", z.display())),
    );
    assert!(plain.starts_with(&d.uncompressed.hex()), "{plain}");
}

#[test]
fn escaping_paths_cannot_enter_a_manifest() {
    for bad in ["../etc/passwd", "/a/../../b", "a/\0b"] {
        assert!(StagePath::new(bad).is_err(), "{bad}");
    }
    assert!(StagePath::root().join("..").is_err());
    // A leading slash is an image path, never a host one: it lands as `./etc`.
    assert_eq!(sp("/etc").as_str(), "etc");
}
