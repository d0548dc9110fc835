//! An ext4 image as the image of a base tree plus the changes from that tree to this one.
//!
//! Laying out 1.6 GB of installed packages with `mkfs.ext4 -d` takes most of a disk build,
//! and after an overlay edit it lays out the same bytes again. So a disk's filesystem is the
//! image of the payload (the base, built once and kept by an [`ImageStore`]) with a `debugfs`
//! script applied that removes what the overlays removed or replaced, creates what they added,
//! and sets the metadata of every entry they touched and of the directories around them.
//!
//! The script is a function of the two trees only, so a build that finds the base image kept
//! and one that builds it first write the same bytes. Hard links that the changes would touch
//! are the one case the script does not handle (debugfs cannot keep their counts): such a
//! tree is built whole instead, which is equally a function of the trees.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use super::{
    Error, io_err, parse_listing, quote_text, quoted, run_debugfs, write_listing_script,
    write_script,
};
use crate::stage::{Entry, EntryKind, StagePath, StagingTree};

/// The tree a filesystem is first built from, and where its image is kept between builds.
#[derive(Debug, Clone)]
pub struct Ext4Base {
    /// The base tree (the installed payload, before overlays), mtimes clamped like the tree.
    pub tree: Arc<StagingTree>,
    /// What identifies the base tree's content (its stage hash).
    pub key: String,
    /// Where base images are kept; `None` builds the base image every time.
    pub store: Option<Arc<dyn ImageStore>>,
}

/// Keeps built base images (the stage cache implements it). Every method is best effort: a
/// store that has nothing, or cannot keep, only costs time.
pub trait ImageStore: Debug + Send + Sync {
    /// Copies the image kept under `key` into `len` bytes of `image` at `offset`, which read
    /// as zeros; false when none is kept or the kept bytes fail their check. An implementation
    /// must check every byte it copies and leave the range reading as zeros when it returns
    /// false; an error means it could not.
    fn restore(&self, key: &str, image: &Path, offset: u64, len: u64) -> std::io::Result<bool>;
    /// Keeps the `len` bytes of `image` at `offset` under `key`.
    fn keep(&self, key: &str, image: &Path, offset: u64, len: u64);
    /// The image kept under `key`, `len` bytes, checked and held for this build alone, to be
    /// changed in place and put back before the loan is dropped. `None` when none is kept, the
    /// kept bytes fail their check, or another build holds it.
    fn lend(&self, key: &str, len: u64) -> std::io::Result<Option<Box<dyn KeptImage>>>;
}

/// A kept image on loan from an [`ImageStore`]: no other build reads it until it is dropped.
pub trait KeptImage: Send {
    /// Where it is, for the tools that change it and put it back.
    fn path(&self) -> &Path;
    /// It open for reading (the tools change it by [`path`](Self::path)).
    fn file(&self) -> &fs::File;
    /// It could not be put back as it was: the store forgets it.
    fn discard(&self);
}

/// The undo files of [`Delta::apply`]'s two writing runs, in the order they run.
pub(super) const UNDO_FILES: [&str; 2] = ["changes.e2undo", "metadata.e2undo"];

/// What turns the base tree's image into the tree's image.
#[derive(Debug, Default)]
pub(super) struct Delta {
    /// Entries to remove, children before their directory.
    removed: Vec<(StagePath, bool)>,
    /// Directories, files and symlinks to create, parents first (device nodes, FIFOs and
    /// sockets are made by the metadata script).
    created: Vec<StagePath>,
    /// Entries whose metadata is set afterwards: created and changed ones and the
    /// directories whose entries changed.
    touched: BTreeSet<StagePath>,
}

impl Delta {
    /// The changes from `base` to `tree`; `None` when they touch hard links.
    pub(super) fn between(base: &StagingTree, tree: &StagingTree) -> Result<Option<Delta>, Error> {
        let mut d = Delta::default();
        let mut replaced = Vec::new();
        for (path, old) in base.manifest.iter() {
            let Some(new) = tree.manifest.get(path) else {
                if touches_links(base, path, old) {
                    return Ok(None);
                }
                d.removed.push((path.clone(), old.is_dir()));
                continue;
            };
            if old.xattrs.keys().any(|k| !new.xattrs.contains_key(k)) {
                return Ok(None); // the script can set xattrs, not remove them
            }
            let same = same_metadata(old, new) && old.xattrs == new.xattrs;
            let renew = old.kind != new.kind
                || (matches!(new.kind, EntryKind::File) && !same_bytes(base, tree, path)?)
                // The metadata script makes special files, so a changed one is made anew.
                || (is_special(new) && !same);
            if renew {
                if touches_links(base, path, old) {
                    return Ok(None);
                }
                d.removed.push((path.clone(), old.is_dir()));
                replaced.push(path);
            } else if !same {
                d.touched.insert(path.clone());
            }
        }
        let mut created: Vec<&StagePath> = replaced;
        for (path, new) in tree.manifest.iter() {
            if base.manifest.get(path).is_none() {
                created.push(path);
            }
            if matches!(&new.kind, EntryKind::Hardlink { target } if created.contains(&target)) {
                return Ok(None);
            }
        }
        for path in created {
            let entry = tree
                .manifest
                .get(path)
                .expect("created entries are in the tree");
            if touches_links(tree, path, entry) {
                return Ok(None);
            }
            d.created.push(path.clone());
            d.touched.insert(path.clone());
        }
        for (path, _) in &d.removed {
            d.touched.extend(path.parent());
        }
        for path in &d.created {
            d.touched.extend(path.parent());
        }
        d.touched.retain(|p| tree.manifest.get(p).is_some());
        // Children before parents for removal, parents before children for creation.
        d.removed.sort_by(|a, b| b.0.cmp(&a.0));
        d.created.sort();
        Ok(Some(d))
    }

    /// Applies the changes to the base image at `offset` of `image`. Each writing run saves
    /// the blocks it overwrites first ([`UNDO_FILES`], in run order), into `undo` when given,
    /// so that `e2undo` can put the image back. The undo files are written either way: debugfs
    /// counts the bytes a session writes into the superblock (`s_kbytes_written`), and through
    /// its undo layer it counts differently, so every image takes the same path.
    pub(super) fn apply(
        &self,
        tree: &StagingTree,
        image: &Path,
        offset: u64,
        epoch: i64,
        undo: Option<&Path>,
    ) -> Result<(), Error> {
        if self.touched.is_empty() && self.removed.is_empty() {
            return Ok(());
        }
        let mut target = image.as_os_str().to_owned();
        target.push(format!("?offset={offset}"));
        let parent = undo.or(image.parent()).unwrap_or(Path::new("."));
        let work = tempfile::Builder::new()
            .prefix(".forger-ext4-delta-")
            .tempdir_in(parent)
            .map_err(io_err(parent))?;
        let undo_file = |i: usize| undo.unwrap_or(work.path()).join(UNDO_FILES[i]);

        let changes = work.path().join("changes.cmd");
        fs::write(&changes, self.change_script(tree)?).map_err(io_err(&changes))?;
        run_debugfs(&target, &changes, true, epoch, Some(&undo_file(0)))?;

        // Inode numbers of everything touched, from a listing of the directories holding it.
        let dirs: BTreeSet<StagePath> = self
            .touched
            .iter()
            .map(|p| p.parent().unwrap_or_else(StagePath::root))
            .chain(std::iter::once(StagePath::root()))
            .collect();
        let listing = work.path().join("list.cmd");
        write_listing_script(dirs.iter(), &listing)?;
        let inodes = parse_listing(&run_debugfs(&target, &listing, false, epoch, None)?);
        let script = work.path().join("metadata.cmd");
        let entries = self
            .touched
            .iter()
            .filter_map(|p| tree.manifest.get(p).map(|e| (p, e)));
        write_script(entries, &inodes, &script, &work.path().join("xattr"))?;
        run_debugfs(&target, &script, true, epoch, Some(&undo_file(1)))?;
        Ok(())
    }

    /// The removals, then the creations, as debugfs commands. Creations name the entry
    /// from its parent directory: `write` and `symlink` take the new name literally.
    fn change_script(&self, tree: &StagingTree) -> Result<String, Error> {
        let mut out = String::new();
        for (path, is_dir) in &self.removed {
            let verb = if *is_dir { "rmdir" } else { "rm" };
            writeln!(out, "{verb} {}", quoted(path)?).expect("writing to a String");
        }
        for path in &self.created {
            let entry = tree
                .manifest
                .get(path)
                .expect("created entries are in the tree");
            let name = quote_text(path.file_name(), path)?;
            let command = match &entry.kind {
                EntryKind::Directory => format!("mkdir {name}"),
                EntryKind::File => {
                    let host = tree.host_path(path);
                    let host = host.to_str().filter(|h| !h.contains('"')).ok_or_else(|| {
                        Error::UnsupportedName {
                            path: host.display().to_string(),
                        }
                    })?;
                    format!("write \"{host}\" {name}")
                }
                EntryKind::Symlink { target } => {
                    format!("symlink {name} {}", quote_text(target, path)?)
                }
                _ => continue,
            };
            let parent = path.parent().unwrap_or_else(StagePath::root);
            writeln!(out, "cd {}\n{command}", quoted(&parent)?).expect("writing to a String");
        }
        Ok(out)
    }
}

/// Device nodes, FIFOs and sockets.
fn is_special(entry: &Entry) -> bool {
    matches!(
        entry.kind,
        EntryKind::CharDevice { .. }
            | EntryKind::BlockDevice { .. }
            | EntryKind::Fifo
            | EntryKind::Socket
    )
}

/// Same owner, mode and time.
fn same_metadata(old: &Entry, new: &Entry) -> bool {
    (old.uid, old.gid, old.mode, old.mtime) == (new.uid, new.gid, new.mode, new.mtime)
}

/// True when the two trees hold the same bytes for the regular file `path`: the same host
/// file (a hard link, as a tree cloned from the base shares), or equal contents.
fn same_bytes(base: &StagingTree, tree: &StagingTree, path: &StagePath) -> Result<bool, Error> {
    let (a, b) = (base.host_path(path), tree.host_path(path));
    let (ma, mb) = (
        fs::metadata(&a).map_err(io_err(&a))?,
        fs::metadata(&b).map_err(io_err(&b))?,
    );
    if (ma.dev(), ma.ino()) == (mb.dev(), mb.ino()) {
        return Ok(true);
    }
    if ma.len() != mb.len() {
        return Ok(false);
    }
    let (mut fa, mut fb) = (
        fs::File::open(&a).map_err(io_err(&a))?,
        fs::File::open(&b).map_err(io_err(&b))?,
    );
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = fa.read(&mut ba).map_err(io_err(&a))?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n]).map_err(io_err(&b))?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

/// True when removing or creating `path` would change a hard-linked inode.
fn touches_links(tree: &StagingTree, path: &StagePath, entry: &Entry) -> bool {
    matches!(entry.kind, EntryKind::Hardlink { .. }) || tree.manifest.link_count(path) > 1
}
