//! The crate's error: one variant per layer, each wrapping that layer's own `Error` so that
//! its diagnostic code, labels and help survive (`#[diagnostic(transparent)]`).

use miette::Diagnostic;
use thiserror::Error;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure Forger reports. Library layers return their own error types; this enum joins
/// them for the entry points (`forger::run`, the CLI).
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// The staging tree or its manifest.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
    /// The ZFS pool writer.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Zfs(#[from] crate::fs::zfs::Error),
}
