//! Errors of the tar writer: which output or staged file failed, and why.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A failure while writing a tar archive from a staging tree.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// Writing the archive (or its temporary file) failed.
    #[error("could not write archive `{}`", path.display())]
    #[diagnostic(
        code(forger::archive::write),
        help("check that the output directory exists, is writable and has free space")
    )]
    Write {
        /// The output path (or temporary file) being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Reading a staged file's bytes failed.
    #[error("could not read staged file `{path}` (host `{}`)", host.display())]
    #[diagnostic(
        code(forger::archive::read),
        help("the staging tree changed or was removed while the archive was written; rebuild")
    )]
    Read {
        /// The image path.
        path: String,
        /// Its host path in the staging tree.
        host: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A staged file's length changed between reading its size and reading its bytes.
    #[error(
        "staged file `{path}` changed size while archiving: expected {expected} bytes, read {actual}"
    )]
    #[diagnostic(
        code(forger::archive::file_changed),
        help("nothing may modify the staging tree while an output is written; rebuild")
    )]
    FileChanged {
        /// The image path.
        path: String,
        /// Size recorded in the tar header.
        expected: u64,
        /// Bytes actually read.
        actual: u64,
    },
    /// The staging tree refused an operation (missing file, bad path).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
    /// A compression worker thread could not be started or died.
    #[error("compression worker failed: {reason}")]
    #[diagnostic(
        code(forger::archive::worker),
        help(
            "this is a bug or the system is out of threads/memory; retry with compression none to narrow it down"
        )
    )]
    Worker {
        /// What went wrong.
        reason: String,
    },
}
