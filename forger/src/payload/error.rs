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
    /// A tar entry that cannot be staged (unsupported type, bad name).
    #[error("tarball `{}`: entry `{entry}` {reason}", path.display())]
    #[diagnostic(code(forger::payload::bad_tar_entry))]
    BadTarEntry {
        /// The tarball.
        path: PathBuf,
        /// The entry's name.
        entry: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Staging the content failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
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
