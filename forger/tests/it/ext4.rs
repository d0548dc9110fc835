//! ext4 writer against e2fsprogs' own readers: `e2fsck -fn` must find the filesystem clean and
//! `debugfs` must show the manifest's owners, modes, times, device numbers, link targets,
//! hard-link counts and xattrs, whatever the host files look like. Two builds (and the
//! streamed vs. in-place paths) must be byte-identical.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use forger::cache::Cache;
use forger::fs::ext4::{Ext4Base, Ext4Writer, ImageStore};
use forger::fs::{BlockDevice, Filesystem};
use forger::seed::Seed;
use forger::stage::{Entry, EntryKind, StagePath, StagingTree};
use sha2::{Digest, Sha256};

use crate::util::{run, run_ok};

const MIB: u64 = 1 << 20;
const EPOCH: i64 = 1_700_000_000;

/// A byte range of a host file, as the disk assembler hands one to a filesystem writer.
struct Window {
    file: fs::File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.len.saturating_sub(self.pos)) as usize;
        self.file.seek(SeekFrom::Start(self.start + self.pos))?;
        let got = self.file.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Write for Window {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pos + buf.len() as u64 > self.len {
            return Err(io::Error::other("write past the end of the partition"));
        }
        self.file.seek(SeekFrom::Start(self.start + self.pos))?;
        let n = self.file.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => n as i64,
            SeekFrom::Current(d) => self.pos as i64 + d,
            SeekFrom::End(d) => self.len as i64 + d,
        };
        if new < 0 {
            return Err(io::Error::other("seek before the start"));
        }
        self.pos = new as u64;
        Ok(self.pos)
    }
}

impl BlockDevice for Window {
    fn size_bytes(&self) -> u64 {
        self.len
    }
}

fn p(s: &str) -> StagePath {
    StagePath::new(s).expect("valid path")
}

fn entry(kind: EntryKind, uid: u32, gid: u32, mode: u32, mtime: i64) -> Entry {
    let mut e = Entry::new(kind, uid, gid, mode);
    e.mtime = mtime;
    e
}

/// A small tree with every entry kind and unusual owners and modes. `reverse` creates the
/// host files in the opposite order, so host inode numbers and times differ between builds.
fn synthetic_tree(root: &Path, reverse: bool) -> StagingTree {
    let mut t = StagingTree::create(root).expect("tree");
    let dirs = [
        ("/etc", 0, 0, 0o755),
        ("/home", 0, 0, 0o755),
        ("/home/alice", 1000, 1000, 0o700),
        ("/usr", 0, 0, 0o755),
        ("/usr/bin", 0, 0, 0o755),
        ("/dev", 0, 0, 0o755),
        ("/run", 0, 0, 0o755),
        ("/tmp", 0, 0, 0o1777),
        ("/many", 33, 33, 0o750),
    ];
    for (d, u, g, m) in dirs {
        t.ensure_dir(&p(d), u, g, m).expect("dir");
        t.manifest.get_mut(&p(d)).expect("dir entry").mtime = EPOCH - 10;
    }
    let mut files: Vec<(String, u32, u32, u32, Vec<u8>)> = vec![
        (
            "/etc/shadow".into(),
            0,
            42,
            0o640,
            b"root:*:19000:0:99999:7:::\n".to_vec(),
        ),
        (
            "/home/alice/notes".into(),
            1000,
            1000,
            0o600,
            b"hello\n".to_vec(),
        ),
        ("/usr/bin/ping".into(), 0, 0, 0o4755, vec![0x7f; 3000]),
        (
            "/usr/bin/big".into(),
            0,
            0,
            0o755,
            (0..5 * MIB as usize).map(|i| (i % 251) as u8).collect(),
        ),
        (
            "/home/alice/with space".into(),
            4_000_000_000,
            4_000_000_001,
            0o2710,
            b"x".to_vec(),
        ),
    ];
    for i in 0..300 {
        files.push((
            format!("/many/file-{i:04}"),
            33,
            33,
            0o644,
            format!("{i}\n").into_bytes(),
        ));
    }
    if reverse {
        files.reverse();
    }
    for (path, u, g, m, bytes) in files {
        t.write_file(
            &p(&path),
            &mut &bytes[..],
            entry(EntryKind::File, u, g, m, EPOCH - 5),
        )
        .expect("file");
    }
    t.add_hardlink(&p("/usr/bin/ping6"), &p("/usr/bin/ping"))
        .expect("hardlink");
    let ping = t.manifest.get_mut(&p("/usr/bin/ping")).expect("ping");
    ping.xattrs.insert(
        "security.capability".into(),
        vec![
            1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    let specials = [
        (
            "/bin",
            EntryKind::Symlink {
                target: "usr/bin".into(),
            },
            0,
            0,
            0o777,
        ),
        (
            "/dev/null",
            EntryKind::CharDevice { major: 1, minor: 3 },
            0,
            0,
            0o666,
        ),
        (
            "/dev/sda",
            EntryKind::BlockDevice { major: 8, minor: 0 },
            0,
            6,
            0o660,
        ),
        ("/run/initctl", EntryKind::Fifo, 0, 0, 0o600),
        ("/run/sock", EntryKind::Socket, 7, 7, 0o755),
        (
            "/home/alice/link",
            EntryKind::Symlink {
                target: "/etc/shadow".into(),
            },
            1000,
            1000,
            0o777,
        ),
    ];
    for (path, kind, u, g, m) in specials {
        t.add_special(&p(path), entry(kind, u, g, m, EPOCH - 1))
            .expect("special");
    }
    t
}

fn debugfs(image: &str, request: &str) -> String {
    run_ok(Command::new("debugfs").arg("-R").arg(request).arg(image))
}

fn field<'a>(stat: &'a str, name: &str) -> &'a str {
    let at = stat
        .find(name)
        .unwrap_or_else(|| panic!("`{name}` not in debugfs output:\n{stat}"));
    stat[at + name.len()..]
        .split_whitespace()
        .next()
        .expect("a value after the field name")
}

/// `e2fsck -fn` finds the filesystem at `image` (a path, possibly with `?offset=`) clean.
fn assert_clean(image: &str) {
    let out = run(Command::new("e2fsck").arg("-fn").arg(image));
    assert!(
        out.status.success(),
        "e2fsck -fn found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sha256_range(path: &Path, start: u64, len: u64) -> String {
    let mut f = fs::File::open(path).expect("open image");
    f.seek(SeekFrom::Start(start)).expect("seek");
    let mut h = Sha256::new();
    io::copy(&mut f.take(len), &mut h).expect("hash");
    hex::encode(h.finalize())
}

fn writer() -> Ext4Writer {
    Ext4Writer::from_seed(&Seed::new("ext4-test/1/raw"), "root", "root", EPOCH)
}

/// Builds the tree through the `Filesystem` trait into a 64 MiB partition at 1 MiB of a disk.
fn build_streamed(dir: &Path, name: &str, reverse: bool) -> std::path::PathBuf {
    let tree = synthetic_tree(&dir.join(format!("{name}-stage")), reverse);
    let disk = dir.join(format!("{name}.raw"));
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&disk)
        .expect("disk");
    file.set_len(66 * MIB).expect("size");
    let mut dev = Window {
        file,
        start: MIB,
        len: 64 * MIB,
        pos: 0,
    };
    writer().write(&mut dev, &tree).expect("ext4 write");
    disk
}

#[test]
fn ext4_metadata_comes_from_the_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = build_streamed(dir.path(), "a", false);
    let image = format!("{}?offset={}", disk.display(), MIB);

    assert_clean(&image);

    let w = writer();
    let super_block = run_ok(Command::new("dumpe2fs").arg("-h").arg(&image));
    assert!(super_block.contains(&w.uuid), "{super_block}");
    assert!(super_block.contains(&format!("Directory Hash Seed:      {}", w.hash_seed)));
    assert_eq!(field(&super_block, "Block size:"), "4096");

    // (path, type, mode, uid, gid)
    let expect = [
        ("/", "directory", "0755", "0", "0"),
        ("/etc/shadow", "regular", "0640", "0", "42"),
        ("/home/alice", "directory", "0700", "1000", "1000"),
        ("/home/alice/notes", "regular", "0600", "1000", "1000"),
        (
            "/home/alice/with space",
            "regular",
            "02710",
            "4000000000",
            "4000000001",
        ),
        ("/usr/bin/ping", "regular", "04755", "0", "0"),
        ("/tmp", "directory", "01777", "0", "0"),
        ("/bin", "symlink", "0777", "0", "0"),
        ("/home/alice/link", "symlink", "0777", "1000", "1000"),
        ("/dev/null", "character special", "0666", "0", "0"),
        ("/dev/sda", "block special", "0660", "0", "6"),
        ("/run/initctl", "FIFO", "0600", "0", "0"),
        ("/run/sock", "socket", "0755", "7", "7"),
        ("/many/file-0123", "regular", "0644", "33", "33"),
    ];
    for (path, ty, mode, uid, gid) in expect {
        let stat = debugfs(&image, &format!("stat \"{path}\""));
        assert!(stat.contains(&format!("Type: {ty} ")), "{path}: {stat}");
        assert_eq!(field(&stat, "Mode:"), mode, "{path}");
        // debugfs prints ids as signed 32-bit numbers (4000000000 shows as -294967296).
        let id = |name| field(&stat, name).parse::<i64>().expect("numeric id") as u32;
        assert_eq!(id("User:").to_string(), uid, "{path}");
        assert_eq!(id("Group:").to_string(), gid, "{path}");
    }
    let null = debugfs(&image, "stat /dev/null");
    assert!(null.contains("Device major/minor number: 01:03"), "{null}");
    let sda = debugfs(&image, "stat /dev/sda");
    assert!(sda.contains("Device major/minor number: 08:00"), "{sda}");
    let bin = debugfs(&image, "stat /bin");
    assert!(bin.contains("Fast link dest: \"usr/bin\""), "{bin}");
    let ping = debugfs(&image, "stat /usr/bin/ping");
    assert_eq!(field(&ping, "Links:"), "2");
    let ping6 = debugfs(&image, "stat /usr/bin/ping6");
    assert_eq!(
        field(&ping6, "Inode:"),
        field(&ping, "Inode:"),
        "hard link shares the inode"
    );
    assert!(
        ping.contains(&format!(" mtime: 0x{:08x}:00000000", EPOCH - 5)),
        "{ping}"
    );
    assert!(ping.contains(&format!(" ctime: 0x{:08x}:00000000", EPOCH - 5)));
    let xattrs = debugfs(&image, "ea_list /usr/bin/ping");
    assert!(xattrs.contains("security.capability (20)"), "{xattrs}");
    assert_eq!(debugfs(&image, "cat /home/alice/notes"), "hello\n");
    assert_eq!(debugfs(&image, "cat /many/file-0299"), "299\n");
    let big = Command::new("debugfs")
        .args(["-R", "cat /usr/bin/big"])
        .arg(&image)
        .output()
        .expect("debugfs cat");
    let want: Vec<u8> = (0..5 * MIB as usize).map(|i| (i % 251) as u8).collect();
    assert!(big.stdout == want, "5 MiB file read back differs");
    // The bytes around the partition are untouched.
    assert_eq!(
        sha256_range(&disk, 0, MIB),
        sha256_range(&disk, 65 * MIB, MIB)
    );
}

#[test]
fn ext4_builds_are_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = build_streamed(dir.path(), "a", false);
    let b = build_streamed(dir.path(), "b", true);
    assert_eq!(
        sha256_range(&a, 0, 66 * MIB),
        sha256_range(&b, 0, 66 * MIB),
        "two builds of the same manifest differ"
    );
    // The in-place path (`mkfs.ext4 -E offset=` on the output file) gives the same bytes.
    let tree = synthetic_tree(&dir.path().join("c-stage"), false);
    let c = dir.path().join("c.raw");
    fs::File::create(&c)
        .and_then(|f| f.set_len(66 * MIB))
        .expect("disk c");
    writer()
        .write_at(&tree, &c, MIB, 64 * MIB)
        .expect("in-place write");
    assert_eq!(sha256_range(&a, 0, 66 * MIB), sha256_range(&c, 0, 66 * MIB));
}

#[test]
fn ext4_reports_a_tree_too_large_for_the_partition() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tree = StagingTree::create(dir.path().join("stage")).expect("tree");
    let bytes = vec![0x55u8; 12 * MIB as usize];
    tree.write_file(&p("/big"), &mut &bytes[..], Entry::file(0, 0, 0o644))
        .expect("file");
    let img = dir.path().join("small.img");
    fs::File::create(&img)
        .and_then(|f| f.set_len(8 * MIB))
        .expect("img");
    let err = writer()
        .write_at(&tree, &img, 0, 8 * MIB)
        .expect_err("12 MiB cannot fit into 8 MiB");
    assert!(
        matches!(err, forger::fs::ext4::Error::TooSmall { .. }),
        "unexpected error {err:?}"
    );
}

/// The synthetic tree after changes of every sort an overlay stage makes: new, changed and
/// removed files, a removed directory with content, a new directory, a retargeted symlink,
/// metadata-only changes, a new and a changed device node, and a FIFO that became a file.
fn changed_tree(base: &StagingTree, root: &Path) -> StagingTree {
    let mut t = base.link_clone(root).expect("clone");
    let file = |u, g, m| entry(EntryKind::File, u, g, m, EPOCH - 2);
    t.write_file(
        &p("/etc/shadow"),
        &mut &b"root:!:1:0:::::\n"[..],
        file(0, 42, 0o640),
    )
    .expect("shadow");
    t.write_file(&p("/etc/motd"), &mut &b"changed\n"[..], file(0, 0, 0o644))
        .expect("motd");
    t.ensure_dir(&p("/srv/new"), 0, 0, 0o750).expect("dir");
    t.write_file(
        &p("/srv/new/data"),
        &mut &[7u8; 70_000][..],
        file(5, 5, 0o600),
    )
    .expect("data");
    t.remove(&p("/home/alice/notes")).expect("remove a file");
    t.remove(&p("/many")).expect("remove a directory");
    t.add_special(
        &p("/bin"),
        entry(
            EntryKind::Symlink {
                target: "usr/sbin".into(),
            },
            0,
            0,
            0o777,
            EPOCH - 2,
        ),
    )
    .expect("symlink");
    t.manifest.get_mut(&p("/tmp")).expect("tmp").mode = 0o1770;
    t.manifest.get_mut(&p("/usr/bin/big")).expect("big").uid = 77;
    t.add_special(
        &p("/dev/zero"),
        entry(
            EntryKind::CharDevice { major: 1, minor: 5 },
            0,
            0,
            0o666,
            EPOCH - 2,
        ),
    )
    .expect("zero");
    t.manifest.get_mut(&p("/dev/null")).expect("null").mode = 0o600;
    t.remove(&p("/run/initctl")).expect("remove the FIFO");
    t.write_file(
        &p("/run/initctl"),
        &mut &b"now a file\n"[..],
        file(0, 0, 0o644),
    )
    .expect("initctl");
    t
}

/// Writes `tree` with `w` into a fresh 66 MiB disk at 1 MiB and returns its digest.
fn write_disk(w: &Ext4Writer, tree: &StagingTree, disk: &Path) -> String {
    fs::File::create(disk)
        .and_then(|f| f.set_len(66 * MIB))
        .expect("disk");
    w.write_at(tree, disk, MIB, 64 * MIB).expect("ext4 write");
    sha256_range(disk, 0, 66 * MIB)
}

/// The synthetic tree as a base, the changed tree on it, and a stage cache, below `dir`.
fn base_and_change(dir: &Path) -> (Arc<StagingTree>, StagingTree, Cache) {
    let base = Arc::new(synthetic_tree(&dir.join("base"), false));
    let tree = changed_tree(&base, &dir.join("tree"));
    (base, tree, Cache::new(dir.join("cache")))
}

/// The test writer on `base`, keeping base images in `store` when given.
fn writer_on_base(base: &Arc<StagingTree>, store: Option<&Cache>) -> Ext4Writer {
    Ext4Writer {
        base: Some(Ext4Base {
            tree: Arc::clone(base),
            key: "sha256:base".into(),
            store: store.map(|c| Arc::new(c.clone()) as Arc<dyn ImageStore>),
        }),
        ..writer()
    }
}

#[test]
fn ext4_on_a_base_holds_the_changed_tree_and_does_not_depend_on_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, tree, cache) = base_and_change(dir.path());
    let on_base = |store: bool| writer_on_base(&base, store.then_some(&cache));

    let built = write_disk(&on_base(true), &tree, &dir.path().join("a.raw"));
    let kept = cache.list().expect("ls");
    assert!(kept.iter().any(|e| e.kind == "image"), "{kept:?}");
    let restored = write_disk(&on_base(true), &tree, &dir.path().join("b.raw"));
    let no_store = write_disk(&on_base(false), &tree, &dir.path().join("c.raw"));
    assert_eq!(built, restored, "a kept base image changes the output");
    assert_eq!(built, no_store, "a store changes the output");

    let image = format!("{}?offset={}", dir.path().join("a.raw").display(), MIB);
    assert_clean(&image);
    assert_eq!(debugfs(&image, "cat /etc/shadow"), "root:!:1:0:::::\n");
    assert_eq!(debugfs(&image, "cat /etc/motd"), "changed\n");
    assert_eq!(debugfs(&image, "cat /run/initctl"), "now a file\n");
    let data = debugfs(&image, "stat /srv/new/data");
    assert_eq!(field(&data, "Size:"), "70000");
    assert_eq!(field(&data, "User:"), "5");
    assert_eq!(field(&data, "Mode:"), "0600");
    assert_eq!(field(&debugfs(&image, "stat /srv/new"), "Mode:"), "0750");
    for gone in ["/home/alice/notes", "/many", "/many/file-0001"] {
        let listing = run(Command::new("debugfs")
            .arg("-R")
            .arg(format!("stat {gone}"))
            .arg(&image));
        assert!(
            String::from_utf8_lossy(&listing.stderr).contains("File not found"),
            "{gone} is still there"
        );
    }
    assert!(debugfs(&image, "stat /bin").contains("Fast link dest: \"usr/sbin\""));
    assert_eq!(field(&debugfs(&image, "stat /tmp"), "Mode:"), "01770");
    assert_eq!(field(&debugfs(&image, "stat /usr/bin/big"), "User:"), "77");
    let zero = debugfs(&image, "stat /dev/zero");
    assert!(zero.contains("Device major/minor number: 01:05"), "{zero}");
    assert_eq!(field(&debugfs(&image, "stat /dev/null"), "Mode:"), "0600");
    let ping = debugfs(&image, "stat /usr/bin/ping");
    assert_eq!(field(&ping, "Links:"), "2", "the untouched hard link stays");
    assert!(debugfs(&image, "ea_list /usr/bin/ping").contains("security.capability (20)"));
    let motd = debugfs(&image, "stat /etc/motd");
    assert!(
        motd.contains(&format!(" mtime: 0x{:08x}:00000000", EPOCH - 2)),
        "{motd}"
    );

    // A damaged kept image is found out, dropped and built again: same bytes.
    let images = dir.path().join("cache/images");
    let kept = fs::read_dir(&images)
        .expect("images")
        .next()
        .expect("one")
        .expect("entry");
    let kept_image = kept.path().join("image");
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&kept_image)
        .expect("open");
    f.seek(SeekFrom::Start(1024 + 100))
        .expect("seek into the superblock");
    f.write_all(b"damage").expect("damage");
    drop(f);
    assert_eq!(
        write_disk(&on_base(true), &tree, &dir.path().join("d.raw")),
        built
    );
    assert!(kept.path().join("digest").is_file(), "kept again");

    // A change to a hard-linked file is not made on the base: the tree is built whole.
    let mut linked = base.link_clone(dir.path().join("linked")).expect("clone");
    linked
        .write_file(
            &p("/usr/bin/ping"),
            &mut &b"new ping"[..],
            entry(EntryKind::File, 0, 0, 0o4755, EPOCH - 5),
        )
        .expect("ping");
    linked
        .add_hardlink(&p("/usr/bin/ping6"), &p("/usr/bin/ping"))
        .expect("link");
    assert_eq!(
        write_disk(&on_base(true), &linked, &dir.path().join("e.raw")),
        write_disk(&writer(), &linked, &dir.path().join("f.raw")),
    );
}

/// A QCOW2 disk reads its root partition from the kept base image, changed in place for the
/// build and put back afterwards: the disk is the same as one built without a store or from a
/// copy of the kept image, `e2fsck -fn` finds its root clean, and the kept image holds its
/// old bytes again.
#[test]
fn ext4_lent_base_image_gives_the_same_disk_and_is_put_back() {
    use forger::disk::{self, Compression, Format, Layout, PartitionContent, WriteOptions};
    use std::os::unix::fs::FileExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let (base, tree, cache) = base_and_change(dir.path());
    let on_base = |store: bool| writer_on_base(&base, store.then_some(&cache));
    let layout = Layout::linux(100 * MIB, 32 * MIB, 512, false).expect("layout");
    let (root_start, _) = layout.byte_range(1).expect("root");
    let qcow2 = |w: &Ext4Writer, name: &str| {
        let out = dir.path().join(name);
        let contents = [PartitionContent {
            partition: 1,
            filesystem: w,
        }];
        let options = WriteOptions::new(Format::Qcow2 {
            compression: Compression::None,
        });
        disk::write(
            &layout,
            &contents,
            &tree,
            &out,
            &options,
            &Seed::new("lend"),
        )
        .expect("disk");
        fs::read(&out).expect("read the disk")
    };

    let built = qcow2(&on_base(true), "built.qcow2");
    let kept = fs::read_dir(dir.path().join("cache/images"))
        .expect("images")
        .next()
        .expect("one image kept")
        .expect("entry")
        .path()
        .join("image");
    let kept_len = fs::metadata(&kept).expect("kept").len();
    let kept_bytes = sha256_range(&kept, 0, kept_len);
    let kept_mtime = fs::metadata(&kept)
        .and_then(|m| m.modified())
        .expect("mtime");

    let lent = qcow2(&on_base(true), "lent.qcow2");
    let lent_mtime = fs::metadata(&kept)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_ne!(
        kept_mtime, lent_mtime,
        "the kept image was not changed in place"
    );
    assert_eq!(sha256_range(&kept, 0, kept_len), kept_bytes, "not put back");
    assert!(lent == built, "a lent image changes the disk");
    assert!(
        qcow2(&on_base(false), "none.qcow2") == built,
        "a store changes the disk"
    );

    // While another build reads the kept image it is not lent but copied: same disk.
    let reader = fs::File::open(&kept).expect("open");
    rustix::fs::flock(&reader, rustix::fs::FlockOperation::LockShared).expect("shared lock");
    assert!(qcow2(&on_base(true), "copied.qcow2") == built);
    let copied_mtime = fs::metadata(&kept)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(copied_mtime, lent_mtime, "lent while another build read it");
    drop(reader);

    // Builds at the same time: one borrows the image, the others copy it or wait; the same
    // disk from each, and the image is put back.
    let disks = std::thread::scope(|scope| {
        let running: Vec<_> = (0..3)
            .map(|i| scope.spawn(move || qcow2(&on_base(true), &format!("together-{i}.qcow2"))))
            .collect();
        running
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect::<Vec<_>>()
    });
    assert!(
        disks.iter().all(|d| *d == built),
        "builds at the same time differ"
    );
    assert_eq!(sha256_range(&kept, 0, kept_len), kept_bytes, "not put back");

    let lent_path = dir.path().join("lent.qcow2");
    let check = run(Command::new("qemu-img").arg("check").arg(&lent_path));
    assert!(check.status.success(), "qemu-img check: {check:?}");
    let raw = dir.path().join("lent.raw");
    run_ok(
        Command::new("qemu-img")
            .args(["convert", "-O", "raw"])
            .arg(&lent_path)
            .arg(&raw),
    );
    let image = format!("{}?offset={root_start}", raw.display());
    assert_clean(&image);
    assert_eq!(debugfs(&image, "cat /etc/motd"), "changed\n");

    // A damaged kept image is not lent: it is dropped, built and kept again. Same disk.
    let f = fs::OpenOptions::new()
        .write(true)
        .open(&kept)
        .expect("open");
    f.write_all_at(b"damage", 1024 + 100).expect("damage");
    drop(f);
    assert!(qcow2(&on_base(true), "damaged.qcow2") == built);
    assert_eq!(sha256_range(&kept, 0, kept_len), kept_bytes, "kept again");
}
