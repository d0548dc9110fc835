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
    /// A front end's error (the KDL importer), with its own diagnostics.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Frontend(#[from] crate::frontend::FrontendError),
    /// The stage cache.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cache(#[from] crate::cache::Error),
    /// The staging tree or its manifest.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
    /// The disk layer: layout, GPT, ESP, boot blocks, raw and QCOW2 outputs.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Disk(#[from] crate::disk::Error),
    /// The APT (mmdebstrap) payload.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Apt(#[from] crate::payload::apt::Error),
    /// The ext4 writer.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Ext4(#[from] crate::fs::ext4::Error),
    /// Linux boot files (systemd-boot ESP, fstab).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Boot(#[from] crate::boot::Error),
    /// Writing a tar archive.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Archive(#[from] crate::archive::Error),
    /// OCI layouts and registry transfers.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Oci(#[from] crate::oci::Error),
    /// The illumos finishing steps (boot archive, /dev skeleton, console, first boot).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Illumos(#[from] crate::illumos::Error),
    /// The native IPS client.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Ips(#[from] crate::payload::ips::Error),
    /// The ZFS pool writer.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Zfs(#[from] crate::fs::zfs::Error),
}
