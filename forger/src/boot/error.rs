//! Errors of the boot-file layer.

use miette::Diagnostic;
use thiserror::Error;

/// A failure while deriving boot files from a staged tree.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// The staged tree has no systemd-boot EFI binary.
    #[error("the image has no systemd-boot loader at `{path}`")]
    #[diagnostic(
        code(forger::boot::no_loader),
        help("add the package `systemd-boot-efi` to the image's package list")
    )]
    NoLoader {
        /// The path looked up in the image.
        path: String,
    },
    /// `/boot` holds no kernel with a matching initrd.
    #[error("no kernel with an initrd in `/boot` of the image ({found})")]
    #[diagnostic(
        code(forger::boot::no_kernel),
        help(
            "install a kernel package (`linux-image-amd64` on Debian, `linux-image-virtual` on Ubuntu) and an initramfs generator (initramfs-tools)"
        )
    )]
    NoKernel {
        /// What was found instead (file names in `/boot`).
        found: String,
    },
    /// A symlink chain in the image that does not end in a regular file.
    #[error("`{path}` does not resolve to a regular file in the image")]
    #[diagnostic(
        code(forger::boot::unresolved),
        help("check the image's symlinks; boot files must be regular files")
    )]
    Unresolved {
        /// The path being resolved.
        path: String,
    },
    /// A configuration value that would break the generated file.
    #[error("invalid boot setting `{field}`: {reason}")]
    #[diagnostic(code(forger::boot::bad_config), help("fix `{field}`"))]
    BadConfig {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The image lacks GRUB's modules for a platform.
    #[error("the image has no GRUB modules at `{dir}`")]
    #[diagnostic(
        code(forger::boot::no_grub),
        help("add the package `{package}` to the image's package list{alternative}")
    )]
    NoGrubModules {
        /// The directory (or file) looked up in the image.
        dir: String,
        /// The package that ships it.
        package: &'static str,
        /// Another package that would do, as a sentence tail (may be empty).
        alternative: &'static str,
    },
    /// The host's `grub-mkimage` could not be run or failed.
    #[error("`{command}` failed: {reason}")]
    #[diagnostic(
        code(forger::boot::grub_tool),
        help(
            "install GRUB's host tools on the build machine (`grub-common` on Debian and Ubuntu, `grub2-tools` on Fedora); the image's own modules must be from a GRUB release the host's grub-mkimage can read"
        )
    )]
    GrubTool {
        /// The command line.
        command: String,
        /// Why it failed (exit status and stderr, or the spawn error).
        reason: String,
    },
    /// A host file used while making boot images could not be read or written.
    #[error("I/O error on `{}`", path.display())]
    #[diagnostic(
        code(forger::boot::io),
        help("check free space and permissions of the temporary directory")
    )]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing into the staging tree failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
}

impl Error {
    /// Wraps an I/O error with the host file it concerns.
    pub(crate) fn io(path: impl Into<std::path::PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
