//! Errors of the staging layer.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A failure while building or reading the staging tree.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// A path that is not inside the image (absolute host path, `..`, empty component).
    #[error("path `{path}` is not a valid image path")]
    #[diagnostic(
        code(forger::stage::bad_path),
        help("image paths are absolute inside the image (`/etc/hosts`) and may not contain `..`")
    )]
    BadPath {
        /// The offending path as given.
        path: String,
    },
    /// A host I/O failure on a staging file.
    #[error("I/O error on `{}`", path.display())]
    #[diagnostic(code(forger::stage::io))]
    Io {
        /// The host path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An operation needs a parent directory that the manifest does not hold.
    #[error("`{path}` has no parent directory `{parent}` in the staging tree")]
    #[diagnostic(code(forger::stage::no_parent))]
    NoParent {
        /// The entry being added.
        path: String,
        /// The missing parent.
        parent: String,
    },
    /// A path component that must be a directory is something else.
    #[error("`{path}` is not a directory in the staging tree")]
    #[diagnostic(code(forger::stage::not_a_directory))]
    NotADirectory {
        /// The entry that is not a directory.
        path: String,
    },
    /// A hard link whose target is not a regular file in the manifest.
    #[error("hard link `{path}` points at `{target}`, which is not a regular file")]
    #[diagnostic(code(forger::stage::bad_hardlink))]
    BadHardlink {
        /// The link.
        path: String,
        /// Its target.
        target: String,
    },
    /// An owner name that the image's `/etc/passwd` does not know.
    #[error("{action}: owner `{name}` is not a user of the image")]
    #[diagnostic(
        code(forger::stage::unknown_owner),
        help(
            "owners resolve against the image's own /etc/passwd: create the user in a customization block, install the package that adds it, or give a numeric uid"
        )
    )]
    UnknownOwner {
        /// The overlay action, e.g. `ensure-dir /home/ci`.
        action: String,
        /// The owner name.
        name: String,
    },
    /// A group name that the image's `/etc/group` does not know.
    #[error("{action}: group `{name}` is not a group of the image")]
    #[diagnostic(
        code(forger::stage::unknown_group),
        help(
            "groups resolve against the image's own /etc/group: create it through a user's groups, install the package that adds it, or give a numeric gid"
        )
    )]
    UnknownGroup {
        /// The overlay action.
        action: String,
        /// The group name.
        name: String,
    },
    /// A file name that is not UTF-8 (image paths are kept as UTF-8 strings).
    #[error("file name `{}` is not UTF-8", path.display())]
    #[diagnostic(
        code(forger::stage::non_utf8_name),
        help("rename the file; Forger keeps image paths as UTF-8")
    )]
    NonUtf8Name {
        /// The host path.
        path: PathBuf,
    },
}

impl Error {
    /// Wraps an I/O error with the host path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
