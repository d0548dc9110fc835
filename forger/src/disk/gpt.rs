//! Writing the partition table of a [`Layout`] with the `gpt` crate: the protective MBR in
//! LBA 0, the primary header and entry array, and the backup array and header at the end,
//! with their CRCs. GUIDs come from the build [`Seed`] so two builds give the same bytes.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use ::gpt::disk::LogicalBlockSize;
use ::gpt::mbr::ProtectiveMBR;
use ::gpt::partition::Partition as GptPartition;
use ::gpt::partition_types::{OperatingSystem, Type};

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

    let lbas = layout.disk_size() / u64::from(layout.sector_size());
    let mbr = ProtectiveMBR::with_lb_size(u32::try_from(lbas - 1).unwrap_or(u32::MAX));
    mbr.overwrite_lba0(&mut file).map_err(|e| Error::Gpt {
        message: e.to_string(),
    })?;
    Ok(())
}
