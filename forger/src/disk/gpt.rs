//! Writing the partition table of a [`Layout`] with the `gpt` crate: the protective MBR in
//! LBA 0, the primary header and entry array, and the backup array and header at the end,
//! with their CRCs. GUIDs come from the build [`Seed`] so two builds give the same bytes.
//!
//! The crate writes used entries packed at the start of the array; a layout may number its
//! entries with gaps (illumos keeps its reserved partition in entry 9, slice 8), so the
//! entries are then moved to their slots and both arrays' and headers' CRC32s recomputed.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use ::gpt::disk::LogicalBlockSize;
use ::gpt::mbr::ProtectiveMBR;
use ::gpt::partition::Partition as GptPartition;
use ::gpt::partition_types::{OperatingSystem, Type};

use std::os::unix::fs::FileExt;

use super::layout::{ENTRY_COUNT, ENTRY_SIZE};
use super::{Error, Layout};
use crate::seed::Seed;

/// Writes the protective MBR and both GPTs of `layout` into `file` (already sized to the
/// disk). Nothing outside LBA 0, the two headers and the two arrays is touched.
pub(crate) fn write_table(
    mut file: &File,
    path: &Path,
    layout: &Layout,
    seed: &Seed,
) -> Result<(), Error> {
    let lb_size = match layout.sector_size() {
        512 => LogicalBlockSize::Lb512,
        _ => LogicalBlockSize::Lb4096,
    };
    let gpt_err = |e: ::gpt::GptError| match e {
        ::gpt::GptError::Io(source) => Error::Io {
            path: path.to_path_buf(),
            offset: 0,
            source,
        },
        other => Error::Gpt {
            message: other.to_string(),
        },
    };
    let mut parts = BTreeMap::new();
    for (i, p) in layout.partitions().iter().enumerate() {
        let guid = layout
            .partition_guid(i, seed)
            .expect("index comes from the same layout");
        parts.insert(
            p.number,
            GptPartition {
                part_type_guid: Type {
                    guid: p.type_guid,
                    os: OperatingSystem::None,
                },
                part_guid: guid,
                first_lba: p.first_lba,
                last_lba: p.last_lba(),
                flags: p.attributes,
                name: p.name.clone(),
            },
        );
    }
    let mut disk = ::gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(lb_size)
        .create_from_device(&mut file, Some(layout.disk_guid(seed)))
        .map_err(gpt_err)?;
    disk.update_partitions(parts).map_err(gpt_err)?;
    disk.write_inplace().map_err(gpt_err)?;
    drop(disk);
    place_entries(file, path, layout)?;

    let lbas = layout.disk_size() / u64::from(layout.sector_size());
    let mbr = ProtectiveMBR::with_lb_size(u32::try_from(lbas - 1).unwrap_or(u32::MAX));
    mbr.overwrite_lba0(&mut file).map_err(|e| Error::Gpt {
        message: e.to_string(),
    })?;
    Ok(())
}

/// Moves the packed entries the crate wrote to the slots their numbers name, in both arrays,
/// and fixes the array and header CRCs. Does nothing when the numbers are already 1..=n.
fn place_entries(file: &File, path: &Path, layout: &Layout) -> Result<(), Error> {
    let mut numbers: Vec<u32> = layout.partitions().iter().map(|p| p.number).collect();
    numbers.sort_unstable();
    if numbers
        .iter()
        .enumerate()
        .all(|(i, &n)| n as usize == i + 1)
    {
        return Ok(());
    }
    let ss = u64::from(layout.sector_size());
    let entry = ENTRY_SIZE as usize;
    let array_len = (ENTRY_COUNT * ENTRY_SIZE) as usize;
    let read =
        |off: u64, buf: &mut [u8]| file.read_exact_at(buf, off).map_err(Error::io(path, off));
    let write = |off: u64, buf: &[u8]| file.write_all_at(buf, off).map_err(Error::io(path, off));
    let last_lba = layout.disk_size() / ss - 1;
    for header_lba in [1, last_lba] {
        let mut header = vec![0u8; 92];
        read(header_lba * ss, &mut header)?;
        let array_lba = u64::from_le_bytes(header[72..80].try_into().expect("8 bytes"));
        let mut packed = vec![0u8; array_len];
        read(array_lba * ss, &mut packed)?;
        let mut placed = vec![0u8; array_len];
        for (k, &n) in numbers.iter().enumerate() {
            let to = (n as usize - 1) * entry;
            placed[to..to + entry].copy_from_slice(&packed[k * entry..(k + 1) * entry]);
        }
        write(array_lba * ss, &placed)?;
        header[88..92].copy_from_slice(&crc32fast::hash(&placed).to_le_bytes());
        header[16..20].fill(0);
        let crc = crc32fast::hash(&header);
        header[16..20].copy_from_slice(&crc.to_le_bytes());
        write(header_lba * ss, &header)?;
    }
    Ok(())
}
