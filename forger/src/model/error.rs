//! Errors of the model: bad literal values, and validation problems collected all at once.

use miette::Diagnostic;
use thiserror::Error;

/// A literal that does not parse, or a set of validation problems.
#[derive(Debug, Error, Diagnostic, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A size such as `"8Q"`.
    #[error("`{value}` is not a size")]
    #[diagnostic(
        code(forger::model::bad_size),
        help(
            "write a number with an optional binary unit: \"8G\", \"2000M\", \"512K\", \"8 GiB\""
        )
    )]
    BadSize {
        /// The text given.
        value: String,
    },
    /// A mode such as `"989"`.
    #[error("`{value}` is not an octal file mode")]
    #[diagnostic(
        code(forger::model::bad_mode),
        help("write the permission bits in octal, each digit 0-7: \"644\", \"0755\", \"4755\"")
    )]
    BadMode {
        /// The text given.
        value: String,
    },
    /// An unknown distribution name.
    #[error("`{value}` is not a known distribution")]
    #[diagnostic(
        code(forger::model::unknown_distro),
        help("use \"omnios\", \"openindiana\", \"debian-<version>\" or \"ubuntu-<version>\"")
    )]
    UnknownDistro {
        /// The text given.
        value: String,
    },
    /// An unknown CPU architecture.
    #[error("`{value}` is not a known architecture")]
    #[diagnostic(
        code(forger::model::unknown_architecture),
        help("use \"amd64\" or \"arm64\"")
    )]
    UnknownArchitecture {
        /// The text given.
        value: String,
    },
    /// A keyword value that is not one of the allowed ones (target kind, bootloader, …).
    #[error("`{value}` is not a valid {what}")]
    #[diagnostic(code(forger::model::bad_keyword), help("use one of: {allowed}"))]
    BadKeyword {
        /// What was being parsed (`target kind`, `bootloader`, …).
        what: &'static str,
        /// The text given.
        value: String,
        /// The allowed values, comma separated.
        allowed: &'static str,
    },
    /// Everything `Image::validate` found.
    #[error("the image has {} problem(s)", problems.len())]
    #[diagnostic(code(forger::model::invalid))]
    Invalid {
        /// Every problem, in model order.
        #[related]
        problems: Vec<Problem>,
    },
}

/// One validation problem: where in the image, what is wrong and what to do.
#[derive(Debug, Error, Diagnostic, Clone, PartialEq)]
#[error("{at}: {message}")]
#[diagnostic(code(forger::model::problem))]
pub struct Problem {
    /// The node, e.g. `target "qcow2"` or `overlays[1] file "/etc/hosts"`.
    pub at: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    #[help]
    pub help: Option<String>,
}

impl Problem {
    /// A problem at `at` with a message and a hint.
    pub fn new(at: impl Into<String>, message: impl Into<String>, help: impl Into<String>) -> Self {
        Problem {
            at: at.into(),
            message: message.into(),
            help: Some(help.into()),
        }
    }
}
