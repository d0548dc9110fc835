//! The disk layer: a checked partition [`Layout`], the GPT written with the `gpt` crate,
//! filesystems written straight into their partitions' byte ranges, optional BIOS boot blocks
//! (illumos or GRUB), and the output as a sparse raw file or our own QCOW2 v3.
//!
//! [`write()`] is the one entry point. It checks everything it can first (partition indexes,
//! boot blocks), assembles the disk in a sparse temporary file next to the output, converts
//! it to QCOW2 if asked, and renames the result into place only when it is complete: an
//! interrupted build leaves no file under the final name. For a QCOW2 output a filesystem
//! that already has its image in a file of its own may lend it ([`Filesystem::lend`]); the
//! converter then reads that partition from the lent file, which is not copied.

mod bios;
mod error;
mod gpt;
mod grub_bios;
pub mod layout;
mod qcow2;
mod raw;
mod source;

use std::fs::File;
use std::path::Path;

pub use bios::{
    IllumosBiosBoot, STAGE1_STAGE2_LBA, STAGE1_STAGE2_SIZE, STAGE1_STAGE2_UUID, STAGE2_MAX,
    STAGE2_OFFSET, multiboot_header,
};
pub use error::Error;
pub use grub_bios::{
    BOOT_DRIVE, BOOT_DRIVE_CHECK, BOOT_KERNEL_SECTOR, CORE_BLOCKLIST, CORE_LOAD_SEGMENT,
    GrubBiosBoot,
};
pub use layout::{Layout, Partition, PartitionSpec, Size, types};
pub use qcow2::{Compression, Qcow2Stats};
pub use raw::PartitionDevice;
pub(crate) use source::data_extents;

use self::source::{Source, Splice};
use crate::fs::Filesystem;
use crate::seed::Seed;
use crate::stage::StagingTree;

/// The output format of [`write()`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A sparse raw disk image.
    Raw,
    /// QCOW2 v3 with 64 KiB clusters.
    Qcow2 {
        /// Per-cluster compression.
        compression: Compression,
    },
}

/// A filesystem to write into one partition.
#[derive(Clone, Copy)]
pub struct PartitionContent<'a> {
    /// Index of the partition in [`Layout::partitions`].
    pub partition: usize,
    /// The writer.
    pub filesystem: &'a dyn Filesystem,
}

impl std::fmt::Debug for PartitionContent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionContent")
            .field("partition", &self.partition)
            .field("filesystem", &self.filesystem.name())
            .finish()
    }
}

/// Everything [`write()`] needs besides the layout and contents.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Raw or QCOW2.
    pub format: Format,
    /// illumos BIOS boot blocks, if the image boots by BIOS.
    pub illumos_bios: Option<IllumosBiosBoot>,
    /// GRUB's BIOS boot blocks, if a Linux image boots by BIOS.
    pub grub_bios: Option<GrubBiosBoot>,
}

impl WriteOptions {
    /// Plain options for `format`, no BIOS boot blocks.
    pub fn new(format: Format) -> Self {
        WriteOptions {
            format,
            illumos_bios: None,
            grub_bios: None,
        }
    }
}

/// What [`write()`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskReport {
    /// Virtual disk size in bytes.
    pub disk_size: u64,
    /// Bytes the output file takes on disk (allocated blocks).
    pub allocated_bytes: u64,
    /// Length of the output file.
    pub file_size: u64,
    /// QCOW2 statistics when the output is QCOW2.
    pub qcow2: Option<Qcow2Stats>,
}

/// Writes the disk of `layout` to `out`: the GPT, each content's filesystem into its
/// partition (from `tree`), the BIOS boot blocks if asked, as raw or QCOW2. The GPT's and
/// boot blocks' ids come from `seed`. Errors in the inputs are reported before any file is
/// created; the output appears under `out` only when complete.
pub fn write(
    layout: &Layout,
    contents: &[PartitionContent<'_>],
    tree: &StagingTree,
    out: &Path,
    options: &WriteOptions,
    seed: &Seed,
) -> crate::Result<DiskReport> {
    let count = layout.partitions().len();
    for c in contents {
        if c.partition >= count {
            return Err(Error::NoSuchPartition {
                index: c.partition,
                count,
            }
            .into());
        }
    }
    let boot = match &options.illumos_bios {
        Some(b) => Some((b, b.load(tree, layout)?)),
        None => None,
    };
    if let Some(g) = &options.grub_bios {
        g.check(layout)?;
    }
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "disk".into());

    let raw_tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".raw.part")
        .tempfile_in(dir)
        .map_err(Error::io(dir, 0))?;
    let raw_path = raw_tmp.path().to_path_buf();
    // A QCOW2 output reads lent filesystems where they are. Not with illumos boot blocks,
    // which go inside the root partition.
    let may_lend = matches!(options.format, Format::Qcow2 { .. }) && boot.is_none();
    let mut lent = Vec::new();
    {
        let file = raw_tmp.as_file();
        file.set_len(layout.disk_size())
            .map_err(Error::io(&raw_path, layout.disk_size()))?;
        self::gpt::write_table(file, &raw_path, layout, seed)?;
        for c in contents {
            let (start, len) = layout
                .byte_range(c.partition)
                .expect("partition index checked above");
            if may_lend && let Some(image) = c.filesystem.lend(len, tree)? {
                tracing::debug!(filesystem = c.filesystem.name(), start, "partition lent");
                lent.push((start, len, image));
                continue;
            }
            let mut dev = PartitionDevice::new(file, start, len).with_path(&raw_path);
            let result = c.filesystem.write(&mut dev, tree);
            if let Some(offset) = dev.overflow {
                return Err(Error::PastEnd {
                    filesystem: c.filesystem.name(),
                    number: layout.partitions()[c.partition].number,
                    offset,
                    size: len,
                }
                .into());
            }
            result?;
        }
        if let Some((b, (pmbr, stage2))) = boot {
            b.install(file, &raw_path, layout, seed, pmbr, stage2)?;
        }
        if let Some(g) = &options.grub_bios {
            g.install(file, &raw_path, layout)?;
        }
    }

    let qcow2 = match options.format {
        Format::Raw => {
            // Only a file that stays is synced: the raw file behind a QCOW2 is deleted.
            raw_tmp
                .as_file()
                .sync_data()
                .map_err(Error::io(&raw_path, 0))?;
            raw_tmp
                .persist(out)
                .map_err(|e| Error::io(out, 0)(e.error))?;
            None
        }
        Format::Qcow2 { compression } => {
            let q_tmp = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".qcow2.part")
                .tempfile_in(dir)
                .map_err(Error::io(dir, 0))?;
            let splices = lent
                .iter()
                .map(|(start, len, image)| Splice {
                    start: *start,
                    len: *len,
                    file: image.file(),
                })
                .collect();
            let stats = qcow2::convert(
                &Source::spliced(raw_tmp.as_file(), splices),
                &raw_path,
                layout.disk_size(),
                q_tmp.as_file(),
                q_tmp.path(),
                compression,
            )?;
            // The loans end as soon as their bytes are read.
            drop(lent);
            q_tmp
                .as_file()
                .sync_data()
                .map_err(Error::io(q_tmp.path(), 0))?;
            q_tmp.persist(out).map_err(|e| Error::io(out, 0)(e.error))?;
            drop(raw_tmp);
            Some(stats)
        }
    };
    let meta = std::fs::metadata(out).map_err(Error::io(out, 0))?;
    use std::os::unix::fs::MetadataExt;
    Ok(DiskReport {
        disk_size: layout.disk_size(),
        allocated_bytes: meta.blocks() * 512,
        file_size: meta.len(),
        qcow2,
    })
}

/// Converts an existing sparse raw disk image at `raw` to QCOW2 at `out` (temporary name,
/// then rename). The same writer [`write()`] uses; handy for benchmarks and tools.
pub fn raw_to_qcow2(raw: &Path, out: &Path, compression: Compression) -> crate::Result<Qcow2Stats> {
    let src = File::open(raw).map_err(Error::io(raw, 0))?;
    let size = src.metadata().map_err(Error::io(raw, 0))?.len();
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".qcow2.")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(Error::io(dir, 0))?;
    let stats = qcow2::convert(
        &Source::raw(&src),
        raw,
        size,
        tmp.as_file(),
        tmp.path(),
        compression,
    )?;
    tmp.persist(out).map_err(|e| Error::io(out, 0)(e.error))?;
    Ok(stats)
}
