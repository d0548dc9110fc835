//! Payload sources fill a fresh [`StagingTree`] with the image's base content: a directory
//! ([`Payload::tree`]), a tarball ([`Payload::tarball`]), or package installers in their own
//! modules. Every source records owners and modes in the manifest, never on the host.

pub mod apt;
mod error;
pub mod ips;
mod tarball;
mod tree;

pub use error::Error;

use std::path::{Path, PathBuf};

use crate::stage::StagingTree;

/// Something that can install the image's base content into a staging tree.
pub trait PayloadSource: std::fmt::Debug {
    /// What is installed, for progress output (`tree /srv/rootfs`).
    fn describe(&self) -> String;

    /// A fingerprint of the input that changes whenever the installed content would, for the
    /// plan's payload stage hash.
    fn fingerprint(&self) -> Result<String, Error>;

    /// Installs into `tree`, which holds only `/`.
    fn install(&self, tree: &mut StagingTree) -> Result<(), Error>;
}

/// A boxed [`PayloadSource`] with constructors for the built-in ones.
#[derive(Debug)]
pub struct Payload(Box<dyn PayloadSource + Send + Sync>);

impl Payload {
    /// A directory copied in with the owners, modes and link targets its files have on the host.
    pub fn tree(dir: impl Into<PathBuf>) -> Self {
        Payload(Box::new(tree::TreePayload::new(dir.into())))
    }

    /// A tarball (plain, gzip or zstd) whose headers give owners, modes and link targets.
    pub fn tarball(file: impl Into<PathBuf>) -> Self {
        Payload(Box::new(tarball::TarballPayload::new(file.into())))
    }

    /// `--rootfs PATH`: a directory or a tarball.
    pub fn rootfs(path: &Path) -> Result<Self, Error> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Ok(Self::tree(path)),
            Ok(_) => Ok(Self::tarball(path)),
            Err(source) => Err(Error::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Wraps any other source.
    pub fn custom(source: impl PayloadSource + Send + Sync + 'static) -> Self {
        Payload(Box::new(source))
    }

    /// See [`PayloadSource::describe`].
    pub fn describe(&self) -> String {
        self.0.describe()
    }

    /// See [`PayloadSource::fingerprint`].
    pub fn fingerprint(&self) -> Result<String, Error> {
        self.0.fingerprint()
    }

    /// See [`PayloadSource::install`].
    pub fn install(&self, tree: &mut StagingTree) -> Result<(), Error> {
        self.0.install(tree)
    }
}
