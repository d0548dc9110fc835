//! Errors of the stage cache.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A cache operation failed. A corrupt entry is not an error (it is dropped and rebuilt).
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the cache directory failed.
    #[error("stage cache: cannot use `{}`", path.display())]
    #[diagnostic(
        code(forger::cache::io),
        help("check the cache directory's permissions and free space, or build with --no-cache")
    )]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The staged manifest of an entry cannot be read back.
    #[error("stage cache: entry `{}` has an unreadable manifest", path.display())]
    #[diagnostic(code(forger::cache::bad_manifest))]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Staging the restored tree failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
