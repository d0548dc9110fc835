//! GRUB's BIOS boot blocks on a GPT disk, laid out as `grub-bios-setup` does when it embeds
//! `core.img` in a BIOS boot partition: `boot.img` in LBA 0 (keeping the protective MBR's
//! disk signature and partition table), `core.img` from the BIOS boot partition's first
//! sector, and the two fields that tie them together patched in:
//!
//! - `boot.img` at [`BOOT_KERNEL_SECTOR`]: the LBA of `core.img`'s first sector (u64 LE),
//!   which `boot.img` loads (that sector is `diskboot.img`);
//! - `core.img` at [`CORE_BLOCKLIST`], the end of its first sector: the block list
//!   `diskboot.img` follows to load the rest of `core.img` (start LBA u64, sector count u16,
//!   load segment u16, terminated by the zeroed entry before it).
//!
//! Like `grub-bios-setup` for a hard disk, the boot-drive byte is set to `0xff` (use the
//! drive the BIOS passed in `%dl`) and the jump over the floppy workaround is replaced by two
//! NOPs. No Reed-Solomon recovery data is added (its length field stays 0, which `core.img`
//! reads as "none").

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::layout::types;
use super::{Error, Layout};

/// `boot.img` offset of the LBA of `core.img`'s first sector (u64 LE).
pub const BOOT_KERNEL_SECTOR: usize = 0x5c;
/// `boot.img` offset of the boot drive (u8; `0xff`: the drive in `%dl`).
pub const BOOT_DRIVE: usize = 0x64;
/// `boot.img` offset of the 2-byte jump that skips the fix for BIOSes passing a wrong drive.
pub const BOOT_DRIVE_CHECK: usize = 0x66;
/// `core.img` offset of the first block-list entry: the end of its first sector.
pub const CORE_BLOCKLIST: usize = 512 - 12;
/// The segment `diskboot.img` loads the rest of `core.img` to (right after itself at 0x8000).
pub const CORE_LOAD_SEGMENT: u16 = 0x820;
/// The BIOS parameter block range kept from the existing sector 0.
const BPB: Range<usize> = 0x3..0x5a;
/// From here on (disk signature, partition table) the existing sector 0 is kept.
const MBR_TABLE: Range<usize> = 0x1b8..0x1fe;

/// GRUB BIOS boot: `boot_img` into LBA 0, `core_img` into the BIOS boot partition at
/// `partition` (an index into the layout).
#[derive(Clone, PartialEq, Eq)]
pub struct GrubBiosBoot {
    /// Index of the BIOS boot partition in [`Layout::partitions`].
    pub partition: usize,
    /// `boot.img` (512 bytes).
    pub boot_img: Vec<u8>,
    /// `core.img` as `grub-mkimage -O i386-pc` wrote it.
    pub core_img: Vec<u8>,
}

impl std::fmt::Debug for GrubBiosBoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrubBiosBoot")
            .field("partition", &self.partition)
            .field("boot_img", &self.boot_img.len())
            .field("core_img", &self.core_img.len())
            .finish()
    }
}

impl GrubBiosBoot {
    /// Checks the images and the partition before anything is written.
    pub(crate) fn check(&self, layout: &Layout) -> Result<(), Error> {
        let count = layout.partitions().len();
        let part = layout
            .partitions()
            .get(self.partition)
            .ok_or(Error::NoSuchPartition {
                index: self.partition,
                count,
            })?;
        let bad = |reason: String| Err(Error::GrubBios { reason });
        if layout.sector_size() != 512 {
            return bad(format!(
                "GRUB's BIOS boot code reads 512-byte sectors; the disk has {}-byte sectors",
                layout.sector_size()
            ));
        }
        if part.type_guid != types::BIOS_BOOT {
            return bad(format!(
                "partition {} `{}` is not a BIOS boot partition",
                part.number, part.name
            ));
        }
        if self.boot_img.len() != 512 || self.boot_img[510..] != [0x55, 0xaa] {
            return bad(format!(
                "boot.img is {} bytes; it must be one 512-byte sector ending in 55 AA",
                self.boot_img.len()
            ));
        }
        if self.core_img.len() < 1024 || segment(&self.core_img) != CORE_LOAD_SEGMENT {
            return bad(
                "core.img does not start with diskboot.img (no block list loading at segment 0x820); make it with grub-mkimage -O i386-pc"
                    .to_owned(),
            );
        }
        let sectors = self.core_img.len().div_ceil(512) as u64;
        if sectors > part.sectors || sectors - 1 > u64::from(u16::MAX) {
            return bad(format!(
                "core.img needs {sectors} sectors; the BIOS boot partition has {}",
                part.sectors
            ));
        }
        Ok(())
    }

    /// Writes `boot.img` over LBA 0 (keeping its BPB bytes, disk signature and partition
    /// table) and `core.img` into the BIOS boot partition, with the fields patched.
    pub(crate) fn install(
        &self,
        out: &File,
        out_path: &Path,
        layout: &Layout,
    ) -> Result<(), Error> {
        let part = &layout.partitions()[self.partition];
        let mut mbr = [0u8; 512];
        out.read_exact_at(&mut mbr, 0)
            .map_err(Error::io(out_path, 0))?;
        let mut boot = self.boot_img.clone();
        boot[BPB].copy_from_slice(&mbr[BPB]);
        boot[MBR_TABLE].copy_from_slice(&mbr[MBR_TABLE]);
        boot[BOOT_KERNEL_SECTOR..BOOT_KERNEL_SECTOR + 8]
            .copy_from_slice(&part.first_lba.to_le_bytes());
        boot[BOOT_DRIVE] = 0xff;
        boot[BOOT_DRIVE_CHECK..BOOT_DRIVE_CHECK + 2].copy_from_slice(&[0x90, 0x90]);

        let mut core = self.core_img.clone();
        let rest = (core.len().div_ceil(512) - 1) as u16;
        let entry = CORE_BLOCKLIST;
        core[entry..entry + 8].copy_from_slice(&(part.first_lba + 1).to_le_bytes());
        core[entry + 8..entry + 10].copy_from_slice(&rest.to_le_bytes());
        core[entry + 10..entry + 12].copy_from_slice(&CORE_LOAD_SEGMENT.to_le_bytes());
        core[entry - 12..entry].fill(0);

        out.write_all_at(&boot, 0).map_err(Error::io(out_path, 0))?;
        let at = part.first_lba * 512;
        out.write_all_at(&core, at)
            .map_err(Error::io(out_path, at))?;
        Ok(())
    }
}

fn segment(core: &[u8]) -> u16 {
    u16::from_le_bytes([core[CORE_BLOCKLIST + 10], core[CORE_BLOCKLIST + 11]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::layout::MIB;

    fn images() -> (Vec<u8>, Vec<u8>) {
        let mut boot = vec![0u8; 512];
        boot[510..].copy_from_slice(&[0x55, 0xaa]);
        let mut core = vec![1u8; 3000];
        core[CORE_BLOCKLIST + 10..CORE_BLOCKLIST + 12]
            .copy_from_slice(&CORE_LOAD_SEGMENT.to_le_bytes());
        (boot, core)
    }

    #[test]
    fn check_refuses_what_grub_cannot_boot() {
        let layout = Layout::linux(700 * MIB, 64 * MIB, 512, true).expect("layout");
        let (boot_img, core_img) = images();
        let ok = GrubBiosBoot {
            partition: 0,
            boot_img,
            core_img,
        };
        ok.check(&layout).expect("valid");
        let reason = |g: &GrubBiosBoot, layout: &Layout| match g.check(layout) {
            Err(Error::GrubBios { reason }) => reason,
            other => panic!("expected GrubBios, got {other:?}"),
        };
        let esp = GrubBiosBoot {
            partition: 1,
            ..ok.clone()
        };
        assert!(reason(&esp, &layout).contains("not a BIOS boot partition"));
        let mut short = ok.clone();
        short.boot_img.truncate(446);
        assert!(reason(&short, &layout).contains("boot.img is 446 bytes"));
        let mut not_core = ok.clone();
        not_core.core_img[CORE_BLOCKLIST + 10] = 0;
        assert!(reason(&not_core, &layout).contains("diskboot.img"));
        let mut huge = ok.clone();
        huge.core_img.resize(2 * MIB as usize, 1);
        assert!(reason(&huge, &layout).contains("4096 sectors"));
        let big_sectors = Layout::linux(700 * MIB, 64 * MIB, 4096, true).expect("layout");
        assert!(reason(&ok, &big_sectors).contains("512-byte sectors"));
        let missing = GrubBiosBoot {
            partition: 7,
            ..ok.clone()
        };
        assert!(matches!(
            missing.check(&layout),
            Err(Error::NoSuchPartition { index: 7, count: 3 })
        ));
    }
}
