//! [`TarballPayload`]: a tarball as the payload (`--rootfs FILE.tar[.gz|.zst]`). Owners, modes,
//! link targets, device numbers and xattrs come from the tar headers, so a rootfs made as
//! root elsewhere stages faithfully as any user.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use super::{Error, PayloadSource};
use crate::stage::{Entry, EntryKind, StagePath, StagingTree};

/// A tarball whose entries become the image's base.
#[derive(Debug)]
pub(crate) struct TarballPayload {
    file: PathBuf,
}

impl TarballPayload {
    pub(crate) fn new(file: PathBuf) -> Self {
        TarballPayload { file }
    }

    fn io(&self) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: self.file.clone(),
            source,
        }
    }

    /// Opens the tarball, decompressing gzip or zstd by magic number.
    fn open(&self) -> Result<Box<dyn Read>, Error> {
        let mut r = BufReader::with_capacity(1 << 20, File::open(&self.file).map_err(self.io())?);
        let magic = r.fill_buf().map_err(self.io())?;
        Ok(if magic.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::read::MultiGzDecoder::new(r))
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Box::new(zstd::stream::read::Decoder::with_buffer(r).map_err(self.io())?)
        } else {
            Box::new(r)
        })
    }

    fn bad(&self, entry: &str, reason: &'static str) -> Error {
        Error::BadTarEntry {
            path: self.file.clone(),
            entry: entry.to_owned(),
            reason,
        }
    }
}

impl PayloadSource for TarballPayload {
    fn describe(&self) -> String {
        format!("tarball {}", self.file.display())
    }

    fn fingerprint(&self) -> Result<String, Error> {
        let mut f = File::open(&self.file).map_err(self.io())?;
        let mut h = <sha2::Sha256 as sha2::Digest>::new();
        std::io::copy(&mut f, &mut h).map_err(self.io())?;
        Ok(format!(
            "tarball:sha256:{}",
            hex::encode(sha2::Digest::finalize(h))
        ))
    }

    fn install(&self, tree: &mut StagingTree) -> Result<(), Error> {
        let mut archive = tar::Archive::new(self.open()?);
        for item in archive.entries().map_err(self.io())? {
            let mut item = item.map_err(self.io())?;
            let raw_name = String::from_utf8_lossy(&item.path_bytes()).into_owned();
            let path = StagePath::new(&raw_name)
                .map_err(|_| self.bad(&raw_name, "has a `..` component"))?;
            let h = item.header();
            let (uid, gid) = (
                h.uid().map_err(self.io())? as u32,
                h.gid().map_err(self.io())? as u32,
            );
            let mode = h.mode().map_err(self.io())?;
            let mtime = h.mtime().map_err(self.io())? as i64;
            let device = || -> Result<(u32, u32), Error> {
                Ok((
                    h.device_major().map_err(self.io())?.unwrap_or(0),
                    h.device_minor().map_err(self.io())?.unwrap_or(0),
                ))
            };
            let link = || -> Result<String, Error> {
                item.link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or_else(|| self.bad(&raw_name, "is a link without a target"))
            };
            let kind = match h.entry_type() {
                tar::EntryType::Directory => EntryKind::Directory,
                tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
                tar::EntryType::Symlink => EntryKind::Symlink { target: link()? },
                tar::EntryType::Link => {
                    let target = StagePath::new(&link()?)
                        .map_err(|_| self.bad(&raw_name, "links outside the archive"))?;
                    EntryKind::Hardlink { target }
                }
                tar::EntryType::Char => {
                    let (major, minor) = device()?;
                    EntryKind::CharDevice { major, minor }
                }
                tar::EntryType::Block => {
                    let (major, minor) = device()?;
                    EntryKind::BlockDevice { major, minor }
                }
                tar::EntryType::Fifo => EntryKind::Fifo,
                tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
                _ => return Err(self.bad(&raw_name, "has an unsupported type")),
            };
            let mut entry = Entry::new(kind, uid, gid, mode);
            entry.mtime = mtime;
            if let Some(exts) = item.pax_extensions().map_err(self.io())? {
                for ext in exts {
                    let ext = ext.map_err(self.io())?;
                    if let Some(name) = ext.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr."))
                    {
                        entry
                            .xattrs
                            .insert(name.to_owned(), ext.value_bytes().to_vec());
                    }
                }
            }
            if path.is_root() {
                if entry.is_dir()
                    && let Some(root) = tree.manifest.get_mut(&path)
                {
                    *root = entry;
                }
                continue;
            }
            if let Some(parent) = path.parent() {
                tree.ensure_dir_parents(&parent)?;
            }
            match &entry.kind {
                EntryKind::Directory => {
                    tree.ensure_dir(&path, uid, gid, mode)?;
                    if let Some(e) = tree.manifest.get_mut(&path) {
                        e.mtime = mtime;
                        e.xattrs = entry.xattrs;
                    }
                }
                EntryKind::File => {
                    tree.write_file(&path, &mut item, entry)?;
                }
                EntryKind::Hardlink { target } => {
                    let target = target.clone();
                    tree.add_hardlink(&path, &target)?;
                }
                _ => tree.add_special(&path, entry)?,
            }
        }
        Ok(())
    }
}
