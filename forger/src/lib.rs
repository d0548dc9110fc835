//! Forger: an operating-system image is a typed Rust program.
//!
//! Data flows one way: a front end (the `image!` DSL, the bon builders of [`model`], or a KDL
//! spec through `kdl-compat`) produces a typed [`model::Image`]; [`plan`] resolves composition
//! and profiles and content-hashes every stage; [`stage`] installs a payload into a staging
//! tree whose owners and modes live in an [`stage::Manifest`] (never `chown`ed on the host);
//! filesystem writers ([`fs`]), the disk assembler ([`disk`]) and the OCI writer ([`oci`]) turn
//! the tree into outputs.
//!
//! # Diagnostic codes
//! Every error carries a code `forger::<module>::<reason>`, printed by the CLI and emitted in
//! `--output json` events. See [`Error`].

pub mod archive;
pub mod boot;
pub mod build;
pub mod cache;
pub mod cli;
pub mod disk;
pub mod error;
pub mod frontend;
pub mod fs;
pub mod illumos;
pub mod model;
pub mod oci;
pub mod payload;
pub mod plan;
pub mod seed;
pub mod stage;

pub use cli::run;
pub use error::{Error, Result};
pub use forger_macros::{fragment, image};
