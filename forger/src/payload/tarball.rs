//! [`TarballPayload`]: a tarball as the payload (`--rootfs FILE.tar[.gz|.zst]`). Owners, modes,
//! link targets, device numbers and xattrs come from the tar headers (through
//! [`StagingTree::import_tar`]), so a rootfs made as root elsewhere stages faithfully as any
//! user.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use super::{Error, PayloadSource};
use crate::stage::StagingTree;

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
        tree.import_tar(self.open()?)?;
        Ok(())
    }
}
