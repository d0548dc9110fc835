//! Errors of the OmniOS/illumos finishing steps.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A failure while finishing a staged illumos tree.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// Neither `filelist.ramdisk` exists, so the boot archive's contents are unknown.
    #[error("the tree has no /boot/solaris/filelist.ramdisk or /etc/boot/solaris/filelist.ramdisk")]
    #[diagnostic(
        code(forger::illumos::no_filelist),
        help(
            "the boot archive lists come with the OS (package system/boot/loader or SUNWcs); \
             make sure the payload installed the illumos base system"
        )
    )]
    NoFilelist,
    /// The filelists name nothing that exists in the tree.
    #[error("filelist.ramdisk names no file that exists in the tree")]
    #[diagnostic(
        code(forger::illumos::empty_archive),
        help("the staged tree is missing /kernel and /platform: is it an illumos tree?")
    )]
    EmptyArchive,
    /// A host I/O failure on a staged file the finishing steps read or write.
    #[error("I/O error on `{}`", path.display())]
    #[diagnostic(
        code(forger::illumos::io),
        help("check the staging directory's permissions and free space")
    )]
    Io {
        /// The host path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A serial speed the illumos serial driver does not offer.
    #[error("serial console speed {speed} is not supported")]
    #[diagnostic(
        code(forger::illumos::serial_speed),
        help("use one of 9600, 19200, 38400, 57600 or 115200")
    )]
    SerialSpeed {
        /// The requested speed in bit/s.
        speed: u32,
    },
    /// Writing the boot archive image failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Iso(#[from] crate::fs::iso9660::Error),
    /// A staging-tree operation failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
}

impl Error {
    /// Wraps an I/O error with the host path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
