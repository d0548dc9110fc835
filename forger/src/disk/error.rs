//! Errors of the disk layer: layout arithmetic, GPT, the EFI system partition (FAT), BIOS boot
//! blocks and the raw/QCOW2 outputs. Layout and input errors are raised before anything is
//! written; I/O errors name the file and, where known, the offset.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A failure while planning or writing a disk image.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// A logical sector size other than 512 or 4096.
    #[error("sector size {size} is not supported")]
    #[diagnostic(
        code(forger::disk::bad_sector_size),
        help("use a logical sector size of 512 or 4096 bytes")
    )]
    BadSectorSize {
        /// The size asked for.
        size: u32,
    },
    /// A disk size that is not a whole number of sectors.
    #[error("disk size {size} bytes is not a multiple of the {sector_size}-byte sector")]
    #[diagnostic(
        code(forger::disk::unaligned_disk_size),
        help("round the disk size to a multiple of the sector size (1 MiB multiples are best)")
    )]
    UnalignedDiskSize {
        /// Disk size in bytes.
        size: u64,
        /// Logical sector size.
        sector_size: u32,
    },
    /// A partition whose start or size is not a multiple of its alignment.
    #[error(
        "partition {number} `{name}` is not aligned to {alignment} bytes (start {start}, size {size})"
    )]
    #[diagnostic(
        code(forger::disk::unaligned_partition),
        help("start and size must be multiples of the sector size and the layout's alignment")
    )]
    UnalignedPartition {
        /// GPT entry number (1-based).
        number: u32,
        /// Partition name.
        name: String,
        /// Start in bytes.
        start: u64,
        /// Size in bytes.
        size: u64,
        /// Required alignment in bytes.
        alignment: u64,
    },
    /// Two partitions share sectors.
    #[error(
        "partition {a} `{a_name}` overlaps partition {b} `{b_name}` (LBA {a_first}..={a_last} and {b_first}..={b_last})"
    )]
    #[diagnostic(
        code(forger::disk::overlap),
        help("move or shrink one of the partitions so their sector ranges are disjoint")
    )]
    Overlap {
        /// First partition's entry number.
        a: u32,
        /// Its name.
        a_name: String,
        /// Its first LBA.
        a_first: u64,
        /// Its last LBA.
        a_last: u64,
        /// Second partition's entry number.
        b: u32,
        /// Its name.
        b_name: String,
        /// Its first LBA.
        b_first: u64,
        /// Its last LBA.
        b_last: u64,
    },
    /// A partition outside the usable LBAs of the GPT.
    #[error(
        "partition {number} `{name}` (LBA {first}..={last}) does not fit in the usable LBAs {first_usable}..={last_usable}: the disk is {missing_bytes} bytes too small"
    )]
    #[diagnostic(
        code(forger::disk::does_not_fit),
        help("grow the disk by at least {missing_bytes} bytes or shrink the partition")
    )]
    DoesNotFit {
        /// Entry number.
        number: u32,
        /// Name.
        name: String,
        /// First LBA.
        first: u64,
        /// Last LBA.
        last: u64,
        /// First usable LBA of the disk.
        first_usable: u64,
        /// Last usable LBA of the disk.
        last_usable: u64,
        /// How many bytes the disk lacks (0 when the start is before the first usable LBA).
        missing_bytes: u64,
    },
    /// The disk is too small for the fixed parts of a built-in layout.
    #[error(
        "a {layout} disk of {size} bytes is {missing_bytes} bytes too small for its partitions"
    )]
    #[diagnostic(
        code(forger::disk::disk_too_small),
        help(
            "grow the disk by at least {missing_bytes} bytes (plus the space the root filesystem needs)"
        )
    )]
    DiskTooSmall {
        /// Layout name.
        layout: &'static str,
        /// Disk size asked for.
        size: u64,
        /// Missing bytes.
        missing_bytes: u64,
    },
    /// A partition entry number outside 1..=128 or used twice, or an empty partition.
    #[error("partition {number} `{name}` is invalid: {reason}")]
    #[diagnostic(
        code(forger::disk::bad_partition),
        help(
            "GPT entry numbers are 1..=128 and unique; sizes are non-zero; names have at most 36 UTF-16 units"
        )
    )]
    BadPartition {
        /// Entry number.
        number: u32,
        /// Name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Content given for a partition index the layout does not have.
    #[error("content given for partition index {index}, but the layout has {count} partitions")]
    #[diagnostic(
        code(forger::disk::no_such_partition),
        help("index contents by the position of the partition in `Layout::partitions()`")
    )]
    NoSuchPartition {
        /// Index given.
        index: usize,
        /// Partitions in the layout.
        count: usize,
    },
    /// A file needed from the staging tree (boot loader, boot block) is missing.
    #[error("`{path}` is missing from the staging tree")]
    #[diagnostic(
        code(forger::disk::missing_boot_file),
        help(
            "install the package that ships `{path}` into the image, or disable this boot method"
        )
    )]
    MissingBootFile {
        /// Image path.
        path: String,
    },
    /// A boot block of the wrong size.
    #[error("`{path}` is {size} bytes; {expected}")]
    #[diagnostic(
        code(forger::disk::bad_boot_block),
        help("check that `{path}` is the illumos boot block of the image's release")
    )]
    BadBootBlock {
        /// Image path.
        path: String,
        /// Its size.
        size: u64,
        /// What was expected.
        expected: &'static str,
    },
    /// GRUB's BIOS boot images do not fit the disk or are not what they should be.
    #[error("GRUB BIOS boot: {reason}")]
    #[diagnostic(
        code(forger::disk::grub_bios),
        help(
            "GRUB BIOS boot needs 512-byte sectors, a BIOS boot partition and boot.img/core.img from the image's grub-pc-bin (made with grub-mkimage -O i386-pc)"
        )
    )]
    GrubBios {
        /// What is wrong.
        reason: String,
    },
    /// The ESP partition is too small for the FAT variant.
    #[error(
        "the ESP of {size} bytes is too small for {kind} at {sector_size}-byte sectors (needs at least {needed} bytes)"
    )]
    #[diagnostic(
        code(forger::disk::esp_too_small),
        help("grow the ESP to at least {needed} bytes, or allow FAT16 for small ESPs")
    )]
    EspTooSmall {
        /// Partition size.
        size: u64,
        /// FAT variant.
        kind: &'static str,
        /// Sector size.
        sector_size: u32,
        /// Minimum size.
        needed: u64,
    },
    /// An ESP path that FAT cannot hold.
    #[error("ESP path `{path}` is invalid: {reason}")]
    #[diagnostic(
        code(forger::disk::bad_esp_path),
        help(
            "use relative `/`-separated paths like `EFI/BOOT/BOOTX64.EFI`, without `.`/`..` or empty parts"
        )
    )]
    BadEspPath {
        /// The path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The FAT library refused an operation.
    #[error("FAT: {op} `{path}` failed: {message}")]
    #[diagnostic(
        code(forger::disk::fat),
        help("the ESP may be too small for its files; grow the ESP partition")
    )]
    Fat {
        /// Operation.
        op: &'static str,
        /// ESP path (or `/`).
        path: String,
        /// The library's message.
        message: String,
    },
    /// The GPT library refused the table.
    #[error("GPT: {message}")]
    #[diagnostic(
        code(forger::disk::gpt),
        help("this is a bug in the layout checks; report it with the layout")
    )]
    Gpt {
        /// The library's message.
        message: String,
    },
    /// A write past the end of a partition.
    #[error(
        "{filesystem} wrote past the end of partition {number} (offset {offset}, partition size {size})"
    )]
    #[diagnostic(
        code(forger::disk::write_past_end),
        help("the filesystem writer must stay within `BlockDevice::size_bytes()`")
    )]
    PastEnd {
        /// Filesystem name.
        filesystem: &'static str,
        /// Entry number.
        number: u32,
        /// Offset tried.
        offset: u64,
        /// Partition size.
        size: u64,
    },
    /// A host I/O failure on an output or input file.
    #[error("I/O error on `{}` at offset {offset}", path.display())]
    #[diagnostic(
        code(forger::disk::io),
        help("check free space and permissions of the output directory")
    )]
    Io {
        /// The file.
        path: PathBuf,
        /// Offset in the file (0 when not known).
        offset: u64,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A QCOW2 image that would exceed the format's limits.
    #[error("QCOW2: {reason}")]
    #[diagnostic(
        code(forger::disk::qcow2_limit),
        help("use a smaller disk or the raw format")
    )]
    Qcow2Limit {
        /// What limit.
        reason: &'static str,
    },
}

impl Error {
    /// Wraps an I/O error with the file and offset it concerns.
    pub fn io(path: impl Into<PathBuf>, offset: u64) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io {
            path,
            offset,
            source,
        }
    }
}
