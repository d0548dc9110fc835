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
    /// A literal or validation problem of the image model.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Model(#[from] crate::model::Error),
    /// Planning: profiles, targets, referenced files.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] crate::plan::Error),
    /// Installing the payload.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Payload(#[from] crate::payload::Error),
    /// The build pipeline.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Build(#[from] crate::build::Error),
    /// The staging tree or its manifest.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
    /// The illumos finishing steps (boot archive, /dev skeleton, console, first boot).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Illumos(#[from] crate::illumos::Error),
}
