//! The ZFS pool writer against OpenZFS's own userspace reader (`zdb` 2.3) and GRUB's
//! independent ZFS reader (`grub-fstest`): labels, leak detection, object dumps, file
//! extraction compared byte for byte, and byte-identical rebuilds.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

use forger::fs::BlockDevice;
use forger::fs::Filesystem;
use forger::fs::zfs::{DatasetSpec, PoolOptions, ZfsWriter};
use forger::seed::Seed;
use forger::stage::{Entry, EntryKind, StagePath, StagingTree};

use crate::util::{run, run_ok};

/// A plain image file as a block device.
struct FileDev {
    file: File,
    size: u64,
}

impl FileDev {
    fn create(path: &Path, size: u64) -> Self {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .unwrap();
        file.set_len(size).unwrap();
        FileDev { file, size }
    }
}

impl Read for FileDev {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf)
    }
}

impl Write for FileDev {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let pos = self.file.stream_position()?;
        if pos + buf.len() as u64 > self.size {
            return Err(std::io::Error::other("write past the end of the device"));
        }
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Seek for FileDev {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.file.seek(pos)
    }
}

impl BlockDevice for FileDev {
    fn size_bytes(&self) -> u64 {
        self.size
    }
}

fn p(s: &str) -> StagePath {
    StagePath::new(s).unwrap()
}

/// Deterministic pseudo-random bytes.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn add_file(t: &mut StagingTree, path: &str, data: &[u8], uid: u32, gid: u32, mode: u32) {
    let mut e = Entry::file(uid, gid, mode);
    e.mtime = 1_700_000_000;
    t.write_file(&p(path), &mut &data[..], e).unwrap();
}

fn add_dir(t: &mut StagingTree, path: &str) {
    t.ensure_dir(&p(path), 0, 0, 0o755).unwrap();
}

/// Files (image path → bytes) the checks compare, grouped by dataset.
struct Expect {
    files: Vec<(String, String, Vec<u8>)>,
}

fn build_tree(dir: &Path, big: bool) -> (StagingTree, Expect) {
    let mut t = StagingTree::create(dir.join("stage")).unwrap();
    let mut files = Vec::new();
    add_dir(&mut t, "/etc");
    add_dir(&mut t, "/usr/lib");
    add_dir(&mut t, "/export/home/alice");
    let mut sizes: Vec<usize> = vec![0, 1, 2, 511, 512, 513, 4095, 4096, 4097];
    for n in [15usize, 17, 20] {
        sizes.extend([(1 << n) - 1, 1 << n, (1 << n) + 1]);
    }
    if big {
        sizes.push(300 << 20);
    }
    for (i, s) in sizes.iter().enumerate() {
        let data = bytes(*s, i as u64 + 1);
        let path = format!("/usr/lib/f{s}");
        add_file(&mut t, &path, &data, 2, 3, 0o644);
        files.push(("ROOT/omnios".into(), path[1..].to_string(), data));
    }
    // 129 MiB + 1 exercises two indirect levels in the slow run only (1024×128 KiB = 128 MiB).
    if big {
        let data = bytes((129 << 20) + 1, 99);
        add_file(&mut t, "/usr/lib/l2", &data, 0, 0, 0o600);
        files.push(("ROOT/omnios".into(), "usr/lib/l2".into(), data));
    }
    // Sparse: zero blocks in the middle stay holes.
    let mut sparse = vec![0u8; 1 << 20];
    sparse[..100].copy_from_slice(&bytes(100, 7));
    sparse[(1 << 20) - 5..].copy_from_slice(&[1, 2, 3, 4, 5]);
    add_file(&mut t, "/usr/lib/sparse", &sparse, 0, 0, 0o644);
    files.push(("ROOT/omnios".into(), "usr/lib/sparse".into(), sparse));
    let hosts = b"127.0.0.1 localhost\n".to_vec();
    add_file(&mut t, "/etc/hosts", &hosts, 0, 0, 0o644);
    files.push(("ROOT/omnios".into(), "etc/hosts".into(), hosts.clone()));
    t.manifest
        .insert(
            p("/etc/hosts.link"),
            Entry::new(
                EntryKind::Hardlink {
                    target: p("/etc/hosts"),
                },
                0,
                0,
                0o644,
            ),
        )
        .unwrap();
    std::fs::hard_link(
        t.host_path(&p("/etc/hosts")),
        t.host_path(&p("/etc/hosts.link")),
    )
    .unwrap();
    files.push(("ROOT/omnios".into(), "etc/hosts.link".into(), hosts.clone()));
    // A hard link into another dataset becomes a copy there.
    t.manifest
        .insert(
            p("/export/hosts.copy"),
            Entry::new(
                EntryKind::Hardlink {
                    target: p("/etc/hosts"),
                },
                0,
                0,
                0o644,
            ),
        )
        .unwrap();
    std::fs::hard_link(
        t.host_path(&p("/etc/hosts")),
        t.host_path(&p("/export/hosts.copy")),
    )
    .unwrap();
    files.push(("export".into(), "hosts.copy".into(), hosts));
    t.manifest
        .insert(
            p("/etc/motd"),
            Entry::new(
                EntryKind::Symlink {
                    target: "../usr/lib/f1".into(),
                },
                0,
                0,
                0o777,
            ),
        )
        .unwrap();
    t.manifest
        .insert(
            p("/etc/null"),
            Entry::new(
                EntryKind::CharDevice {
                    major: 13,
                    minor: 2,
                },
                0,
                3,
                0o666,
            ),
        )
        .unwrap();
    t.manifest
        .insert(p("/etc/fifo"), Entry::new(EntryKind::Fifo, 0, 0, 0o600))
        .unwrap();
    // A 3000-entry directory and long names (fat ZAPs).
    add_dir(&mut t, "/big");
    for i in 0..3000 {
        let data = format!("file {i}\n").into_bytes();
        let path = format!("/big/entry-{i:05}");
        add_file(&mut t, &path, &data, 0, 0, 0o644);
        if i % 500 == 0 {
            files.push(("ROOT/omnios".into(), path[1..].to_string(), data));
        }
    }
    add_dir(&mut t, "/long");
    for i in 0..20 {
        let name = format!("{}-{i}", "n".repeat(200));
        let data = name.clone().into_bytes();
        let path = format!("/long/{name}");
        add_file(&mut t, &path, &data, 0, 0, 0o644);
        files.push(("ROOT/omnios".into(), path[1..].to_string(), data));
    }
    // All 512 permission modes.
    add_dir(&mut t, "/modes");
    for m in 0..512u32 {
        add_file(&mut t, &format!("/modes/m{m:03o}"), b"x", m, m + 1, m);
    }
    // Files in the extra datasets.
    let bashrc = b"export PS1='$ '\n".to_vec();
    add_file(
        &mut t,
        "/export/home/alice/.profile",
        &bashrc,
        1000,
        1000,
        0o600,
    );
    files.push(("export/home".into(), "alice/.profile".into(), bashrc));
    let note = bytes(70000, 3);
    add_file(&mut t, "/export/note", &note, 0, 0, 0o644);
    files.push(("export".into(), "note".into(), note));
    (t, Expect { files })
}

fn options() -> PoolOptions {
    let mut o = PoolOptions::new(Seed::new("zfs-test"));
    o.datasets = vec![
        DatasetSpec {
            name: "export".into(),
            properties: [("mountpoint".to_string(), "/export".to_string())].into(),
        },
        DatasetSpec {
            name: "export/home".into(),
            properties: Default::default(),
        },
    ];
    o.timestamp = 1_700_000_000;
    o
}

fn write_image(path: &Path, size: u64, tree: &StagingTree, o: PoolOptions) {
    let mut dev = FileDev::create(path, size);
    ZfsWriter::new(o).write(&mut dev, tree).unwrap();
}

fn zdb(args: &[&str]) -> std::process::Output {
    run(Command::new("zdb").args(args))
}

fn check_pool(img: &Path, exp: &Expect) {
    let img_s = img.to_str().unwrap();
    let labels = run_ok(Command::new("zdb").args(["-l", img_s]));
    assert!(!labels.contains("Bad label cksum"), "{labels}");
    assert!(labels.contains("labels = 0 1 2 3"), "{labels}");

    let out = zdb(&["-e", "-p", img_s, "-bcc", "rpool"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("No leaks"),
        "zdb -bcc: {}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let out = zdb(&["-e", "-p", img_s, "-mmm", "-ddddd", "rpool"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| {
            let l = l.to_lowercase();
            l.contains("leaked")
                || l.contains("mismatch")
                || l.contains("error")
                || l.contains("referenced but not allocated")
        })
        .collect();
    assert!(
        out.status.success() && bad.is_empty(),
        "zdb -mmm -ddddd: {} {bad:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // GRUB's ZFS reader: every expected file, byte for byte.
    for (ds, path, data) in &exp.files {
        let out =
            run(Command::new("grub-fstest").args([img_s, "cat", &format!("(loop0)/{ds}@/{path}")]));
        assert!(
            out.status.success() && out.stdout == *data,
            "grub-fstest cat {ds}@/{path}: {} ({} bytes, {} expected) {}",
            out.status,
            out.stdout.len(),
            data.len(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // zdb -r (about a second per call): a sample covering every size class and dataset.
    let tmp = tempfile::tempdir().unwrap();
    let mut sample: Vec<usize> = (0..exp.files.len())
        .filter(|&i| {
            let (ds, path, _) = &exp.files[i];
            path.contains("sparse") || path.contains("link") || ds != "ROOT/omnios"
        })
        .take(3)
        .collect();
    let step = (exp.files.len() / 4).max(1);
    sample.extend((1..exp.files.len()).step_by(step).take(4));
    for i in sample {
        let (ds, path, data) = &exp.files[i];
        let out_path = tmp.path().join(format!("out{i}"));
        let mut cmd = Command::new("zdb");
        cmd.args(["-e", "-p", img_s, "-r", &format!("rpool/{ds}"), path]);
        cmd.arg(&out_path);
        if data.is_empty() {
            // zdb 2.3 copies nothing and exits 22 for an empty object; check what it saw.
            let out = run(&mut cmd);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("is 0 bytes"), "{ds}:{path}: {text}");
        } else {
            run_ok(&mut cmd);
        }
        let got = fs::read(&out_path).unwrap_or_default();
        assert!(
            got == *data,
            "{ds}:{path}: {} bytes read back, {} expected",
            got.len(),
            data.len()
        );
    }
}

fn image_dir() -> tempfile::TempDir {
    // FORGER_KEEP_ZFS=1 keeps the images for inspection with zdb.
    let keep = std::env::var_os("FORGER_KEEP_ZFS").is_some();
    let d = tempfile::Builder::new()
        .prefix("zfs-it")
        .disable_cleanup(keep)
        .tempdir()
        .unwrap();
    if keep {
        eprintln!("keeping {}", d.path().display());
    }
    d
}

#[test]
fn zfs_pool_passes_zdb_and_files_read_back() {
    let dir = image_dir();
    let (tree, exp) = build_tree(dir.path(), false);
    let img = dir.path().join("pool.img");
    write_image(&img, 128 << 20, &tree, options());
    check_pool(&img, &exp);
    check_grub_listing(img.to_str().unwrap());
    check_metadata(&img, &tree);

    // zhack recomputes label checksums in userspace: on our labels it has nothing to repair.
    let copy = dir.path().join("zhack.img");
    fs::copy(&img, &copy).unwrap();
    let out = run(Command::new("zhack")
        .args(["label", "repair", "-c"])
        .arg(&copy));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("checksum: skipped").count(), 4, "{text}");
    assert!(!text.contains("repaired"), "{text}");
    assert!(
        fs::read(&copy).unwrap() == fs::read(&img).unwrap(),
        "zhack changed the labels"
    );

    // Object details: uid/gid/mode/links/size from the manifest.
    let img_s = img.to_str().unwrap();
    let out = run_ok(Command::new("zdb").args([
        "-e",
        "-p",
        img_s,
        "-O",
        "rpool/ROOT/omnios",
        "modes/m751",
    ]));
    assert!(out.contains("ZFS plain file"), "{out}");
    // The 1 MiB sparse file keeps its six all-zero 128 KiB blocks as holes: 25% full.
    let out = run_ok(Command::new("zdb").args([
        "-e",
        "-p",
        img_s,
        "-O",
        "rpool/ROOT/omnios",
        "usr/lib/sparse",
    ]));
    assert!(out.contains(" 25.00 "), "{out}");
}

/// GRUB lists the BE's directories (including a 3000-entry fat ZAP) and reads the root
/// dataset's BE menu.
fn check_grub_listing(img_s: &str) {
    let ls = run_ok(Command::new("grub-fstest").args([img_s, "ls", "(loop0)/ROOT/omnios@/etc"]));
    for name in ["hosts", "hosts.link", "motd", "null", "fifo"] {
        assert!(
            ls.split_whitespace().any(|w| w == name),
            "grub ls lacks {name}: {ls}"
        );
    }
    let big = run_ok(Command::new("grub-fstest").args([img_s, "ls", "(loop0)/ROOT/omnios@/big"]));
    assert_eq!(
        big.split_whitespace().count(),
        3000,
        "grub ls of the 3000-entry directory"
    );
    let menu = run_ok(Command::new("grub-fstest").args([img_s, "cat", "(loop0)/@/boot/menu.lst"]));
    assert_eq!(menu, "title omnios\nbootfs rpool/ROOT/omnios\n");
}

#[test]
fn zfs_rebuild_is_byte_identical_and_ashift9_works() {
    let dir = image_dir();
    let (tree, exp) = build_tree(dir.path(), false);
    let a = dir.path().join("a.img");
    let b = dir.path().join("b.img");
    let mut o = options();
    o.pool_properties.insert("ashift".into(), "9".into());
    write_image(&a, 128 << 20, &tree, o.clone());
    write_image(&b, 128 << 20, &tree, o);
    assert!(
        fs::read(&a).unwrap() == fs::read(&b).unwrap(),
        "two builds differ"
    );
    check_pool(&a, &exp);
}

#[test]
fn zfs_big_files_slow() {
    if std::env::var("FORGER_SLOW_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set FORGER_SLOW_TESTS=1 to write and check 300 MiB files");
        return;
    }
    let dir = image_dir();
    let (tree, exp) = build_tree(dir.path(), true);
    let img = dir.path().join("pool.img");
    write_image(&img, 1 << 30, &tree, options());
    check_pool(&img, &exp);
}

/// The reference pool from OpenZFS's test suite (Debian `zfs-test`), extracted by
/// `scripts/install-test-deps.sh`.
const REFERENCE_POOL: &str = "/usr/local/share/forger-test/unclean_export.dat";

fn reference_pool() -> Vec<u8> {
    fs::read(REFERENCE_POOL).unwrap_or_else(|e| {
        panic!("{REFERENCE_POOL}: {e} (run scripts/install-test-deps.sh to extract it)")
    })
}

fn le64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

#[test]
fn zfs_primitives_match_the_reference_pool() {
    use forger::fs::zfs::{NvList, NvValue, fletcher4, label_region_ok};
    let img = reference_pool();
    for base in [
        0usize,
        256 << 10,
        img.len() - (512 << 10),
        img.len() - (256 << 10),
    ] {
        // The label nvlist round-trips byte for byte.
        let phys = &img[base + (16 << 10)..base + (128 << 10)];
        let list = NvList::unpack(phys).unwrap();
        assert_eq!(
            list.get("name"),
            Some(&NvValue::Str("unclean_export".into()))
        );
        let packed = list.pack();
        assert_eq!(&phys[..packed.len()], &packed[..], "label at {base:#x}");
        assert!(phys[packed.len()..phys.len() - 40].iter().all(|&b| b == 0));
        // SHA-256 embedded checksums of vdev_phys and of every valid uberblock slot.
        assert!(label_region_ok(phys, (base + (16 << 10)) as u64));
        let ashift = match list.get("vdev_tree") {
            Some(NvValue::List(t)) => match t.get("ashift") {
                Some(NvValue::U64(a)) => *a as u32,
                other => panic!("ashift: {other:?}"),
            },
            other => panic!("vdev_tree: {other:?}"),
        };
        let slot = 1usize << ashift.clamp(10, 13);
        let ring = base + (128 << 10);
        let mut best: Option<usize> = None;
        let mut valid = 0;
        for i in 0..(128 << 10) / slot {
            let s = ring + i * slot;
            if le64(&img, s) != 0x00ba_b10c {
                continue;
            }
            assert!(
                label_region_ok(&img[s..s + slot], s as u64),
                "uberblock {i}"
            );
            valid += 1;
            if best.is_none_or(|b| le64(&img, s + 16) > le64(&img, b + 16)) {
                best = Some(s);
            }
        }
        assert!(valid > 0);
        // Our fletcher4 reproduces the root block pointer's checksum of the MOS block.
        let ub = best.unwrap();
        let bp = &img[ub + 40..ub + 168];
        let offset = ((le64(bp, 8) & !(1 << 63)) << 9) as usize;
        let psize = (((le64(bp, 48) >> 16) & 0xffff) + 1) as usize * 512;
        let data = &img[(4 << 20) + offset..(4 << 20) + offset + psize];
        let want = [le64(bp, 96), le64(bp, 104), le64(bp, 112), le64(bp, 120)];
        assert_eq!(fletcher4(data), want);
    }
}

#[test]
fn zfs_object_counts_and_metadata_match_the_manifest() {
    let dir = image_dir();
    let mut t = StagingTree::create(dir.path().join("stage")).unwrap();
    add_dir(&mut t, "/a");
    for i in 0..40 {
        add_file(
            &mut t,
            &format!("/a/f{i}"),
            &bytes(i * 100, i as u64),
            7,
            8,
            0o640,
        );
    }
    let img = dir.path().join("pool.img");
    write_image(&img, 128 << 20, &t, PoolOptions::new(Seed::new("counts")));
    let img_s = img.to_str().unwrap();
    let out = run_ok(Command::new("zdb").args(["-e", "-p", img_s, "-d", "rpool"]));
    // BE: 5 fixed ZPL objects + root + /a + 40 files; root dataset: 5 + root + /boot + menu.lst.
    assert!(
        out.contains("Dataset rpool/ROOT/omnios [ZPL]") && out.contains(", 47 objects"),
        "{out}"
    );
    assert!(
        out.contains("Dataset rpool [ZPL]") && out.contains(", 8 objects"),
        "{out}"
    );
    let dump = run_ok(Command::new("zdb").args(["-e", "-p", img_s, "-dddd", "rpool/ROOT/omnios"]));
    assert_eq!(
        dump.matches("\tuid     7\n").count() + dump.matches("\tuid\t7\n").count(),
        40,
        "{dump}"
    );
    assert_eq!(dump.matches("mode\t100640").count(), 40);
    assert!(dump.contains("size\t3900"));
}

/// Random trees: names (long, unicode, colliding-prone), sizes, hard links, depths, files
/// in two datasets. Each passes the zdb and GRUB checks and rebuilds byte-identically.
#[test]
fn zfs_random_trees_pass_all_checks() {
    let seeds: &[u64] = if std::env::var("FORGER_SLOW_TESTS").as_deref() == Ok("1") {
        &[11, 12, 13, 14]
    } else {
        &[11]
    };
    for &seed in seeds {
        let dir = image_dir();
        let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut t = StagingTree::create(dir.path().join("stage")).unwrap();
        let mut exp = Expect { files: Vec::new() };
        let mut dirs = vec!["/".to_string(), "/export".to_string()];
        add_dir(&mut t, "/export");
        let mut files: Vec<String> = Vec::new();
        for i in 0..400 {
            let parent = dirs[rnd(dirs.len() as u64) as usize].clone();
            let name = match rnd(4) {
                0 => format!("{}{i}", "long-name-".repeat(1 + rnd(24) as usize)),
                1 => format!("ü-名前-{i}"),
                _ => format!("n{i}"),
            };
            let path = format!("{}/{name}", parent.trim_end_matches('/'));
            let depth = path.matches('/').count();
            match rnd(10) {
                0..=2 if depth < 8 => {
                    add_dir(&mut t, &path);
                    dirs.push(path);
                }
                3 if !files.is_empty() => {
                    let named = p(&files[rnd(files.len() as u64) as usize]);
                    let target = t.manifest.content_path(&named).unwrap().to_string();
                    {
                        t.manifest
                            .insert(
                                p(&path),
                                Entry::new(EntryKind::Hardlink { target: p(&target) }, 0, 0, 0o644),
                            )
                            .unwrap();
                        std::fs::hard_link(t.host_path(&p(&target)), t.host_path(&p(&path)))
                            .unwrap();
                    }
                }
                4 => {
                    t.manifest
                        .insert(
                            p(&path),
                            Entry::new(
                                EntryKind::Symlink {
                                    target: "x".repeat(1 + rnd(144) as usize),
                                },
                                0,
                                0,
                                0o777,
                            ),
                        )
                        .unwrap();
                }
                _ => {
                    let size = match rnd(5) {
                        0 => 0,
                        1 => rnd(600),
                        2 => rnd(200_000),
                        _ => rnd(5000),
                    } as usize;
                    let data = bytes(size, seed * 1000 + i);
                    add_file(
                        &mut t,
                        &path,
                        &data,
                        rnd(70000) as u32,
                        rnd(70000) as u32,
                        rnd(0o7777) as u32,
                    );
                    files.push(path.clone());
                    let (ds, rel) = match path.strip_prefix("/export/") {
                        Some(r) => ("export", r.to_string()),
                        None => ("ROOT/omnios", path[1..].to_string()),
                    };
                    exp.files.push((ds.into(), rel, data));
                }
            }
        }
        let mut o = options();
        o.datasets.truncate(1);
        o.seed = Seed::new(format!("random-{seed}"));
        let a = dir.path().join("a.img");
        let b = dir.path().join("b.img");
        write_image(&a, 128 << 20, &t, o.clone());
        write_image(&b, 128 << 20, &t, o);
        assert!(
            fs::read(&a).unwrap() == fs::read(&b).unwrap(),
            "seed {seed}: builds differ"
        );
        // Keep the zdb -r sample small: GRUB compares every file.
        check_pool(&a, &exp);
        check_metadata(&a, &t);
    }
}

/// lz4: compressible and incompressible files, read back by zdb and GRUB (both decompress).
#[test]
fn zfs_lz4_pool_passes_zdb_and_grub() {
    let dir = image_dir();
    let mut t = StagingTree::create(dir.path().join("stage")).unwrap();
    let mut exp = Expect { files: Vec::new() };
    add_dir(&mut t, "/d");
    for (i, size) in [1usize, 1000, 4097, 70000, 131072, 131073, (1 << 20) + 3]
        .iter()
        .enumerate()
    {
        let text: Vec<u8> = format!("line {i} of some very compressible text\n")
            .into_bytes()
            .into_iter()
            .cycle()
            .take(*size)
            .collect();
        let rand = bytes(*size, i as u64 + 40);
        for (name, data) in [(format!("t{size}"), text), (format!("r{size}"), rand)] {
            add_file(&mut t, &format!("/d/{name}"), &data, 0, 0, 0o644);
            exp.files
                .push(("ROOT/omnios".into(), format!("d/{name}"), data));
        }
    }
    let mut o = options();
    o.compression = forger::fs::zfs::Compression::Lz4;
    let img = dir.path().join("pool.img");
    write_image(&img, 128 << 20, &t, o);
    check_pool(&img, &exp);
    let img_s = img.to_str().unwrap();
    let dump =
        run_ok(Command::new("zdb").args(["-e", "-p", img_s, "-dddddd", "rpool/ROOT/omnios"]));
    // A 128 KiB block of text stored in one 4 KiB allocation unit: compressed.
    assert!(
        dump.contains("20000L/1000P"),
        "no compressed block in the BE"
    );
    let feats = run_ok(Command::new("zdb").args(["-e", "-p", img_s, "-dddd", "rpool", "5"]));
    assert!(feats.contains("org.illumos:lz4_compress = 1"), "{feats}");
    // zhack reads the feature ZAPs through the feature code: enabled, active, described.
    let zdir = dir.path().join("zhack");
    fs::create_dir(&zdir).unwrap();
    fs::copy(&img, zdir.join("pool.img")).unwrap();
    let stat = run_ok(
        Command::new("zhack")
            .arg("-d")
            .arg(&zdir)
            .args(["feature", "stat", "rpool"]),
    );
    assert!(stat.contains("\torg.illumos:lz4_compress = 1"), "{stat}");
    assert!(
        stat.contains("org.illumos:lz4_compress = LZ4 compression algorithm support."),
        "{stat}"
    );
}

/// What the writer cannot store is refused with a named error instead of a broken pool.
#[test]
fn zfs_rejects_what_it_cannot_store() {
    use forger::fs::zfs::Error as ZfsError;
    let dir = image_dir();
    let write = |t: &StagingTree, size: u64, o: PoolOptions| {
        let mut dev = FileDev::create(&dir.path().join("x.img"), size);
        ZfsWriter::new(o).write_pool(&mut dev, t)
    };
    let mut t = StagingTree::create(dir.path().join("stage")).unwrap();
    let seed = || PoolOptions::new(Seed::new("errors"));
    assert!(matches!(
        write(&t, 32 << 20, seed()),
        Err(ZfsError::DeviceTooSmall { .. })
    ));
    t.manifest
        .insert(
            p("/long"),
            Entry::new(
                EntryKind::Symlink {
                    target: "y".repeat(145),
                },
                0,
                0,
                0o777,
            ),
        )
        .unwrap();
    assert!(matches!(
        write(&t, 64 << 20, seed()),
        Err(ZfsError::SymlinkTooLong { len: 145, .. })
    ));
    t.manifest.remove(&p("/long"));
    add_file(&mut t, "/big", &bytes(70 << 20, 1), 0, 0, 0o644);
    assert!(matches!(
        write(&t, 64 << 20, seed()),
        Err(ZfsError::PoolFull { .. })
    ));
    let mut o = seed();
    o.datasets.push(DatasetSpec {
        name: "a/b".into(),
        properties: Default::default(),
    });
    assert!(matches!(
        write(&t, 64 << 20, o),
        Err(ZfsError::MissingParent { .. })
    ));
    let mut o = seed();
    o.datasets.push(DatasetSpec {
        name: "data".into(),
        properties: [("quota".to_string(), "1G".to_string())].into(),
    });
    assert!(matches!(
        write(&t, 64 << 20, o),
        Err(ZfsError::BadProperty { .. })
    ));
    let mut o = seed();
    o.pool_properties.insert("autotrim".into(), "on".into());
    assert!(matches!(
        write(&t, 64 << 20, o),
        Err(ZfsError::BadProperty { .. })
    ));
}

/// Every object `zdb -ddddd` prints for the BE agrees with the manifest: uid, gid, mode
/// (with type bits), size of regular files and symlinks, and hard-link counts.
fn check_metadata(img: &Path, tree: &StagingTree) {
    use std::collections::HashMap;
    let dump = run_ok(Command::new("zdb").args([
        "-e",
        "-p",
        img.to_str().unwrap(),
        "-ddddd",
        "rpool/ROOT/omnios",
    ]));
    let mut seen: HashMap<String, HashMap<&str, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in dump.lines() {
        let Some(rest) = line.strip_prefix('\t') else {
            current = None;
            continue;
        };
        let (key, value) = match rest.split_once(['\t', ' ']) {
            Some((k, v)) => (k, v.trim().to_string()),
            None => continue,
        };
        if key == "path" {
            seen.insert(value.clone(), HashMap::new());
            current = Some(value);
        } else if let Some(c) = &current
            && ["uid", "gid", "mode", "size", "links"].contains(&key)
        {
            seen.get_mut(c).unwrap().insert(key, value);
        }
    }
    let m = &tree.manifest;
    let mut links: HashMap<String, u32> = HashMap::new();
    let mut checked = 0;
    for (p, e) in m.iter() {
        let path = p.to_string();
        // zdb prints no path for the root directory.
        if path == "/"
            || path.starts_with("/export")
            || matches!(e.kind, EntryKind::Hardlink { .. })
        {
            continue;
        }
        // A hard-linked file is printed under whichever of its names zdb finds first.
        let names: Vec<String> = std::iter::once(path.clone())
            .chain(m.iter().filter_map(|(q, f)| match &f.kind {
                EntryKind::Hardlink { target } if target == p => Some(q.to_string()),
                _ => None,
            }))
            .collect();
        let Some(attrs) = names.iter().find_map(|n| seen.get(n)) else {
            panic!("{path} is not in zdb -ddddd");
        };
        let mode = if matches!(e.kind, EntryKind::Symlink { .. }) {
            0o777
        } else {
            e.mode
        };
        assert_eq!(attrs["uid"], e.uid.to_string(), "{path} uid");
        assert_eq!(attrs["gid"], e.gid.to_string(), "{path} gid");
        assert_eq!(
            attrs["mode"],
            format!("{:o}", e.type_bits() | mode),
            "{path} mode"
        );
        match &e.kind {
            EntryKind::File => {
                let size = fs::metadata(tree.host_path(p)).unwrap().len();
                assert_eq!(attrs["size"], size.to_string(), "{path} size");
                links.insert(path.clone(), attrs["links"].parse().unwrap());
            }
            EntryKind::Symlink { target } => {
                assert_eq!(attrs["size"], target.len().to_string(), "{path} size")
            }
            EntryKind::Directory => {
                let children = m
                    .children(p)
                    .filter(|(c, _)| !c.to_string().starts_with("/export"))
                    .count();
                assert_eq!(attrs["size"], (2 + children).to_string(), "{path} size");
            }
            _ => {}
        }
        checked += 1;
    }
    for (p, e) in m.iter() {
        // Links into the other dataset are copies there (checked by content).
        if let EntryKind::Hardlink { target } = &e.kind
            && !p.to_string().starts_with("/export")
            && !target.to_string().starts_with("/export")
        {
            let n = m
                .iter()
                .filter(|(q, f)| {
                    !q.to_string().starts_with("/export")
                        && matches!(&f.kind, EntryKind::Hardlink { target: t } if t == target)
                })
                .count() as u32;
            assert_eq!(links[&target.to_string()], 1 + n, "links of {target}");
        }
    }
    assert!(checked > 0);
}
