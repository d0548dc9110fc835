//! OCI images and registries: image layouts written from a staging tree (one deterministic
//! layer, an oci-spec config with canonical JSON), pushes of layouts and of files as OCI 1.1
//! artifacts (QCOW2 disks, tarballs), and pulls of `oci://` artifacts.
//!
//! Blobs are streamed from disk in chunks with resumable, retried uploads (memory bounded by
//! one chunk); credentials are looked up in a fixed order ([`auth`]) and never printed.
//! Plain HTTP is used only for loopback registries and hosts listed as insecure.
//!
//! ```no_run
//! use std::path::Path;
//! use forger::archive::Compression;
//! use forger::oci::{self, ArtifactKind, ArtifactMeta, ImageConfig, LayoutOptions, PushOptions};
//! # fn demo(tree: &forger::stage::StagingTree) -> Result<(), forger::oci::Error> {
//! // Build `out/web-oci/` and push it.
//! let mut config = ImageConfig::new("solaris", "amd64");
//! config.entrypoint = vec!["/usr/sbin/nginx".into()];
//! let opts = LayoutOptions { compression: Compression::Gzip, epoch: 1_700_000_000, tag: "1.0".into(), ..Default::default() };
//! let layout = oci::write_layout(tree, Path::new("out"), "web", &config, &opts)?;
//! let push = PushOptions { auth_file: Some("auth.json".into()), ..Default::default() };
//! oci::push_layout(&layout.dir, "ghcr.io/acme/web:1.0", &push)?;
//!
//! // A QCOW2 disk as an artifact, and back.
//! let meta = ArtifactMeta {
//!     name: "web".into(), version: "1.0".into(), architecture: "amd64".into(),
//!     os: "solaris".into(), description: "web server VM".into(), kind: ArtifactKind::Qcow2,
//! };
//! oci::push_artifact(Path::new("out/web.qcow2"), "ghcr.io/acme/web-vm:1.0", &meta, &push)?;
//! oci::pull_artifact("oci://ghcr.io/acme/web-vm:1.0", Path::new("web.qcow2"), &Default::default())?;
//! # Ok(()) }
//! ```

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
    manifest_digest, pull_artifact, push_artifact, push_layout,
};

/// The index.json annotation naming an image's tag.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// The layer annotation naming an artifact's file.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
