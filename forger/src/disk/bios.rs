//! illumos BIOS boot blocks on a GPT disk, as `installboot -M` lays them out: stage 1
//! (`/boot/pmbr`) in LBA 0 keeping the BPB and the protective partition table, stage 2
//! (`/boot/gptzfsboot`) in the ZFS partition's boot area at partition offset 512 KiB, and the
//! stage-1 fields (stage-2 size, LBA and id) and the stage-2 partition start patched in.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{Error, Layout};
use crate::seed::Seed;
use crate::stage::{StagePath, StagingTree};

/// Stage 1 offset of the stage-2 size in sectors (u16).
pub const STAGE1_STAGE2_SIZE: usize = 0xfc;
/// Stage 1 offset of the stage-2 absolute LBA (u64).
pub const STAGE1_STAGE2_LBA: usize = 0xfe;
/// Stage 1 offset of the stage-2 id (16 bytes).
pub const STAGE1_STAGE2_UUID: usize = 0x106;
/// BPB range kept from the existing MBR.
const BPB: std::ops::Range<usize> = 0x3..0x3e;
/// From here on (disk signature, partition table, 0xAA55) the existing MBR is kept.
const STAGE1_SIG: usize = 0x1b8;
/// Stage 2 starts this far into the ZFS partition (`BBLK_ZFS_BLK_OFF`, 1024 × 512 bytes).
pub const STAGE2_OFFSET: u64 = 512 * 1024;
/// Largest stage 2: the 3.5 MiB vdev boot area.
pub const STAGE2_MAX: u64 = 3584 * 1024;
const MULTIBOOT_MAGIC: u32 = 0x1bad_b002;
/// Offset of `bss_end_addr` in the multiboot header.
const MB_BSS_END: usize = 24;
/// The multiboot header lies in the first 8 KiB of the image.
const MB_SEARCH: usize = 8192;

/// illumos BIOS boot for the ZFS partition at `zfs_partition` (an index into the layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IllumosBiosBoot {
    /// Index of the ZFS partition in [`Layout::partitions`].
    pub zfs_partition: usize,
    /// Stage 1 in the staging tree (default `/boot/pmbr`).
    pub pmbr: String,
    /// Stage 2 in the staging tree (default `/boot/gptzfsboot`).
    pub gptzfsboot: String,
}

impl IllumosBiosBoot {
    /// The standard file names for the ZFS partition at `zfs_partition`.
    pub fn new(zfs_partition: usize) -> Self {
        IllumosBiosBoot {
            zfs_partition,
            pmbr: "/boot/pmbr".into(),
            gptzfsboot: "/boot/gptzfsboot".into(),
        }
    }

    /// Reads and checks both boot blocks from `tree` (before anything is written).
    pub(crate) fn load(
        &self,
        tree: &StagingTree,
        layout: &Layout,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let count = layout.partitions().len();
        if self.zfs_partition >= count {
            return Err(Error::NoSuchPartition {
                index: self.zfs_partition,
                count,
            });
        }
        let pmbr = read_staged(tree, &self.pmbr)?;
        if pmbr.len() != 512 {
            return Err(Error::BadBootBlock {
                path: self.pmbr.clone(),
                size: pmbr.len() as u64,
                expected: "stage 1 must be exactly 512 bytes",
            });
        }
        let stage2 = read_staged(tree, &self.gptzfsboot)?;
        if stage2.is_empty() || stage2.len() as u64 > STAGE2_MAX {
            return Err(Error::BadBootBlock {
                path: self.gptzfsboot.clone(),
                size: stage2.len() as u64,
                expected: "stage 2 must be 1 byte to 3.5 MiB",
            });
        }
        if multiboot_header(&stage2).is_none() {
            return Err(Error::BadBootBlock {
                path: self.gptzfsboot.clone(),
                size: stage2.len() as u64,
                expected: "stage 2 must have a multiboot header in its first 8 KiB",
            });
        }
        let (_, zfs_len) = layout
            .byte_range(self.zfs_partition)
            .expect("index checked above");
        if zfs_len < STAGE2_OFFSET + STAGE2_MAX {
            return Err(Error::BadBootBlock {
                path: self.gptzfsboot.clone(),
                size: zfs_len,
                expected: "the ZFS partition must hold the 4 MiB boot area",
            });
        }
        Ok((pmbr, stage2))
    }

    /// Writes stage 1 into LBA 0 (over the protective MBR, keeping its BPB bytes and its
    /// partition table) and stage 2 into the ZFS partition's boot area.
    pub(crate) fn install(
        &self,
        out: &File,
        out_path: &Path,
        layout: &Layout,
        seed: &Seed,
        mut pmbr: Vec<u8>,
        mut stage2: Vec<u8>,
    ) -> Result<(), Error> {
        let part = &layout.partitions()[self.zfs_partition];
        let ss = u64::from(layout.sector_size());
        let mut mbr = [0u8; 512];
        out.read_exact_at(&mut mbr, 0)
            .map_err(Error::io(out_path, 0))?;
        pmbr[BPB].copy_from_slice(&mbr[BPB]);
        pmbr[STAGE1_SIG..].copy_from_slice(&mbr[STAGE1_SIG..]);
        let stage2_sectors = (stage2.len() as u64).div_ceil(ss);
        let stage2_lba = part.first_lba + STAGE2_OFFSET / ss;
        pmbr[STAGE1_STAGE2_SIZE..STAGE1_STAGE2_SIZE + 2]
            .copy_from_slice(&(stage2_sectors as u16).to_le_bytes());
        pmbr[STAGE1_STAGE2_LBA..STAGE1_STAGE2_LBA + 8].copy_from_slice(&stage2_lba.to_le_bytes());
        pmbr[STAGE1_STAGE2_UUID..STAGE1_STAGE2_UUID + 16]
            .copy_from_slice(&seed.bytes("disk/illumos/stage2-id")[..16]);
        let mb = multiboot_header(&stage2).expect("checked in load");
        stage2[mb + MB_BSS_END..mb + MB_BSS_END + 8].copy_from_slice(&part.first_lba.to_le_bytes());

        out.write_all_at(&pmbr, 0).map_err(Error::io(out_path, 0))?;
        let at = part.first_lba * ss + STAGE2_OFFSET;
        out.write_all_at(&stage2, at)
            .map_err(Error::io(out_path, at))?;
        Ok(())
    }
}

/// Offset of the multiboot header (magic, flags, checksum summing to 0) in `image`.
pub fn multiboot_header(image: &[u8]) -> Option<usize> {
    let end = image.len().min(MB_SEARCH);
    (0..end.saturating_sub(32)).step_by(4).find(|&o| {
        let word =
            |i: usize| u32::from_le_bytes(image[o + i..o + i + 4].try_into().expect("4 bytes"));
        word(0) == MULTIBOOT_MAGIC && word(0).wrapping_add(word(4)).wrapping_add(word(8)) == 0
    })
}

fn read_staged(tree: &StagingTree, path: &str) -> Result<Vec<u8>, Error> {
    let missing = || Error::MissingBootFile {
        path: path.to_string(),
    };
    let sp = StagePath::new(path).map_err(|_| missing())?;
    let content = tree.manifest.content_path(&sp).ok_or_else(missing)?.clone();
    let mut f = tree.open_file(&content).map_err(|_| missing())?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(Error::io(tree.host_path(&content), 0))?;
    Ok(bytes)
}
