//! Errors of the ZFS pool writer: one enum, each variant naming what failed and where.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A failure while writing a ZFS pool.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// The block device is smaller than the 64 MiB ZFS requires.
    #[error("device of {size} bytes is too small for a ZFS pool (minimum {min} bytes)")]
    #[diagnostic(
        code(forger::zfs::device_too_small),
        help("give the ZFS partition at least 64 MiB")
    )]
    DeviceTooSmall {
        /// Device size in bytes.
        size: u64,
        /// The minimum size in bytes.
        min: u64,
    },
    /// The pool ran out of allocatable space.
    #[error("pool is full: {needed} more bytes needed at device offset {offset:#x}")]
    #[diagnostic(
        code(forger::zfs::pool_full),
        help("make the ZFS partition larger than the staged tree plus its metadata")
    )]
    PoolFull {
        /// Bytes of the allocation that failed.
        needed: u64,
        /// Allocation cursor (DVA offset) at the failure.
        offset: u64,
    },
    /// Writing to the block device failed.
    #[error("I/O error writing the pool at device offset {offset:#x}")]
    #[diagnostic(
        code(forger::zfs::device_io),
        help("check the output file and free disk space")
    )]
    DeviceIo {
        /// Device byte offset of the failed write.
        offset: u64,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Reading a staged file failed.
    #[error("I/O error reading staged file `{}`", path.display())]
    #[diagnostic(
        code(forger::zfs::source_io),
        help("the staging tree changed or is unreadable")
    )]
    SourceIo {
        /// Host path of the staged file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A staged file's length changed while it was being written.
    #[error("staged file `{}` changed size while being written (expected {expected} bytes)", path.display())]
    #[diagnostic(
        code(forger::zfs::source_changed),
        help("do not modify the staging tree during a build")
    )]
    SourceChanged {
        /// Host path of the staged file.
        path: PathBuf,
        /// The size seen when the file was opened.
        expected: u64,
    },
    /// A pool or dataset name that ZFS does not accept.
    #[error("invalid ZFS name `{name}`")]
    #[diagnostic(
        code(forger::zfs::bad_name),
        help(
            "names start with a letter and use letters, digits, `_`, `-`, `.`, `:`; dataset names are relative to the pool, components separated by `/`"
        )
    )]
    BadName {
        /// The rejected name.
        name: String,
    },
    /// A dataset was listed without its parent, or twice.
    #[error("dataset `{name}` needs its parent `{parent}` to be listed first")]
    #[diagnostic(
        code(forger::zfs::missing_parent),
        help("list every parent dataset before its children")
    )]
    MissingParent {
        /// The dataset.
        name: String,
        /// Its missing parent.
        parent: String,
    },
    /// A property this writer does not know how to store.
    #[error("unsupported {scope} property `{name}={value}`")]
    #[diagnostic(
        code(forger::zfs::bad_property),
        help(
            "supported dataset properties: mountpoint, canmount, compression, atime, exec, setuid, devices, readonly, xattr, and user properties (`module:name`); pool properties: bootfs, ashift (9 or 12)"
        )
    )]
    BadProperty {
        /// `dataset <name>` or `pool`.
        scope: String,
        /// Property name.
        name: String,
        /// Property value.
        value: String,
    },
    /// A symlink target longer than the bonus buffer can hold.
    #[error("symlink `{path}` has a {len}-byte target; at most {max} bytes are supported")]
    #[diagnostic(
        code(forger::zfs::symlink_too_long),
        help(
            "long symlink targets need spill blocks, which the illumos loader cannot read; shorten the target"
        )
    )]
    SymlinkTooLong {
        /// Image path of the symlink.
        path: String,
        /// Target length in bytes.
        len: usize,
        /// The largest supported length.
        max: usize,
    },
    /// A hard link whose file could not be found in its dataset's tree.
    #[error("hard link `{path}` points at `{target}`, which is not in the same dataset's tree")]
    #[diagnostic(
        code(forger::zfs::dangling_link),
        help("the manifest's hard-link target must be a regular file listed before the link")
    )]
    CrossDatasetLink {
        /// The link.
        path: String,
        /// Its file.
        target: String,
    },
    /// A name that does not fit a ZFS directory entry.
    #[error("file name `{name}` in `{dir}` is longer than 255 bytes")]
    #[diagnostic(
        code(forger::zfs::name_too_long),
        help("ZFS names are at most 255 bytes")
    )]
    NameTooLong {
        /// The directory.
        dir: String,
        /// The name.
        name: String,
    },
    /// A ZAP too large for this writer's single-level pointer table.
    #[error("directory or ZAP object `{what}` has too many entries ({entries})")]
    #[diagnostic(code(forger::zfs::zap_too_large), help("split the directory"))]
    ZapTooLarge {
        /// What the ZAP holds.
        what: String,
        /// Entries requested.
        entries: usize,
    },
    /// The label configuration did not fit the 112 KiB label area.
    #[error("pool configuration of {len} bytes does not fit the label")]
    #[diagnostic(
        code(forger::zfs::config_too_large),
        help("this is a bug in the ZFS writer")
    )]
    ConfigTooLarge {
        /// Packed length.
        len: usize,
    },
    /// A packed nvlist that could not be decoded.
    #[error("malformed nvlist at byte {offset}: {reason}")]
    #[diagnostic(
        code(forger::zfs::bad_nvlist),
        help("the buffer is not an XDR-encoded nvlist")
    )]
    BadNvlist {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
}
