//! Importing a host directory into a [`StagingTree`]: owners, modes, mtimes, link targets,
//! device numbers and xattrs come from the host's `lstat` (what `mkfs.ext4 -d` and `tar` would
//! see), so this is for trees whose host metadata is the image's: a prepared `--rootfs`, or
//! what a package installer running as root (`pkg`, `mmdebstrap --mode=root`) just wrote.
//!
//! [`StagingTree::import_dir`] copies file bytes and leaves the source alone;
//! [`StagingTree::adopt_dir`] renames them into the tree instead, so a freshly installed root
//! filesystem of 1.5 GB changes hands without being written a second time.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::{Entry, EntryKind, Error, StagePath, StagingTree, TarImportStats};

/// What happens to a regular file's bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bytes {
    Copy,
    Move,
}

/// Walk state: hard links seen so far (by device and inode) and the running totals.
struct Walk {
    bytes: Bytes,
    inodes: HashMap<(u64, u64), StagePath>,
    stats: TarImportStats,
}

impl StagingTree {
    /// Imports a host directory recursively, copying file bytes. Entries already present are
    /// replaced.
    pub fn import_dir(&mut self, src: &Path) -> Result<TarImportStats, Error> {
        self.import_host_dir(src, Bytes::Copy)
    }

    /// Imports a host directory recursively, moving its regular files into the tree by rename
    /// (copying only across file systems). What is left of `src` afterwards (directories,
    /// symlinks, device nodes) is the caller's to delete. Moved files lose set-id bits on the
    /// host, so a staging directory never holds a usable setuid binary; the manifest keeps
    /// the image's mode.
    pub fn adopt_dir(&mut self, src: &Path) -> Result<TarImportStats, Error> {
        self.import_host_dir(src, Bytes::Move)
    }

    fn import_host_dir(&mut self, src: &Path, bytes: Bytes) -> Result<TarImportStats, Error> {
        let meta = fs::symlink_metadata(src).map_err(Error::io(src))?;
        let root_entry = entry_from_metadata(src, &meta)?;
        if let Some(e) = self.manifest.get_mut(&StagePath::root()) {
            *e = root_entry;
        }
        let mut walk = Walk {
            bytes,
            inodes: HashMap::new(),
            stats: TarImportStats {
                entries: 1,
                bytes: 0,
            },
        };
        self.import_children(src, &StagePath::root(), &mut walk)?;
        Ok(walk.stats)
    }

    fn import_children(
        &mut self,
        host_dir: &Path,
        dir: &StagePath,
        walk: &mut Walk,
    ) -> Result<(), Error> {
        let mut names = Vec::new();
        for item in fs::read_dir(host_dir).map_err(Error::io(host_dir))? {
            let item = item.map_err(Error::io(host_dir))?;
            names.push(item.file_name());
        }
        names.sort();
        for name in names {
            let host = host_dir.join(&name);
            let name = name
                .to_str()
                .ok_or_else(|| Error::NonUtf8Name { path: host.clone() })?;
            let path = dir.join(name)?;
            let meta = fs::symlink_metadata(&host).map_err(Error::io(&host))?;
            let entry = entry_from_metadata(&host, &meta)?;
            walk.stats.entries += 1;
            match &entry.kind {
                EntryKind::Directory => {
                    self.ensure_one_dir(&path, entry.uid, entry.gid, entry.mode, true)?;
                    if let Some(e) = self.manifest.get_mut(&path) {
                        e.mtime = entry.mtime;
                        e.xattrs = entry.xattrs.clone();
                    }
                    self.import_children(&host, &path, walk)?;
                }
                EntryKind::File => {
                    let key = (meta.dev(), meta.ino());
                    if meta.nlink() > 1 {
                        if let Some(first) = walk.inodes.get(&key).cloned() {
                            self.add_hardlink(&path, &first)?;
                            continue;
                        }
                        walk.inodes.insert(key, path.clone());
                    }
                    walk.stats.bytes += meta.len();
                    match walk.bytes {
                        Bytes::Copy => {
                            let mut f = fs::File::open(&host).map_err(Error::io(&host))?;
                            self.write_file(&path, &mut f, entry)?;
                        }
                        Bytes::Move => self.move_file(&host, &path, entry, meta.mode())?,
                    }
                }
                _ => self.add_special(&path, entry)?,
            }
        }
        Ok(())
    }

    /// Renames `host` to `path`'s place in the tree (copying across file systems).
    fn move_file(
        &mut self,
        host: &Path,
        path: &StagePath,
        entry: Entry,
        host_mode: u32,
    ) -> Result<(), Error> {
        self.clear_host(path)?;
        let to = self.host_path(path);
        if let Err(e) = fs::rename(host, &to) {
            if e.raw_os_error() != Some(rustix::io::Errno::XDEV.raw_os_error()) {
                return Err(Error::Io {
                    path: to,
                    source: e,
                });
            }
            fs::copy(host, &to).map_err(Error::io(&to))?;
        }
        if host_mode & 0o6000 != 0 {
            fs::set_permissions(&to, fs::Permissions::from_mode(host_mode & 0o777))
                .map_err(Error::io(&to))?;
        }
        self.manifest.insert(path.clone(), entry)
    }
}

/// Builds a manifest entry from host `lstat` data.
fn entry_from_metadata(host: &Path, meta: &fs::Metadata) -> Result<Entry, Error> {
    let ft = meta.file_type();
    let rdev = meta.rdev();
    let (major, minor) = (
        (((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff)) as u32,
        (((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff)) as u32,
    );
    let kind = if ft.is_dir() {
        EntryKind::Directory
    } else if ft.is_file() {
        EntryKind::File
    } else if ft.is_symlink() {
        let target = fs::read_link(host).map_err(Error::io(host))?;
        let target = target
            .to_str()
            .ok_or_else(|| Error::NonUtf8Name {
                path: host.to_owned(),
            })?
            .to_owned();
        EntryKind::Symlink { target }
    } else if ft.is_char_device() {
        EntryKind::CharDevice { major, minor }
    } else if ft.is_block_device() {
        EntryKind::BlockDevice { major, minor }
    } else if ft.is_fifo() {
        EntryKind::Fifo
    } else {
        EntryKind::Socket
    };
    let mut entry = Entry::new(kind, meta.uid(), meta.gid(), meta.mode());
    entry.mtime = meta.mtime();
    entry.xattrs = xattrs(host)?;
    Ok(entry)
}

/// The extended attributes of `host` (not followed if a symlink), as GNU tar's
/// `--xattrs --xattrs-include='*'` would record them: POSIX ACLs are not xattrs to tar, and
/// a file system without xattr support simply has none.
fn xattrs(host: &Path) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let mut out = BTreeMap::new();
    let unsupported =
        |e: rustix::io::Errno| e == rustix::io::Errno::NOTSUP || e == rustix::io::Errno::OPNOTSUPP;
    let io_err = |e: rustix::io::Errno| Error::Io {
        path: host.to_owned(),
        source: io::Error::from(e),
    };
    let size = match rustix::fs::llistxattr_query(host) {
        Ok(0) => return Ok(out),
        Ok(n) => n,
        Err(e) if unsupported(e) => return Ok(out),
        Err(e) => return Err(io_err(e)),
    };
    let mut list = vec![0u8; size];
    let len = rustix::fs::llistxattr(host, &mut list[..]).map_err(io_err)?;
    for name in list[..len].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if name.starts_with("system.posix_acl_") {
            continue;
        }
        let size = rustix::fs::lgetxattr_query(host, name).map_err(io_err)?;
        let mut value = vec![0u8; size];
        let n = rustix::fs::lgetxattr(host, name, &mut value[..]).map_err(io_err)?;
        value.truncate(n);
        out.insert(name.to_owned(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> StagePath {
        StagePath::new(s).unwrap()
    }

    /// A source tree with a set-uid file, a hard-link pair, a symlink and a FIFO.
    fn source() -> tempfile::TempDir {
        let src = tempfile::tempdir().unwrap();
        let d = src.path();
        fs::create_dir_all(d.join("usr/bin")).unwrap();
        fs::write(d.join("usr/bin/su"), b"su").unwrap();
        fs::set_permissions(d.join("usr/bin/su"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::write(d.join("usr/bin/a"), b"same").unwrap();
        fs::hard_link(d.join("usr/bin/a"), d.join("usr/bin/b")).unwrap();
        std::os::unix::fs::symlink("a", d.join("usr/bin/c")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        src
    }

    fn check(tree: &StagingTree, stats: TarImportStats) {
        let su = tree.manifest.get(&p("/usr/bin/su")).unwrap();
        assert_eq!(
            su.mode & 0o7777,
            0o4755,
            "the manifest keeps the image's mode"
        );
        let host = fs::metadata(tree.host_path(&p("/usr/bin/su"))).unwrap();
        assert_eq!(host.mode() & 0o6000, 0, "no set-id bits on the host");
        assert!(matches!(
            tree.manifest.get(&p("/usr/bin/b")).unwrap().kind,
            EntryKind::Hardlink { .. }
        ));
        assert!(matches!(
            &tree.manifest.get(&p("/usr/bin/c")).unwrap().kind,
            EntryKind::Symlink { target } if target == "a"
        ));
        assert!(matches!(
            tree.manifest.get(&p("/fifo")).unwrap().kind,
            EntryKind::Fifo
        ));
        assert!(
            !tree.host_path(&p("/fifo")).exists(),
            "specials live in the manifest"
        );
        assert_eq!(fs::read(tree.host_path(&p("/usr/bin/b"))).unwrap(), b"same");
        // root, usr, usr/bin, su, a, b, c, fifo
        assert_eq!(stats.entries, 8);
        assert_eq!(stats.bytes, 2 + 4);
    }

    #[test]
    fn import_copies_and_leaves_the_source() {
        let src = source();
        let dst = tempfile::tempdir().unwrap();
        let mut tree = StagingTree::create(dst.path().join("t")).unwrap();
        let stats = tree.import_dir(src.path()).unwrap();
        check(&tree, stats);
        assert!(src.path().join("usr/bin/su").exists());
    }

    #[test]
    fn adopt_moves_file_bytes_and_keeps_hard_links() {
        let src = source();
        let mut tree = StagingTree::create(src.path().with_extension("tree")).unwrap();
        let stats = tree.adopt_dir(src.path()).unwrap();
        check(&tree, stats);
        assert!(!src.path().join("usr/bin/su").exists(), "moved, not copied");
        let (a, b) = (
            fs::metadata(tree.host_path(&p("/usr/bin/a"))).unwrap(),
            fs::metadata(tree.host_path(&p("/usr/bin/b"))).unwrap(),
        );
        assert_eq!(a.ino(), b.ino());
        fs::remove_dir_all(tree.root()).unwrap();
    }
}
