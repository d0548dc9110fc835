//! The native IPS client: installs pkg(5) packages from pkg5 v4 repositories (`file://`) and
//! depots (HTTP) into a [`StagingTree`](crate::stage::StagingTree) on any host, and writes
//! `/var/pkg` as an image-format-4 image. Formats and semantics: `shared/docs/ips.md`.
//!
//! Layers call downward: [`IpsPayload`] (client) → resolve/fetch/install/image → catalog,
//! action, fmri, version.

mod action;
mod catalog;
mod error;
mod fmri;
mod resolve;
mod varcet;
mod version;

pub use action::{Action, logical_lines, parse_manifest, quote_value};
pub use catalog::{
    CatalogPackage, PARTS, PublisherCatalog, canonical_json, signed_json, verify_signed,
};
pub use error::{Blocker, Error};
pub use fmri::{Fmri, quote, unquote};
pub use resolve::{Resolution, resolve};
pub use varcet::Varcets;
pub use version::{DEFAULT_BUILD_RELEASE, DotSequence, Version};
