//! Errors of the built-in payload sources.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A payload could not be installed.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// Reading the payload failed.
    #[error("cannot read payload `{}`", path.display())]
    #[diagnostic(
        code(forger::payload::io),
        help("check that the path exists and is readable")
    )]
    Io {
        /// The payload path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Staging the content failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
    /// A package installer failed (its own error says why).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Installer(Box<crate::Error>),
    /// No package installer exists (yet) for the distribution.
    #[error("no package installer for {distro} is available on this host")]
    #[diagnostic(code(forger::payload::no_installer), help("{help}"))]
    NoInstaller {
        /// The distribution.
        distro: String,
        /// What to do instead.
        help: String,
    },
}
