//! The native IPS client: installs pkg(5) packages from pkg5 v4 repositories (`file://`) and
//! depots (HTTP) into a [`StagingTree`](crate::stage::StagingTree) on any host, and writes
//! `/var/pkg` as an image-format-4 image. Formats and semantics: `shared/docs/ips.md`.
//!
//! Layers call downward: [`IpsPayload`] (client) → resolve / fetch / install / image →
//! catalog, action, fmri, version. Not done here: SAT-style backtracking, updates of existing
//! images, incremental catalog updates (`update.*` logs).
//!
//! ```no_run
//! use forger::payload::ips::{IpsPayload, Publisher};
//! use forger::stage::StagingTree;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut tree = StagingTree::create("/tmp/omnios-root")?;
//! let payload = IpsPayload {
//!     publishers: vec![Publisher {
//!         name: "omnios".into(),
//!         origin: "https://pkg.omnios.org/r151054/core/".into(),
//!         ..Publisher::default()
//!     }],
//!     incorporation: Some("entire@11-151054".into()),
//!     packages: vec!["developer/versioning/git".into()],
//!     cache_dir: Some("/var/cache/forger/ips".into()),
//!     source_date_epoch: 1_735_689_600,
//!     ..IpsPayload::default()
//! };
//! let report = payload.install(&mut tree)?;
//! println!("{} packages, {} files", report.installed.len(), report.counts.files);
//! # Ok(())
//! # }
//! ```

mod action;
mod catalog;
mod client;
mod driver;
mod error;
mod fetch;
mod fmri;
mod image;
mod install;
mod layer;
mod origin;
mod resolve;
mod system_pkg;
mod textfile;
mod users;
mod varcet;
mod version;

pub use action::{Action, logical_lines, parse_manifest, quote_value};
pub use catalog::{
    CatalogPackage, PARTS, PublisherCatalog, basic_timestamp, canonical_json, signed_json,
    verify_signed,
};
pub use client::{InstallReport, IpsPayload, Publisher};
pub use driver::major_of;
pub use error::{Blocker, Error};
pub use fetch::{FetchStats, PayloadCache, PayloadSpec};
pub use fmri::{Fmri, quote, unquote};
pub use image::{
    STATE_INSTALLED, STATE_KNOWN, STATE_OBSOLETE, STATE_RENAMED, STATE_UPGRADABLE, STATE_V1,
};
pub use install::{IMAGE_META, InstallCounts, Mediation, PackageContent};
pub use origin::{ClientCert, Origin, TlsSettings};
pub use resolve::{Resolution, resolve};
pub use system_pkg::{IpsClient, SystemPkg};
pub use varcet::Varcets;
pub use version::{DEFAULT_BUILD_RELEASE, DotSequence, Version};
