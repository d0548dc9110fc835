//! The staging tree: file contents on the host plus an ownership [`Manifest`] that holds the
//! truth about every entry (type, owner, group, mode, link target, device numbers, mtime,
//! xattrs). Nothing is ever `chown`ed on the host, so no step needs root; every output writer
//! (tar, ZFS, ext4, FAT, OCI layers) reads owners and modes from the manifest only.

mod accounts;
mod customize;
mod dir_import;
mod error;
mod manifest;
mod path;
mod tar_import;
mod tree;

pub use accounts::{Accounts, GroupEntry, PasswdEntry};
pub use customize::{Warning, apply, read_text};
pub use error::Error;
pub use manifest::{Entry, EntryKind, Manifest};
pub use path::StagePath;
pub use tar_import::TarImportStats;
pub use tree::{StagingTree, link_files};
