//! OCI images and registries: image layouts written from a staging tree (one deterministic
//! layer, an oci-spec config with canonical JSON), pushes of layouts and of files as OCI 1.1
//! artifacts (QCOW2 disks, tarballs), and pulls of `oci://` artifacts.
//!
//! Blobs are streamed from disk in chunks with resumable, retried uploads (memory bounded by
//! one chunk); credentials are looked up in a fixed order ([`auth`]) and never printed.
//! Plain HTTP is used only for loopback registries and hosts listed as insecure.

pub mod auth;
mod blob;
mod config;
mod error;
mod json;
mod layout;
mod session;
mod transfer;

pub use blob::BlobOutcome;
pub use config::ImageConfig;
pub use error::Error;
pub use layout::{
    BlobRef, LayoutManifest, LayoutOptions, LayoutReport, blob_path, read_manifest, write_layout,
};
pub use session::Retry;
pub use transfer::{
    ArtifactKind, ArtifactMeta, DEFAULT_CHUNK_SIZE, PullOptions, PullReport, PushOptions,
    PushReport, QCOW2_CONFIG_MEDIA_TYPE, QCOW2_LAYER_MEDIA_TYPE, TARBALL_CONFIG_MEDIA_TYPE,
    pull_artifact, push_artifact, push_layout,
};

/// The index.json annotation naming an image's tag.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// The layer annotation naming an artifact's file.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
