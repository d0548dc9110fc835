//! Cache behaviour: round trip, corruption detection, races, LRU pruning.

use std::fs;

use super::*;
use crate::stage::{Entry, EntryKind, StagePath};

fn tree(dir: &Path) -> StagingTree {
    let mut t = StagingTree::create(dir.join("stage")).unwrap();
    let etc = StagePath::new("/etc").unwrap();
    t.ensure_dir(&etc, 0, 3, 0o755).unwrap();
    let hosts = StagePath::new("/etc/hosts").unwrap();
    t.write_file(
        &hosts,
        &mut &b"127.0.0.1 localhost\n"[..],
        Entry::file(0, 0, 0o644),
    )
    .unwrap();
    t.add_hardlink(&StagePath::new("/etc/hosts2").unwrap(), &hosts)
        .unwrap();
    t.add_special(
        &StagePath::new("/etc/link").unwrap(),
        Entry::new(
            EntryKind::Symlink {
                target: "hosts".into(),
            },
            0,
            0,
            0o777,
        ),
    )
    .unwrap();
    t
}

#[test]
fn a_stored_tree_restores_equal_and_a_miss_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path().join("cache"));
    let t = tree(dir.path());
    assert_eq!(
        cache
            .restore_tree("sha256:aa", &dir.path().join("r0"))
            .unwrap()
            .0,
        Lookup::Miss
    );
    cache.store_tree("sha256:aa", &t).unwrap();
    let (lookup, restored) = cache
        .restore_tree("sha256:aa", &dir.path().join("r1"))
        .unwrap();
    assert_eq!(lookup, Lookup::Hit);
    let restored = restored.unwrap();
    assert_eq!(restored.manifest, t.manifest);
    let bytes = fs::read(restored.host_path(&StagePath::new("/etc/hosts2").unwrap())).unwrap();
    assert_eq!(bytes, b"127.0.0.1 localhost\n");
}

#[test]
fn a_corrupt_entry_is_detected_dropped_and_missed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path().join("cache"));
    let mut t = tree(dir.path());
    cache.store_tree("sha256:bb", &t).unwrap();
    // Rewriting the staged file through the tree API unlinks first: the cache is unaffected.
    t.write_file(
        &StagePath::new("/etc/hosts").unwrap(),
        &mut &b"changed"[..],
        Entry::file(0, 0, 0o644),
    )
    .unwrap();
    assert_eq!(
        cache
            .restore_tree("sha256:bb", &dir.path().join("r"))
            .unwrap()
            .0,
        Lookup::Hit
    );
    // Damage the cached bytes behind the cache's back.
    let cached = cache.dir().join("stages/bb/tree/etc/hosts");
    fs::remove_file(&cached).unwrap();
    fs::write(&cached, "127.0.0.1 evil\n").unwrap();
    assert_eq!(
        cache
            .restore_tree("sha256:bb", &dir.path().join("r2"))
            .unwrap()
            .0,
        Lookup::Corrupt
    );
    assert!(!cache.dir().join("stages/bb").exists());
    assert_eq!(
        cache
            .restore_tree("sha256:bb", &dir.path().join("r3"))
            .unwrap()
            .0,
        Lookup::Miss
    );
}

#[test]
fn outputs_round_trip_and_concurrent_stores_agree() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path().join("cache"));
    let out = dir.path().join("img.tar.gz");
    fs::write(&out, vec![7u8; 10_000]).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| cache.store_output("sha256:cc", &out).unwrap());
        }
    });
    let dest = dir.path().join("again.tar.gz");
    assert_eq!(
        cache.restore_output("sha256:cc", &dest).unwrap(),
        Lookup::Hit
    );
    assert_eq!(fs::read(&dest).unwrap(), vec![7u8; 10_000]);
    let leftovers: Vec<_> = fs::read_dir(cache.dir().join("outputs")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no partial entries are left behind");
}

#[test]
fn prune_evicts_least_recently_used_first() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path().join("cache"));
    for (i, h) in ["sha256:01", "sha256:02", "sha256:03"].iter().enumerate() {
        let f = dir.path().join(format!("o{i}"));
        fs::write(&f, vec![0u8; 1000]).unwrap();
        cache.store_output(h, &f).unwrap();
        let e = cache.dir().join("outputs").join(&h[7..]);
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + i as u64);
        fs::File::open(&e).unwrap().set_modified(t).unwrap();
    }
    let evicted = cache.prune(2200).unwrap();
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0].hash, "01");
    assert_eq!(cache.list().unwrap().len(), 2);
}

#[test]
fn a_tree_stored_after_a_restore_is_valid_and_later_changes_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path().join("cache"));
    cache.store_tree("sha256:aa", &tree(dir.path())).unwrap();
    let (_, restored) = cache
        .restore_tree("sha256:aa", &dir.path().join("r1"))
        .unwrap();
    let mut next = restored.unwrap();
    next.write_file(
        &StagePath::new("/etc/motd").unwrap(),
        &mut &b"hi\n"[..],
        Entry::file(0, 0, 0o644),
    )
    .unwrap();
    // Most files are shared with entry `aa` by hard link; their digests are remembered.
    cache.store_tree("sha256:bb", &next).unwrap();
    let (lookup, again) = cache
        .restore_tree("sha256:bb", &dir.path().join("r2"))
        .unwrap();
    assert_eq!(lookup, Lookup::Hit);
    assert_eq!(again.unwrap().manifest, next.manifest);

    // A shared file changed in place (same inode) is caught on the next restore.
    let hosts = dir.path().join("r2/etc/hosts");
    fs::OpenOptions::new()
        .write(true)
        .open(&hosts)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"X"))
        .unwrap();
    let (lookup, _) = cache
        .restore_tree("sha256:bb", &dir.path().join("r3"))
        .unwrap();
    assert_eq!(lookup, Lookup::Corrupt);
}

/// A staged tree with one file of `len` pseudo-random bytes (several compressor blocks).
fn big_tree(dir: &Path, len: usize, seed: u64) -> StagingTree {
    let mut t = StagingTree::create(dir).unwrap();
    let mut s = seed;
    let bytes: Vec<u8> = (0..len)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Half noise, half text, so gzip has something to do.
            if i % 2 == 0 {
                s as u8
            } else {
                b'a' + (s % 4) as u8
            }
        })
        .collect();
    t.write_file(
        &StagePath::new("/big").unwrap(),
        &mut &bytes[..],
        Entry::file(0, 0, 0o644),
    )
    .unwrap();
    t
}

#[test]
fn compressed_blocks_are_reused_checked_listed_and_pruned() {
    use crate::archive::{self, ArchiveOptions, BlockMemo, Compression};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path().join("cache"));
    let t = big_tree(&dir.path().join("t"), 6 << 20, 9);
    let write = |name: &str, memo: bool| {
        let out = dir.path().join(name);
        let options = ArchiveOptions {
            memo: memo.then(|| Arc::new(cache.clone()) as Arc<dyn BlockMemo>),
            ..ArchiveOptions::new(Compression::Gzip, 0)
        };
        archive::write(&t, &out, &options).unwrap();
        fs::read(out).unwrap()
    };
    let plain = write("plain.tar.gz", false);
    assert!(
        write("first.tar.gz", true) == plain,
        "a memo changes nothing"
    );
    let blocks = dir.path().join("cache/blocks/gzip-6");
    let mut kept: Vec<_> = fs::read_dir(&blocks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    kept.sort();
    assert!(kept.len() >= 3, "{} blocks kept", kept.len());

    // A damaged block is not used: it is dropped, compressed again, and kept anew.
    let victim = &kept[1];
    let mut bytes = fs::read(victim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    fs::write(victim, &bytes).unwrap();
    assert!(
        write("second.tar.gz", true) == plain,
        "a damaged block is not used"
    );
    assert_ne!(
        fs::read(victim).unwrap(),
        bytes,
        "the block was written anew"
    );

    let listed = cache.list().unwrap();
    let entry = listed.iter().find(|e| e.kind == "blocks").unwrap();
    assert_eq!(entry.hash, "gzip-6");
    assert!(entry.size > 1 << 20, "{}", entry.size);
    let evicted = cache.prune(0).unwrap();
    assert!(evicted.iter().any(|e| e.kind == "blocks"));
    assert!(!blocks.exists());
}
