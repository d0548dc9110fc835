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
    /// The package-set snapshot of a payload cannot be read, so a cached payload cannot be
    /// trusted to match what the repositories would install now.
    #[error("stage cache: cannot read the package-set snapshot from {source_name}: {reason}")]
    #[diagnostic(
        code(forger::cache::snapshot),
        help(
            "check that the mirror or publisher is reachable; the build runs without the cache \
             until it is"
        )
    )]
    Snapshot {
        /// The Release file or publisher that could not be read.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// The cache registry could not be read or written.
    #[error("stage cache: registry `{reference}` failed")]
    #[diagnostic(
        code(forger::cache::registry),
        help(
            "check the registry address and credentials (--auth-file, --insecure-registry), or \
             build without --cache-from/--cache-to"
        )
    )]
    Registry {
        /// The entry's reference.
        reference: String,
        /// The cause.
        #[source]
        source: Box<crate::oci::Error>,
    },
    /// An entry pulled from the cache registry is not a valid entry.
    #[error("stage cache: registry entry `{reference}` is invalid: {reason}")]
    #[diagnostic(
        code(forger::cache::registry_entry),
        help("push the entry again with --cache-to, or build without --cache-from")
    )]
    RegistryEntry {
        /// The entry's reference.
        reference: String,
        /// What is wrong.
        reason: String,
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
