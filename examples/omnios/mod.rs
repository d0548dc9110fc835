//! The OmniOS CI image of the KDL corpus (`omnios-rust-ci.kdl`) as Rust: its base image
//! (`omnios-bloody-base.kdl`), its two includes (`devfs.kdl`, `common.kdl`) and the image
//! itself, one module each, with the files they copy in `files/` next to them (overlay
//! `source` paths resolve against this directory, the one the macros are invoked from).

pub mod bloody_base;
pub mod common;
pub mod devfs;
pub mod rust_ci;
