//! Errors of the build pipeline itself (options and output placement).

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A build could not run as asked.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// `--output-name` with more than one target selected.
    #[error("--output-name renames one output, but {count} targets are selected")]
    #[diagnostic(
        code(forger::build::output_name_ambiguous),
        help("select the target to rename with -t NAME")
    )]
    OutputNameAmbiguous {
        /// Number of selected targets.
        count: usize,
    },
    /// `--spec` given to a program that defines its image in Rust.
    #[error("this program defines its image in Rust; --spec `{}` is not used", spec.display())]
    #[diagnostic(
        code(forger::build::spec_not_accepted),
        help("drop --spec, or use the `forger` binary to build KDL specs")
    )]
    SpecNotAccepted {
        /// The spec given.
        spec: PathBuf,
    },
    /// The `forger` binary was run without `--spec`.
    #[error("no image given")]
    #[diagnostic(
        code(forger::build::spec_missing),
        help("name the KDL spec to use: --spec image.kdl")
    )]
    SpecMissing,
    /// The output directory cannot be created or written.
    #[error("cannot write to `{}`", path.display())]
    #[diagnostic(code(forger::build::io))]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
