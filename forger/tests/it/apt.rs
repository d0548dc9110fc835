//! APT payload against real mmdebstrap runs. The mirror comes from this machine's
//! `/etc/apt/sources.list.d/debian.sources` (never a host named here). A real bootstrap takes
//! a minute, so it runs only with `FORGER_SLOW_TESTS=1`; the unreachable-mirror failure runs
//! always (it fails within seconds on a closed local port).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use forger::fs::ext4::Ext4Writer;
use forger::payload::apt::{AptMirror, AptMode, AptPayload, Error, cache_contents};
use forger::seed::Seed;
use forger::stage::{EntryKind, StagePath, StagingTree};

use crate::util::{run, run_ok};

pub(crate) fn slow_tests() -> bool {
    std::env::var_os("FORGER_SLOW_TESTS").is_some_and(|v| v == "1")
}

/// The first `URIs:` of the machine's Debian sources.
pub(crate) fn host_mirror() -> String {
    let text = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
        .expect("this test reads the mirror from /etc/apt/sources.list.d/debian.sources");
    text.lines()
        .find_map(|l| l.strip_prefix("URIs:"))
        .and_then(|u| u.split_whitespace().next())
        .expect("a URIs: line")
        .to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[test]
fn apt_unreachable_mirror_is_reported_with_apts_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tree = StagingTree::create(dir.path().join("stage")).expect("tree");
    // Nothing listens on a port we just freed, so apt gets "connection refused".
    let url = format!("http://127.0.0.1:{}/debian", free_port());
    let mut payload = AptPayload::debian("bookworm");
    payload.mirrors = vec![AptMirror::new(&url, "bookworm", &["main"])];
    let t = Instant::now();
    let err = payload.install(&mut tree).expect_err("no mirror there");
    eprintln!("unreachable mirror reported after {:?}", t.elapsed());
    match err {
        Error::MirrorUnreachable { mirrors, message } => {
            assert!(mirrors.contains(&url), "{mirrors}");
            assert!(
                message.contains("127.0.0.1"),
                "apt's reason missing: {message}"
            );
        }
        other => panic!("expected MirrorUnreachable, got {other:?}"),
    }
}

/// One line of `tar --numeric-owner -tv`: mode string, uid, gid, and (for links) target.
fn gnu_tar_listing(tar: &Path) -> BTreeMap<String, (String, u32, u32, Option<String>)> {
    let text = run_ok(
        Command::new("tar")
            .args(["--numeric-owner", "--quoting-style=literal", "-tvf"])
            .arg(tar),
    );
    let mut out = BTreeMap::new();
    for line in text.lines() {
        // drwxr-xr-x 0/0               0 2023-11-14 22:13 ./etc/
        let mut parts = line.splitn(6, ' ').filter(|s| !s.is_empty());
        let mode = parts.next().expect("mode").to_owned();
        let owner = parts.next().expect("owner");
        let rest = line[line.find(owner).expect("owner again") + owner.len()..].trim_start();
        // size, date, time, then the name
        let mut fields = rest.splitn(4, ' ').filter(|s| !s.is_empty());
        let _size = fields.next();
        let _date = fields.next();
        let _time = fields.next();
        let mut name = fields.next().expect("name").trim_start().to_owned();
        let mut target = None;
        for sep in [" -> ", " link to "] {
            if let Some((n, t)) = name.clone().split_once(sep) {
                name = n.to_owned();
                target = Some(t.to_owned());
            }
        }
        let (uid, gid) = owner.split_once('/').expect("uid/gid");
        let path = StagePath::new(&name).expect("tar name").to_string();
        out.insert(
            path,
            (
                mode,
                uid.parse().expect("uid"),
                gid.parse().expect("gid"),
                target,
            ),
        );
    }
    out
}

fn mode_string(kind: &EntryKind, mode: u32) -> String {
    let t = match kind {
        EntryKind::Directory => 'd',
        EntryKind::Symlink { .. } => 'l',
        EntryKind::Hardlink { .. } => 'h',
        EntryKind::CharDevice { .. } => 'c',
        EntryKind::BlockDevice { .. } => 'b',
        EntryKind::Fifo => 'p',
        EntryKind::Socket => 's',
        EntryKind::File => '-',
    };
    let mut s = String::from(t);
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, c)) in bits.iter().enumerate() {
        let special = match i {
            2 if mode & 0o4000 != 0 => Some(('s', 'S')),
            5 if mode & 0o2000 != 0 => Some(('s', 'S')),
            8 if mode & 0o1000 != 0 => Some(('t', 'T')),
            _ => None,
        };
        s.push(match special {
            Some((set, unset)) => {
                if mode & bit != 0 {
                    set
                } else {
                    unset
                }
            }
            None if mode & bit != 0 => *c,
            None => '-',
        });
    }
    s
}

/// Checks every member GNU tar lists against the manifest (type, mode bits, owner, link
/// target) and that the counts agree.
fn assert_manifest_matches_tar(tree: &StagingTree, tar: &Path) {
    let listing = gnu_tar_listing(tar);
    let m = &tree.manifest;
    assert_eq!(listing.len(), m.len(), "entry counts differ");
    for (path, (mode, uid, gid, target)) in &listing {
        let e = m
            .get(&StagePath::new(path).expect("path"))
            .unwrap_or_else(|| panic!("{path} missing from the manifest"));
        let want = mode_string(&e.kind, e.mode);
        // GNU tar shows a hard link as `h…`, or as `-…` in some formats.
        let (got_t, want_t) = (&mode[..1], &want[..1]);
        assert!(
            got_t == want_t || (got_t == "-" && want_t == "h"),
            "{path}: type {mode} vs {want}"
        );
        assert_eq!(&mode[1..], &want[1..], "{path}: mode");
        assert_eq!((*uid, *gid), (e.uid, e.gid), "{path}: owner");
        match (&e.kind, target) {
            (EntryKind::Symlink { target: t }, Some(want)) => assert_eq!(t, want, "{path}"),
            (EntryKind::Hardlink { target: t }, Some(want)) => {
                assert_eq!(t, &StagePath::new(want).expect("link target"), "{path}")
            }
            (EntryKind::Symlink { .. } | EntryKind::Hardlink { .. }, None) => {
                panic!("{path}: tar shows no link target")
            }
            _ => {}
        }
    }
}

/// The tar importer against an archive written by GNU tar (PAX format, forced owners and
/// modes, a hard link, a symlink, a name longer than ustar's 100 bytes, xattrs).
#[test]
fn apt_tar_import_matches_gnu_tar() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    let long = "d".repeat(60);
    std::fs::create_dir_all(src.join(format!("usr/{long}/{long}"))).expect("dirs");
    std::fs::write(src.join("usr/file"), b"data").expect("file");
    std::fs::write(src.join(format!("usr/{long}/{long}/deep")), b"deep").expect("deep");
    std::fs::hard_link(src.join("usr/file"), src.join("usr/hard")).expect("hard link");
    std::os::unix::fs::symlink("usr/file", src.join("link")).expect("symlink");
    run_ok(
        Command::new("setfattr")
            .args(["-n", "user.forger", "-v", "0x0102"])
            .arg(src.join("usr/file")),
    );
    let tar = dir.path().join("a.tar");
    run_ok(
        Command::new("tar")
            .args([
                "--format=pax",
                "--xattrs",
                "--xattrs-include=*",
                "--sort=name",
                "--owner=4000000000",
                "--group=42",
                "--numeric-owner",
                "--mode=u+s,g+w",
                "--mtime=@1600000000",
                "-cf",
            ])
            .arg(&tar)
            .arg("-C")
            .arg(&src)
            .arg("."),
    );
    let mut tree = StagingTree::create(dir.path().join("stage")).expect("tree");
    let f = std::fs::File::open(&tar).expect("tar");
    tree.import_tar(f).expect("import");
    assert_manifest_matches_tar(&tree, &tar);
    let e = tree
        .manifest
        .get(&StagePath::new("/usr/file").expect("p"))
        .expect("file");
    assert_eq!((e.uid, e.gid, e.mtime), (4_000_000_000, 42, 1_600_000_000));
    assert_eq!(
        tree.manifest
            .link_count(&StagePath::new("/usr/file").expect("p")),
        2
    );
    assert_eq!(
        e.xattrs.get("user.forger").map(Vec::as_slice),
        Some(&[1u8, 2][..]),
        "xattr from the PAX header"
    );
}

#[test]
fn apt_minbase_bookworm_lands_in_the_manifest() {
    if !slow_tests() {
        eprintln!("skipped: set FORGER_SLOW_TESTS=1 to run mmdebstrap (about a minute)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("apt-cache");
    let mirror = host_mirror();
    let mut payload = AptPayload::debian("bookworm");
    payload.mirrors = vec![AptMirror::new(&mirror, "bookworm", &["main"])];
    payload.cache_dir = Some(cache.clone());
    payload.source_date_epoch = Some(1_700_000_000);
    payload.keep_tar = Some(dir.path().join("cold.tar"));

    let t = Instant::now();
    let mut tree = StagingTree::create(dir.path().join("cold")).expect("tree");
    let stats = payload.install(&mut tree).expect("mmdebstrap minbase");
    let cold = t.elapsed();
    let (debs, deb_bytes) = cache_contents(&cache).expect("cache listing");
    eprintln!(
        "cold: {cold:?}, {} entries, {} bytes; cache {debs} debs / {deb_bytes} bytes",
        stats.entries, stats.bytes
    );
    assert!(
        debs > 50,
        "the cache holds the downloaded packages ({debs})"
    );

    // Every member of the archive is in the manifest with the archive's owner and mode,
    // as GNU tar reads them.
    assert_manifest_matches_tar(&tree, &dir.path().join("cold.tar"));
    let m = &tree.manifest;
    let sources = std::fs::read_to_string(
        tree.host_path(&StagePath::new("/etc/apt/sources.list").expect("p")),
    )
    .expect("sources.list in the image");
    assert!(
        sources.contains(&format!("deb {mirror} bookworm main")),
        "mirror not in the image's apt sources: {sources}"
    );
    assert!(
        std::fs::read_dir(tree.host_path(&StagePath::new("/var/cache/apt/archives").expect("p")))
            .expect("archives dir")
            .filter_map(Result::ok)
            .all(|e| !e.file_name().to_string_lossy().ends_with(".deb")),
        "no .deb left in the image"
    );
    let shadow = m
        .get(&StagePath::new("/etc/shadow").expect("p"))
        .expect("/etc/shadow");
    assert_eq!((shadow.uid, shadow.gid, shadow.mode), (0, 42, 0o640));
    assert!(m.iter().all(|(_, e)| e.mtime <= 1_700_000_000));

    // Warm: the same build again with the filled cache; the tar must be bit-identical.
    let t = Instant::now();
    let mut warm_tree = StagingTree::create(dir.path().join("warm")).expect("tree");
    payload.keep_tar = Some(dir.path().join("warm.tar"));
    payload.install(&mut warm_tree).expect("warm mmdebstrap");
    let warm = t.elapsed();
    eprintln!("warm: {warm:?}");
    let hash = |p: &Path| run_ok(Command::new("sha256sum").arg(p))[..64].to_owned();
    assert_eq!(
        hash(&dir.path().join("cold.tar")),
        hash(&dir.path().join("warm.tar")),
        "SOURCE_DATE_EPOCH builds differ"
    );
    assert_eq!(warm_tree.manifest, tree.manifest);

    // As root and without a tar copy, mmdebstrap writes a directory that is adopted by
    // rename: the manifest and the bytes are the ones the tar stream gave.
    if AptMode::Auto.resolve() == "root" {
        payload.keep_tar = None;
        let mut adopted = StagingTree::create(dir.path().join("adopted")).expect("tree");
        payload
            .install(&mut adopted)
            .expect("mmdebstrap to a directory");
        let differing: Vec<String> = tree
            .manifest
            .iter()
            .filter(|(p, e)| adopted.manifest.get(p) != Some(*e))
            .map(|(p, e)| format!("{p}: {e:?} vs {:?}", adopted.manifest.get(p)))
            .chain(
                adopted
                    .manifest
                    .iter()
                    .filter(|(p, _)| tree.manifest.get(p).is_none())
                    .map(|(p, _)| format!("{p}: only in the adopted tree")),
            )
            .take(20)
            .collect();
        assert!(differing.is_empty(), "{}", differing.join("\n"));
        run_ok(
            Command::new("diff")
                .args(["-r", "-q"])
                .arg(tree.root())
                .arg(adopted.root()),
        );
    }

    // The tree through the ext4 writer: clean for e2fsck, owners as in the manifest.
    let img = dir.path().join("root.ext4");
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(512 << 20))
        .expect("image");
    let writer = Ext4Writer::from_seed(&Seed::new("apt-test"), "root", "root", 1_700_000_000);
    let t = Instant::now();
    writer
        .write_at(&tree, &img, 0, 512 << 20)
        .expect("ext4 of the apt tree");
    eprintln!(
        "ext4 (mkfs -d + debugfs) of the minbase tree: {:?}",
        t.elapsed()
    );
    let out = run(Command::new("e2fsck").arg("-fn").arg(&img));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stat = run_ok(
        Command::new("debugfs")
            .args(["-R", "stat /etc/shadow"])
            .arg(&img),
    );
    assert!(stat.contains("Mode:  0640"), "{stat}");
    assert!(stat.contains("Group:    42"), "{stat}");
}

#[test]
fn apt_unknown_package_is_named() {
    if !slow_tests() {
        eprintln!("skipped: set FORGER_SLOW_TESTS=1 (runs apt-get update against the mirror)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tree = StagingTree::create(dir.path().join("stage")).expect("tree");
    let mut payload = AptPayload::debian("bookworm");
    payload.mirrors = vec![AptMirror::new(host_mirror(), "bookworm", &["main"])];
    payload.packages = vec!["forger-no-such-package".into()];
    let t = Instant::now();
    match payload.install(&mut tree) {
        Err(Error::UnknownPackage { package, .. }) => {
            assert_eq!(package, "forger-no-such-package")
        }
        other => panic!("expected UnknownPackage, got {other:?}"),
    }
    eprintln!("unknown package reported after {:?}", t.elapsed());
}
