//! The typed image model: plain data that every front end (the `image!` DSL, these bon
//! builders, KDL specs through `kdl-compat`) produces and every later stage reads.
//!
//! Values are `serde` (de)serialisable, `Clone + PartialEq + Debug`, and built with bon
//! builders whose required fields are checked at compile time (an image without metadata, or
//! a disk target without a size, does not compile). Literal values are typed ([`Size`],
//! [`Mode`], [`Distro`], [`Package`]); [`Image::validate`] reports every remaining problem at
//! once, each naming the node and what to do.

mod distro;
mod error;
mod image;
mod overlay;
mod sources;
mod target;
mod units;
mod users;
mod validate;
mod vm;

pub use distro::{Architecture, Distro, Family};
pub use error::{Error, Problem};
pub use image::{Fragment, Image, Metadata};
pub use overlay::{
    EnsureDir, EnsureSymlink, FileOverlay, Overlay, OverlaySet, RemoveFiles, Shadow,
};
pub use sources::{
    AptMirror, Certificate, Facet, Package, PackageSet, Publisher, Repositories, Variant,
};
pub use target::{
    ArtifactTarget, Bootloader, Compression, Dataset, DiskLayout, DiskTarget, EnvVar, FsKind,
    OciTarget, PartitionRole, PartitionSpec, Property, SectorSize, Target, TargetKind, ZfsPool,
};
pub use units::{Mode, Size};
pub use users::{Customization, User};
pub use vm::{Binary, BuilderVm};
#[cfg(test)]
mod tests;
