//! Errors of planning: profiles and referenced files.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A problem found while planning; all are collected and reported together.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// A profile named on the command line that no block of the image uses.
    #[error("unknown profile `{name}`")]
    #[diagnostic(code(forger::plan::unknown_profile), help("{hint}"))]
    UnknownProfile {
        /// The profile given.
        name: String,
        /// Which profiles exist, or that none do.
        hint: String,
    },
    /// An overlay `source` or `certfile` found in none of the places it may be.
    #[error("{what} `{}` not found", given.display())]
    #[diagnostic(
        code(forger::plan::source_not_found),
        help("looked in {}; put the file in one of those places or fix the path", tried.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(" and "))
    )]
    SourceNotFound {
        /// `overlay source` or `certificate`.
        what: &'static str,
        /// The path as written.
        given: PathBuf,
        /// Every place looked at.
        tried: Vec<PathBuf>,
    },
    /// A referenced file that resolves outside the declaring file's directory.
    #[error("{what} `{}` resolves outside its base directory `{}`", given.display(), base.display())]
    #[diagnostic(
        code(forger::plan::source_escapes),
        help("referenced files must live below the directory of the spec that names them")
    )]
    SourceEscapes {
        /// `overlay source` or `certificate`.
        what: &'static str,
        /// The path as written.
        given: PathBuf,
        /// The base directory.
        base: PathBuf,
    },
    /// A target named with `-t` that the image does not have.
    #[error("unknown target `{name}`")]
    #[diagnostic(
        code(forger::plan::unknown_target),
        help("the image's targets are: {known}")
    )]
    UnknownTarget {
        /// The name given.
        name: String,
        /// The image's target names.
        known: String,
    },
    /// The APT mirror override cannot be applied.
    #[error("invalid APT mirror override: {reason}")]
    #[diagnostic(
        code(forger::plan::apt_override),
        help(
            "give `--apt-mirror URL` (repeatable) with optional `--apt-suite S`, `--apt-components \"C …\"` and `--apt-keyring FILE`, on a Debian or Ubuntu image"
        )
    )]
    AptOverride {
        /// What is wrong.
        reason: String,
    },
    /// Reading a referenced file for its hash failed.
    #[error("cannot read `{}`", path.display())]
    #[diagnostic(code(forger::plan::io))]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Several of the above.
    #[error("planning found {} problem(s)", problems.len())]
    #[diagnostic(code(forger::plan::invalid))]
    Invalid {
        /// Each problem.
        #[related]
        problems: Vec<Error>,
    },
}
