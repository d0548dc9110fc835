//! [`StagingTree`]: the host directory with file contents, plus the [`Manifest`].
//!
//! The host tree holds regular-file bytes (under every hard-link name) and directories;
//! symlinks, devices, FIFOs and sockets exist only in the manifest. Host ownership and
//! permission bits are irrelevant: files are created with the host user's defaults.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{Entry, EntryKind, Error, Manifest, StagePath};

/// A staging tree rooted at a host directory.
#[derive(Debug)]
pub struct StagingTree {
    root: PathBuf,
    /// The truth about every entry.
    pub manifest: Manifest,
}

impl StagingTree {
    /// Creates (or reuses, emptied) `root` as a fresh staging tree holding only `/`.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self, Error> {
        let root = root.into();
        if root.exists() {
            fs::remove_dir_all(&root).map_err(Error::io(&root))?;
        }
        fs::create_dir_all(&root).map_err(Error::io(&root))?;
        Ok(StagingTree {
            root,
            manifest: Manifest::new(),
        })
    }

    /// Re-opens an existing staging directory with a manifest kept elsewhere (stage cache).
    pub fn open(root: impl Into<PathBuf>, manifest: Manifest) -> Self {
        StagingTree {
            root: root.into(),
            manifest,
        }
    }

    /// A second tree at `root` (created fresh) whose files are hard links to this one's and
    /// whose manifest is a copy: what one of them changes through the tree's methods (which
    /// replace a file rather than write into it) the other does not see.
    pub fn link_clone(&self, root: impl Into<PathBuf>) -> Result<StagingTree, Error> {
        let root = root.into();
        if root.exists() {
            fs::remove_dir_all(&root).map_err(Error::io(&root))?;
        }
        link_files(&self.manifest, &self.root, &root)?;
        Ok(StagingTree {
            root,
            manifest: self.manifest.clone(),
        })
    }

    /// The host directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host path of an image path. Only meaningful for files and directories.
    pub fn host_path(&self, path: &StagePath) -> PathBuf {
        self.root.join(path.as_str())
    }

    /// Opens the bytes of a regular file (or hard link) for reading.
    pub fn open_file(&self, path: &StagePath) -> Result<fs::File, Error> {
        let host = self.host_path(path);
        fs::File::open(&host).map_err(Error::io(host))
    }

    /// Creates `path` and any missing parents as directories. Parents that are created get
    /// `uid:gid` and `0755`; an existing directory keeps its metadata unless it is `path`.
    pub fn ensure_dir(
        &mut self,
        path: &StagePath,
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> Result<(), Error> {
        for anc in path.ancestors() {
            self.ensure_one_dir(&anc, uid, gid, 0o755, false)?;
        }
        self.ensure_one_dir(path, uid, gid, mode, true)
    }

    /// Creates `dir` and its missing ancestors as `root:root 0755`; existing directories are
    /// left as they are.
    pub fn ensure_dir_parents(&mut self, dir: &StagePath) -> Result<(), Error> {
        for p in dir.ancestors().iter().chain(std::iter::once(dir)) {
            self.ensure_one_dir(p, 0, 0, 0o755, false)?;
        }
        Ok(())
    }

    pub(super) fn ensure_one_dir(
        &mut self,
        path: &StagePath,
        uid: u32,
        gid: u32,
        mode: u32,
        set: bool,
    ) -> Result<(), Error> {
        match self.manifest.get_mut(path) {
            Some(e) if e.is_dir() => {
                if set {
                    e.uid = uid;
                    e.gid = gid;
                    e.mode = mode & 0o7777;
                }
                return Ok(());
            }
            Some(_) => self.remove(path)?,
            None => {}
        }
        let host = self.host_path(path);
        fs::create_dir_all(&host).map_err(Error::io(&host))?;
        self.manifest
            .insert(path.clone(), Entry::directory(uid, gid, mode))
    }

    /// Writes a regular file from `content`, replacing whatever was at `path`.
    pub fn write_file(
        &mut self,
        path: &StagePath,
        content: &mut dyn Read,
        entry: Entry,
    ) -> Result<u64, Error> {
        debug_assert!(
            matches!(entry.kind, EntryKind::File),
            "write_file takes a File entry"
        );
        self.clear_host(path)?;
        let host = self.host_path(path);
        let mut out = fs::File::create(&host).map_err(Error::io(&host))?;
        let n = io::copy(content, &mut out).map_err(Error::io(&host))?;
        self.manifest.insert(path.clone(), entry)?;
        Ok(n)
    }

    /// Adds a further name for the regular file `target`.
    pub fn add_hardlink(&mut self, path: &StagePath, target: &StagePath) -> Result<(), Error> {
        let Some(file) = self.manifest.content_path(target).cloned() else {
            return Err(Error::BadHardlink {
                path: path.to_string(),
                target: target.to_string(),
            });
        };
        let meta = self
            .manifest
            .get(&file)
            .cloned()
            .expect("content_path returns a present entry");
        self.clear_host(path)?;
        let (from, to) = (self.host_path(&file), self.host_path(path));
        if fs::hard_link(&from, &to).is_err() {
            fs::copy(&from, &to).map_err(Error::io(&to))?;
        }
        let entry = Entry {
            kind: EntryKind::Hardlink { target: file },
            ..meta
        };
        self.manifest.insert(path.clone(), entry)
    }

    /// Adds an entry that has no host bytes (symlink, device, FIFO, socket), replacing
    /// whatever was at `path`.
    pub fn add_special(&mut self, path: &StagePath, entry: Entry) -> Result<(), Error> {
        debug_assert!(
            !matches!(
                entry.kind,
                EntryKind::File | EntryKind::Directory | EntryKind::Hardlink { .. }
            ),
            "add_special takes entries without host bytes"
        );
        self.clear_host(path)?;
        self.manifest.insert(path.clone(), entry)
    }

    /// Removes `path` (recursively) from the manifest and the host tree. Missing is fine.
    pub fn remove(&mut self, path: &StagePath) -> Result<(), Error> {
        self.manifest.remove(path);
        self.remove_host(path)
    }

    /// Removes everything inside directory `dir`, keeping `dir`.
    pub fn clear_dir(&mut self, dir: &StagePath) -> Result<(), Error> {
        for p in self.manifest.clear_dir(dir) {
            self.remove_host(&p)?;
        }
        Ok(())
    }

    pub(super) fn clear_host(&mut self, path: &StagePath) -> Result<(), Error> {
        if self.manifest.get(path).is_some() {
            self.remove(path)?;
        }
        if let Some(parent) = path.parent()
            && self.manifest.get(&parent).is_none()
        {
            return Err(Error::NoParent {
                path: path.to_string(),
                parent: parent.to_string(),
            });
        }
        Ok(())
    }

    fn remove_host(&self, path: &StagePath) -> Result<(), Error> {
        let host = self.host_path(path);
        match fs::symlink_metadata(&host) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&host).map_err(Error::io(&host)),
            Ok(_) => fs::remove_file(&host).map_err(Error::io(&host)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io {
                path: host,
                source: e,
            }),
        }
    }
}

/// Recreates the directories of `manifest` under `to` and links every file's bytes from
/// `from` (copying when a hard link is impossible, as across file systems).
pub fn link_files(manifest: &Manifest, from: &Path, to: &Path) -> Result<(), Error> {
    fs::create_dir_all(to).map_err(Error::io(to))?;
    for (path, entry) in manifest.iter() {
        if path.is_root() {
            continue;
        }
        let dst = to.join(path.as_str());
        match entry.kind {
            EntryKind::Directory => fs::create_dir_all(&dst).map_err(Error::io(&dst))?,
            EntryKind::File | EntryKind::Hardlink { .. } => {
                let src = from.join(path.as_str());
                if fs::hard_link(&src, &dst).is_err() {
                    fs::copy(&src, &dst).map_err(Error::io(&dst))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
