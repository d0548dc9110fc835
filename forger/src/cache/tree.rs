//! Saving and restoring a staged tree: host bytes as hard links (copies across file
//! systems), the manifest as JSON, and a digest that proves the entry intact before use.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::Error;
use crate::stage::{EntryKind, Manifest, StagingTree};

/// Digests of files hashed earlier in this process, by file identity (device, inode, size,
/// mtime). A tree stored right after it was restored (the overlays entry after a payload
/// hit) shares almost every file, by hard link, with the entry it came from, so storing
/// need not read those bytes again (1.5 GB for a Debian image). Only storing trusts it;
/// restoring always reads every byte, so a file changed in place is still caught there.
#[derive(Debug, Clone, Default)]
pub(super) struct Known(Arc<Mutex<HashMap<FileId, String>>>);

/// Device, inode, size, mtime seconds and nanoseconds.
type FileId = (u64, u64, u64, i64, i64);

impl Known {
    /// The file's digest; a remembered one only when `trust` is set.
    fn digest(&self, path: &Path, trust: bool) -> Result<String, Error> {
        let key = fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()));
        let known = |k| self.0.lock().ok()?.get(k).cloned();
        if trust && let Some(d) = key.as_ref().and_then(known) {
            return Ok(d);
        }
        let d = file_digest(path)?;
        if let (Some(k), Ok(mut map)) = (key, self.0.lock()) {
            map.insert(k, d.clone());
        }
        Ok(d)
    }
}

/// Writes `tree` into the (new, empty) entry directory `dir`.
pub(super) fn save(tree: &StagingTree, dir: &Path, known: &Known) -> Result<(), Error> {
    let files = dir.join("tree");
    crate::stage::link_files(&tree.manifest, tree.root(), &files)?;
    let manifest = serde_json::to_vec(&tree.manifest).expect("manifests serialise");
    let digest = digest(&manifest, &tree.manifest, &files, known, true)?;
    write(&dir.join("manifest.json"), &manifest)?;
    write(&dir.join("digest"), digest.as_bytes())
}

/// Verifies the entry in `dir` and materialises it as a staging tree at `root`; `None` when
/// the entry does not match its digest.
pub(super) fn load(dir: &Path, root: &Path, known: &Known) -> Result<Option<StagingTree>, Error> {
    let Some(manifest) = checked_manifest(dir, known)? else {
        return Ok(None);
    };
    let files = dir.join("tree");
    if root.exists() {
        fs::remove_dir_all(root).map_err(Error::io(root))?;
    }
    crate::stage::link_files(&manifest, &files, root)?;
    Ok(Some(StagingTree::open(root, manifest)))
}

/// True when the entry in `dir` matches its digest.
pub(super) fn verify(dir: &Path) -> Result<bool, Error> {
    Ok(checked_manifest(dir, &Known::default())?.is_some())
}

/// The entry's manifest, when the entry matches its digest.
fn checked_manifest(dir: &Path, known: &Known) -> Result<Option<Manifest>, Error> {
    let Ok(bytes) = fs::read(dir.join("manifest.json")) else {
        return Ok(None);
    };
    let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
        return Ok(None);
    };
    let expected = fs::read_to_string(dir.join("digest")).map_err(Error::io(dir))?;
    match digest(&bytes, &manifest, &dir.join("tree"), known, false) {
        Ok(d) if d == expected.trim() => Ok(Some(manifest)),
        _ => Ok(None),
    }
}

/// `sha256:<hex>` of a file's bytes.
pub(super) fn file_digest(path: &Path) -> Result<String, Error> {
    let f = fs::File::open(path).map_err(Error::io(path))?;
    let mut h = Sha256::new();
    // Large reads: a 1.6 GB output or tree costs a few thousand read calls, not 200k.
    std::io::copy(&mut std::io::BufReader::with_capacity(1 << 20, f), &mut h)
        .map_err(Error::io(path))?;
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

/// Digest over the manifest bytes and, in path order, every regular file's bytes (files
/// already hashed in this process are taken from `known` when `trust` is set). Files are
/// hashed on every core; the digest is the same as one thread would give.
fn digest(
    manifest_bytes: &[u8],
    manifest: &Manifest,
    files: &Path,
    known: &Known,
    trust: bool,
) -> Result<String, Error> {
    let paths: Vec<&str> = manifest
        .iter()
        .filter(|(_, entry)| matches!(entry.kind, EntryKind::File))
        .map(|(path, _)| path.as_str())
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let next = AtomicUsize::new(0);
    let mut digests: Vec<Option<Result<String, Error>>> = Vec::new();
    digests.resize_with(paths.len(), || None);
    let found = Mutex::new(digests);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    let d = known.digest(&files.join(path), trust);
                    let failed = d.is_err();
                    if let Ok(mut all) = found.lock() {
                        all[i] = Some(d);
                    }
                    if failed {
                        break;
                    }
                }
            });
        }
    });
    let mut h = Sha256::new();
    h.update(manifest_bytes);
    let digests = found.into_inner().unwrap_or_else(|p| p.into_inner());
    for (path, d) in paths.iter().zip(digests) {
        // A file nobody reached lies after a failed one: that failure is reported first.
        let Some(d) = d else { continue };
        h.update(path.as_bytes());
        h.update(b"\0");
        h.update(d?.as_bytes());
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut f = fs::File::create(path).map_err(Error::io(path))?;
    f.write_all(bytes).map_err(Error::io(path))?;
    f.sync_all().map_err(Error::io(path))
}
