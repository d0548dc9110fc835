//! The ownership manifest: what every entry of the image is, independent of what the host
//! filesystem could record. Writers iterate it in [`StagePath`] order, which is deterministic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Error, StagePath};

/// What kind of file an entry is. Regular file contents live in the staging tree on the host;
/// everything else is described here completely (device nodes, for instance, are never created
/// on the host, so staging needs no privileges).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EntryKind {
    /// A directory.
    Directory,
    /// A regular file; its bytes are at the same path in the staging tree.
    File,
    /// A symbolic link.
    Symlink {
        /// The link's target, verbatim (relative or absolute inside the image).
        target: String,
    },
    /// A further name for a regular file. `target` is the first name of the file in path
    /// order; the manifest keeps it that way when names are removed. The staging tree holds
    /// the bytes under every name (as a host hard link), so any name can be read.
    Hardlink {
        /// The regular-file entry this name shares its inode with.
        target: StagePath,
    },
    /// A character device.
    CharDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A block device.
    BlockDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
    /// A UNIX socket.
    Socket,
}

/// One entry of the image: its kind plus ownership, permission bits, mtime and xattrs.
/// For a [`EntryKind::Hardlink`] the metadata mirrors the target's (they share an inode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Kind and kind-specific data.
    #[serde(flatten)]
    pub kind: EntryKind,
    /// Owner user id inside the image.
    pub uid: u32,
    /// Owner group id inside the image.
    pub gid: u32,
    /// Permission bits including setuid/setgid/sticky (`0o7777` at most); no file-type bits.
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Extended attributes (name → value), e.g. `security.capability`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

impl Entry {
    /// A directory owned by `uid:gid` with `mode`.
    pub fn directory(uid: u32, gid: u32, mode: u32) -> Self {
        Self::new(EntryKind::Directory, uid, gid, mode)
    }

    /// A regular file owned by `uid:gid` with `mode`.
    pub fn file(uid: u32, gid: u32, mode: u32) -> Self {
        Self::new(EntryKind::File, uid, gid, mode)
    }

    /// An entry of any kind with mtime 0 and no xattrs.
    pub fn new(kind: EntryKind, uid: u32, gid: u32, mode: u32) -> Self {
        Entry {
            kind,
            uid,
            gid,
            mode: mode & 0o7777,
            mtime: 0,
            xattrs: BTreeMap::new(),
        }
    }

    /// True for directories.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, EntryKind::Directory)
    }

    /// The POSIX file-type bits (`S_IFREG`, …) for this kind, as tar, ZFS and ext4 want them.
    pub fn type_bits(&self) -> u32 {
        match self.kind {
            EntryKind::Directory => 0o040000,
            EntryKind::File | EntryKind::Hardlink { .. } => 0o100000,
            EntryKind::Symlink { .. } => 0o120000,
            EntryKind::CharDevice { .. } => 0o020000,
            EntryKind::BlockDevice { .. } => 0o060000,
            EntryKind::Fifo => 0o010000,
            EntryKind::Socket => 0o140000,
        }
    }
}

/// Every entry of the image keyed by path. The root directory is always present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    entries: BTreeMap<StagePath, Entry>,
}

impl Default for Manifest {
    fn default() -> Self {
        let mut entries = BTreeMap::new();
        entries.insert(StagePath::root(), Entry::directory(0, 0, 0o755));
        Manifest { entries }
    }
}

impl Manifest {
    /// A manifest holding only the root directory (`0:0`, `0755`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry at `path`.
    pub fn get(&self, path: &StagePath) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Mutable access to the entry at `path`.
    pub fn get_mut(&mut self, path: &StagePath) -> Option<&mut Entry> {
        self.entries.get_mut(path)
    }

    /// All entries in path order (a directory comes before its contents).
    pub fn iter(&self) -> impl Iterator<Item = (&StagePath, &Entry)> {
        self.entries.iter()
    }

    /// Number of entries, the root included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Never true: the root is always present. Here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The direct children of `dir`, in name order.
    pub fn children<'a>(
        &'a self,
        dir: &'a StagePath,
    ) -> impl Iterator<Item = (&'a StagePath, &'a Entry)> + 'a {
        let depth = dir.depth() + 1;
        self.entries
            .range(dir.clone()..)
            .skip_while(move |(p, _)| *p == dir)
            .take_while(move |(p, _)| p.starts_with(dir))
            .filter(move |(p, _)| p.depth() == depth)
    }

    /// Inserts or replaces an entry. The parent must exist and be a directory. Replacing a
    /// directory with a non-directory removes its contents.
    pub fn insert(&mut self, path: StagePath, entry: Entry) -> Result<(), Error> {
        if let Some(parent) = path.parent() {
            match self.entries.get(&parent) {
                Some(e) if e.is_dir() => {}
                Some(_) => {
                    return Err(Error::NotADirectory {
                        path: parent.to_string(),
                    });
                }
                None => {
                    return Err(Error::NoParent {
                        path: path.to_string(),
                        parent: parent.to_string(),
                    });
                }
            }
        }
        if let EntryKind::Hardlink { target } = &entry.kind {
            match self.entries.get(target).map(|e| &e.kind) {
                Some(EntryKind::File) => {}
                _ => {
                    return Err(Error::BadHardlink {
                        path: path.to_string(),
                        target: target.to_string(),
                    });
                }
            }
        }
        // Replacing a directory by a directory keeps its contents; any other replacement
        // removes the old entry (and, for a directory, everything below it).
        if self
            .get(&path)
            .is_some_and(|old| !(old.is_dir() && entry.is_dir()))
        {
            self.remove(&path);
        }
        let link_target = match &entry.kind {
            EntryKind::Hardlink { target } => Some(target.clone()),
            _ => None,
        };
        self.entries.insert(path, entry);
        if let Some(target) = link_target {
            self.normalise_hardlinks(&target);
        }
        Ok(())
    }

    /// Removes `path` and, for a directory, everything below it. Returns the removed paths.
    /// Hard links to a removed file are kept: the first remaining name becomes the file.
    pub fn remove(&mut self, path: &StagePath) -> Vec<StagePath> {
        if path.is_root() {
            let removed: Vec<StagePath> = self.entries.keys().skip(1).cloned().collect();
            self.entries.retain(|p, _| p.is_root());
            return removed;
        }
        let removed: Vec<StagePath> = self
            .entries
            .range(path.clone()..)
            .take_while(|(p, _)| p.starts_with(path))
            .map(|(p, _)| p.clone())
            .collect();
        let mut promoted = Vec::new();
        for p in &removed {
            if let Some(entry) = self.entries.remove(p)
                && matches!(entry.kind, EntryKind::File)
            {
                promoted.push(p.clone());
            }
        }
        if !promoted.is_empty() {
            self.promote_orphaned_links(&promoted);
        }
        removed
    }

    /// Removes the children of `dir` but keeps `dir` itself.
    pub fn clear_dir(&mut self, dir: &StagePath) -> Vec<StagePath> {
        let children: Vec<StagePath> = self.children(dir).map(|(p, _)| p.clone()).collect();
        children.iter().flat_map(|c| self.remove(c)).collect()
    }

    /// The first name of the inode `path` belongs to, for files and hard links.
    pub fn content_path<'a>(&'a self, path: &'a StagePath) -> Option<&'a StagePath> {
        match &self.entries.get(path)?.kind {
            EntryKind::File => Some(path),
            EntryKind::Hardlink { target } => Some(target),
            _ => None,
        }
    }

    /// The number of names of the inode `path` belongs to (1 for most entries).
    pub fn link_count(&self, path: &StagePath) -> u32 {
        let Some(file) = self.content_path(path) else {
            return 1;
        };
        1 + self
            .entries
            .values()
            .filter(|e| matches!(&e.kind, EntryKind::Hardlink { target } if target == file))
            .count() as u32
    }

    /// Sets every mtime later than `epoch` to `epoch` (reproducible builds' "clamp").
    pub fn clamp_mtimes(&mut self, epoch: i64) {
        for e in self.entries.values_mut() {
            if e.mtime > epoch {
                e.mtime = epoch;
            }
        }
    }

    /// When a file was removed, its first remaining hard link becomes the file and the other
    /// links point at it.
    fn promote_orphaned_links(&mut self, removed_files: &[StagePath]) {
        for old in removed_files {
            let links: Vec<StagePath> = self
                .entries
                .iter()
                .filter(|(_, e)| matches!(&e.kind, EntryKind::Hardlink { target } if target == old))
                .map(|(p, _)| p.clone())
                .collect();
            let Some((first, rest)) = links.split_first() else {
                continue;
            };
            if let Some(e) = self.entries.get_mut(first) {
                e.kind = EntryKind::File;
            }
            for p in rest {
                if let Some(e) = self.entries.get_mut(p) {
                    e.kind = EntryKind::Hardlink {
                        target: first.clone(),
                    };
                }
            }
        }
    }

    /// Keeps the invariant that a hard link group's file is its first name in path order,
    /// for the group of the file `file` (called when a link to it is added).
    fn normalise_hardlinks(&mut self, file: &StagePath) {
        let links: Vec<StagePath> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(&e.kind, EntryKind::Hardlink { target } if target == file))
            .map(|(p, _)| p.clone())
            .collect();
        let Some(first) = links.first().filter(|first| *first < file).cloned() else {
            return;
        };
        if let Some(e) = self.entries.get_mut(&first) {
            e.kind = EntryKind::File;
        }
        for p in links.iter().skip(1).chain(std::iter::once(file)) {
            if let Some(e) = self.entries.get_mut(p) {
                e.kind = EntryKind::Hardlink {
                    target: first.clone(),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> StagePath {
        StagePath::new(s).unwrap()
    }

    #[test]
    fn children_are_direct_and_ordered() {
        let mut m = Manifest::new();
        m.insert(p("/etc"), Entry::directory(0, 0, 0o755)).unwrap();
        m.insert(p("/etc/b"), Entry::file(0, 0, 0o644)).unwrap();
        m.insert(p("/etc/a"), Entry::directory(0, 0, 0o755))
            .unwrap();
        m.insert(p("/etc/a/x"), Entry::file(0, 0, 0o644)).unwrap();
        m.insert(p("/etcx"), Entry::file(0, 0, 0o644)).unwrap();
        let names: Vec<_> = m.children(&p("/etc")).map(|(p, _)| p.to_string()).collect();
        assert_eq!(names, ["/etc/a", "/etc/b"]);
        let root: Vec<_> = m
            .children(&StagePath::root())
            .map(|(p, _)| p.to_string())
            .collect();
        assert_eq!(root, ["/etc", "/etcx"]);
    }

    #[test]
    fn insert_needs_a_directory_parent() {
        let mut m = Manifest::new();
        assert!(matches!(
            m.insert(p("/a/b"), Entry::file(0, 0, 0o644)),
            Err(Error::NoParent { .. })
        ));
        m.insert(p("/a"), Entry::file(0, 0, 0o644)).unwrap();
        assert!(matches!(
            m.insert(p("/a/b"), Entry::file(0, 0, 0o644)),
            Err(Error::NotADirectory { .. })
        ));
    }

    #[test]
    fn removing_a_linked_file_promotes_the_next_name() {
        let mut m = Manifest::new();
        m.insert(p("/a"), Entry::file(0, 0, 0o644)).unwrap();
        let link = |t: &str| Entry::new(EntryKind::Hardlink { target: p(t) }, 0, 0, 0o644);
        m.insert(p("/b"), link("/a")).unwrap();
        m.insert(p("/c"), link("/a")).unwrap();
        assert_eq!(m.link_count(&p("/c")), 3);
        m.remove(&p("/a"));
        assert_eq!(m.get(&p("/b")).unwrap().kind, EntryKind::File);
        assert_eq!(
            m.get(&p("/c")).unwrap().kind,
            EntryKind::Hardlink { target: p("/b") }
        );
        assert_eq!(m.link_count(&p("/b")), 2);
    }

    #[test]
    fn a_link_sorting_before_its_file_becomes_the_file() {
        let mut m = Manifest::new();
        m.insert(p("/z"), Entry::file(0, 0, 0o644)).unwrap();
        m.insert(
            p("/a"),
            Entry::new(EntryKind::Hardlink { target: p("/z") }, 0, 0, 0o644),
        )
        .unwrap();
        assert_eq!(m.get(&p("/a")).unwrap().kind, EntryKind::File);
        assert_eq!(
            m.get(&p("/z")).unwrap().kind,
            EntryKind::Hardlink { target: p("/a") }
        );
    }

    #[test]
    fn remove_dir_is_recursive_and_clear_keeps_it() {
        let mut m = Manifest::new();
        m.insert(p("/d"), Entry::directory(0, 0, 0o755)).unwrap();
        m.insert(p("/d/x"), Entry::file(0, 0, 0o644)).unwrap();
        m.clear_dir(&p("/d"));
        assert!(m.get(&p("/d")).is_some());
        assert!(m.get(&p("/d/x")).is_none());
        m.insert(p("/d/y"), Entry::file(0, 0, 0o644)).unwrap();
        m.remove(&p("/d"));
        assert_eq!(m.len(), 1);
    }
}
