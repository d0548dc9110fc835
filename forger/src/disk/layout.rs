//! [`Layout`]: pure GPT partition arithmetic. A layout knows the disk size, the logical sector
//! size and each partition's entry number, type GUID, name, first LBA and length; it is checked
//! (alignment, overlap, fit) when built, so no bad layout ever reaches the writer. Built-in
//! layouts reproduce what illumos `zpool create -B` and a systemd-style Linux disk look like.

use uuid::Uuid;

use super::Error;
use crate::seed::Seed;

/// GPT partition type GUIDs used by the built-in layouts.
pub mod types {
    use uuid::Uuid;

    /// EFI System partition (`EF00`).
    pub const EFI_SYSTEM: Uuid = Uuid::from_u128(0xc12a7328_f81f_11d2_ba4b_00a0c93ec93b);
    /// BIOS boot partition for GRUB's core image (`EF02`).
    pub const BIOS_BOOT: Uuid = Uuid::from_u128(0x21686148_6449_6e6f_744e_656564454649);
    /// Linux root (x86-64), from the Discoverable Partitions Specification.
    pub const LINUX_ROOT_X86_64: Uuid = Uuid::from_u128(0x4f68bce3_e8cd_4db1_96e7_fbcaf984b709);
    /// Linux filesystem data (`8300`).
    pub const LINUX_DATA: Uuid = Uuid::from_u128(0x0fc63daf_8483_4772_8e79_3d69d8477de4);
    /// illumos `V_USR`, the type `zpool create -B` gives the ZFS partition.
    pub const ILLUMOS_ZFS: Uuid = Uuid::from_u128(0x6a898cc3_1dd2_11b2_99a6_080020736631);
    /// illumos `V_RESERVED`, the reserved partition 8 at the end of the disk.
    pub const ILLUMOS_RESERVED: Uuid = Uuid::from_u128(0x6a945a3b_1dd2_11b2_99a6_080020736631);
}

/// Entries in the partition array (the GPT minimum and what every tool writes).
pub const ENTRY_COUNT: u32 = 128;
/// Size of one partition entry in bytes.
pub const ENTRY_SIZE: u32 = 128;
/// One mebibyte, the default partition alignment.
pub const MIB: u64 = 1 << 20;
/// illumos `EFI_MIN_RESV_SIZE`: the reserved partition's length in sectors.
pub const ILLUMOS_RESERVED_SECTORS: u64 = 16 * 1024;
/// illumos `NEW_START_BLOCK`: the first LBA of the ESP (or the pool) on a whole disk.
pub const ILLUMOS_START_LBA: u64 = 256;
/// illumos `PARTITION_END_ALIGNMENT`: the ZFS partition's length is a multiple of this (sectors).
pub const ILLUMOS_END_ALIGNMENT: u64 = 2048;

/// One partition of a [`Layout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// GPT entry number, 1-based (sgdisk/sfdisk numbering); numbers may leave gaps.
    pub number: u32,
    /// Partition name (at most 36 UTF-16 units).
    pub name: String,
    /// Partition type GUID.
    pub type_guid: Uuid,
    /// Unique partition GUID; `None` derives it from the build [`Seed`].
    pub guid: Option<Uuid>,
    /// First LBA.
    pub first_lba: u64,
    /// Length in sectors.
    pub sectors: u64,
    /// GPT attribute bits.
    pub attributes: u64,
}

impl Partition {
    /// Last LBA (inclusive).
    pub fn last_lba(&self) -> u64 {
        self.first_lba + self.sectors - 1
    }
}

/// How long a partition of a custom layout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// This many bytes (a multiple of the sector size).
    Bytes(u64),
    /// Up to the last usable LBA (or the start of the next fixed partition); only the last
    /// partition of a custom layout may use it.
    Rest,
}

/// A partition of a custom layout before placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSpec {
    /// Entry number; `None` takes the next free number.
    pub number: Option<u32>,
    /// Partition name.
    pub name: String,
    /// Type GUID.
    pub type_guid: Uuid,
    /// Start in bytes; `None` places it at the first aligned byte after the previous one.
    pub start: Option<u64>,
    /// Length.
    pub size: Size,
}

impl PartitionSpec {
    /// A partition of `size` placed after the previous one.
    pub fn new(name: impl Into<String>, type_guid: Uuid, size: Size) -> Self {
        PartitionSpec {
            number: None,
            name: name.into(),
            type_guid,
            start: None,
            size,
        }
    }
}

/// A checked GPT partition layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    disk_size: u64,
    sector_size: u32,
    alignment: u64,
    partitions: Vec<Partition>,
}

impl Layout {
    /// The illumos/OmniOS whole-disk layout of `zpool create -B`: entry 1 the ESP ("loader")
    /// from LBA 256, entry 2 the ZFS partition ("zfs") up to the reserved partition, then the
    /// reserved partition (illumos `V_RESERVED`) of 16384 sectors at the end, in entry 9
    /// (illumos slice 8). The ZFS partition's length is rounded down to 2048 sectors as
    /// illumos does.
    pub fn illumos(disk_size: u64, esp_size: u64, sector_size: u32) -> Result<Layout, Error> {
        let ss = check_sector_size(sector_size)?;
        check_disk_size(disk_size, ss)?;
        let esp_sectors = esp_size.div_ceil(u64::from(ss));
        let geometry = Geometry::new(disk_size, ss);
        let fixed = ILLUMOS_START_LBA + esp_sectors + ILLUMOS_RESERVED_SECTORS;
        // The pool needs at least 64 MiB (SPA_MINDEVSIZE).
        let min_zfs = (64 * MIB).div_ceil(u64::from(ss));
        let avail = geometry.last_usable + 1;
        if avail < fixed + min_zfs {
            return Err(Error::DiskTooSmall {
                layout: "illumos",
                size: disk_size,
                missing_bytes: (fixed + min_zfs - avail) * u64::from(ss) + geometry.tail_bytes(),
            });
        }
        let zfs_first = ILLUMOS_START_LBA + esp_sectors;
        let zfs_sectors = (avail - fixed) / ILLUMOS_END_ALIGNMENT * ILLUMOS_END_ALIGNMENT;
        let parts = vec![
            Partition {
                number: 1,
                name: "loader".into(),
                type_guid: types::EFI_SYSTEM,
                guid: None,
                first_lba: ILLUMOS_START_LBA,
                sectors: esp_sectors,
                attributes: 0,
            },
            Partition {
                number: 2,
                name: "zfs".into(),
                type_guid: types::ILLUMOS_ZFS,
                guid: None,
                first_lba: zfs_first,
                sectors: zfs_sectors,
                attributes: 0,
            },
            Partition {
                number: 9,
                name: String::new(),
                type_guid: types::ILLUMOS_RESERVED,
                guid: None,
                first_lba: zfs_first + zfs_sectors,
                sectors: ILLUMOS_RESERVED_SECTORS,
                attributes: 0,
            },
        ];
        Layout::from_partitions(disk_size, ss, u64::from(ss), parts)
    }

    /// The Linux layout systemd expects, aligned to 1 MiB: with `bios_boot` a 1 MiB BIOS boot
    /// partition first (for GRUB on BIOS), then the ESP ("esp") of `esp_size`, then the root
    /// partition ("root", Linux root x86-64) to the end of the disk.
    pub fn linux(
        disk_size: u64,
        esp_size: u64,
        sector_size: u32,
        bios_boot: bool,
    ) -> Result<Layout, Error> {
        let mut specs = Vec::new();
        if bios_boot {
            specs.push(PartitionSpec::new(
                "bios",
                types::BIOS_BOOT,
                Size::Bytes(MIB),
            ));
        }
        specs.push(PartitionSpec::new(
            "esp",
            types::EFI_SYSTEM,
            Size::Bytes(esp_size),
        ));
        specs.push(PartitionSpec::new(
            "root",
            types::LINUX_ROOT_X86_64,
            Size::Rest,
        ));
        Layout::custom(disk_size, sector_size, MIB, specs).map_err(|e| match e {
            Error::DoesNotFit { missing_bytes, .. } => Error::DiskTooSmall {
                layout: "linux",
                size: disk_size,
                missing_bytes: missing_bytes.max(1),
            },
            other => other,
        })
    }

    /// A custom layout: partitions are placed in order, each at its `start` or at the first
    /// `alignment`-aligned byte after the previous one, and numbered from 1 unless they say.
    pub fn custom(
        disk_size: u64,
        sector_size: u32,
        alignment: u64,
        specs: Vec<PartitionSpec>,
    ) -> Result<Layout, Error> {
        let ss = check_sector_size(sector_size)?;
        check_disk_size(disk_size, ss)?;
        let ss64 = u64::from(ss);
        let alignment = alignment.max(ss64);
        let geometry = Geometry::new(disk_size, ss);
        let count = specs.len();
        let mut parts = Vec::with_capacity(count);
        let mut next_byte = geometry.first_usable * ss64;
        let mut used = std::collections::BTreeSet::new();
        for (i, spec) in specs.into_iter().enumerate() {
            let number = match spec.number {
                Some(n) => n,
                None => (1..=ENTRY_COUNT)
                    .find(|n| !used.contains(n))
                    .unwrap_or(ENTRY_COUNT + 1),
            };
            used.insert(number);
            let start = spec
                .start
                .unwrap_or_else(|| next_byte.div_ceil(alignment) * alignment);
            if !start.is_multiple_of(alignment) {
                return Err(Error::UnalignedPartition {
                    number,
                    name: spec.name,
                    start,
                    size: 0,
                    alignment,
                });
            }
            let first_lba = start / ss64;
            let sectors = match spec.size {
                Size::Bytes(b) => {
                    if !b.is_multiple_of(ss64) {
                        return Err(Error::UnalignedPartition {
                            number,
                            name: spec.name,
                            start,
                            size: b,
                            alignment: ss64,
                        });
                    }
                    b / ss64
                }
                Size::Rest => {
                    if i + 1 != count {
                        return Err(Error::BadPartition {
                            number,
                            name: spec.name,
                            reason: "only the last partition may take the rest of the disk",
                        });
                    }
                    (geometry.last_usable + 1).saturating_sub(first_lba)
                }
            };
            next_byte = (first_lba + sectors) * ss64;
            parts.push(Partition {
                number,
                name: spec.name,
                type_guid: spec.type_guid,
                guid: None,
                first_lba,
                sectors,
                attributes: 0,
            });
        }
        Layout::from_partitions(disk_size, ss, alignment, parts)
    }

    /// A layout from fully placed partitions; checks numbers, names, alignment of starts,
    /// overlap and fit.
    pub fn from_partitions(
        disk_size: u64,
        sector_size: u32,
        alignment: u64,
        partitions: Vec<Partition>,
    ) -> Result<Layout, Error> {
        let ss = check_sector_size(sector_size)?;
        check_disk_size(disk_size, ss)?;
        let ss64 = u64::from(ss);
        let geometry = Geometry::new(disk_size, ss);
        for (i, p) in partitions.iter().enumerate() {
            if p.number == 0 || p.number > ENTRY_COUNT {
                return Err(bad(p, "the entry number is outside 1..=128"));
            }
            if partitions[..i].iter().any(|q| q.number == p.number) {
                return Err(bad(p, "the entry number is used twice"));
            }
            if p.name.encode_utf16().count() > 36 {
                return Err(bad(p, "the name is longer than 36 UTF-16 units"));
            }
            if p.sectors == 0 {
                return Err(Error::DoesNotFit {
                    number: p.number,
                    name: p.name.clone(),
                    first: p.first_lba,
                    last: p.first_lba,
                    first_usable: geometry.first_usable,
                    last_usable: geometry.last_usable,
                    missing_bytes: (p.first_lba.saturating_sub(geometry.last_usable) + 1) * ss64
                        + geometry.tail_bytes(),
                });
            }
            if !(p.first_lba * ss64).is_multiple_of(alignment) {
                return Err(Error::UnalignedPartition {
                    number: p.number,
                    name: p.name.clone(),
                    start: p.first_lba * ss64,
                    size: p.sectors * ss64,
                    alignment,
                });
            }
            if p.first_lba < geometry.first_usable || p.last_lba() > geometry.last_usable {
                return Err(Error::DoesNotFit {
                    number: p.number,
                    name: p.name.clone(),
                    first: p.first_lba,
                    last: p.last_lba(),
                    first_usable: geometry.first_usable,
                    last_usable: geometry.last_usable,
                    missing_bytes: p.last_lba().saturating_sub(geometry.last_usable) * ss64,
                });
            }
            for q in &partitions[..i] {
                if p.first_lba <= q.last_lba() && q.first_lba <= p.last_lba() {
                    return Err(Error::Overlap {
                        a: q.number,
                        a_name: q.name.clone(),
                        a_first: q.first_lba,
                        a_last: q.last_lba(),
                        b: p.number,
                        b_name: p.name.clone(),
                        b_first: p.first_lba,
                        b_last: p.last_lba(),
                    });
                }
            }
        }
        Ok(Layout {
            disk_size,
            sector_size: ss,
            alignment,
            partitions,
        })
    }

    /// Disk size in bytes.
    pub fn disk_size(&self) -> u64 {
        self.disk_size
    }

    /// Logical sector size in bytes.
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// Partition start alignment in bytes.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// The partitions in the order given (not necessarily by entry number).
    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// The index of the first partition named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.partitions.iter().position(|p| p.name == name)
    }

    /// First usable LBA (after the primary partition array).
    pub fn first_usable_lba(&self) -> u64 {
        Geometry::new(self.disk_size, self.sector_size).first_usable
    }

    /// Last usable LBA (before the backup partition array).
    pub fn last_usable_lba(&self) -> u64 {
        Geometry::new(self.disk_size, self.sector_size).last_usable
    }

    /// Byte offset and length of partition `index`.
    pub fn byte_range(&self, index: usize) -> Option<(u64, u64)> {
        let ss = u64::from(self.sector_size);
        self.partitions
            .get(index)
            .map(|p| (p.first_lba * ss, p.sectors * ss))
    }

    /// The disk GUID: derived from `seed`.
    pub fn disk_guid(&self, seed: &Seed) -> Uuid {
        Uuid::from_bytes(seed.uuid_bytes("disk/gpt/disk-guid"))
    }

    /// The unique GUID of partition `index`: its own if set, else derived from `seed` and the
    /// entry number (what `root=PARTUUID=` needs).
    pub fn partition_guid(&self, index: usize, seed: &Seed) -> Option<Uuid> {
        let p = self.partitions.get(index)?;
        Some(p.guid.unwrap_or_else(|| {
            Uuid::from_bytes(seed.uuid_bytes(&format!("disk/gpt/partition/{}", p.number)))
        }))
    }

    /// Sets the unique GUID of partition `index` (overriding the seed).
    pub fn set_partition_guid(&mut self, index: usize, guid: Uuid) -> Result<(), Error> {
        let count = self.partitions.len();
        let p = self
            .partitions
            .get_mut(index)
            .ok_or(Error::NoSuchPartition { index, count })?;
        p.guid = Some(guid);
        Ok(())
    }
}

fn bad(p: &Partition, reason: &'static str) -> Error {
    Error::BadPartition {
        number: p.number,
        name: p.name.clone(),
        reason,
    }
}

fn check_sector_size(size: u32) -> Result<u32, Error> {
    match size {
        512 | 4096 => Ok(size),
        _ => Err(Error::BadSectorSize { size }),
    }
}

fn check_disk_size(size: u64, sector_size: u32) -> Result<(), Error> {
    if !size.is_multiple_of(u64::from(sector_size)) {
        return Err(Error::UnalignedDiskSize { size, sector_size });
    }
    // Protective MBR, two headers and two arrays, at the very least.
    let array = array_sectors(sector_size);
    let min = (3 + 2 * array) * u64::from(sector_size);
    if size < min {
        return Err(Error::DiskTooSmall {
            layout: "gpt",
            size,
            missing_bytes: min - size,
        });
    }
    Ok(())
}

/// Sectors of one partition entry array.
pub(crate) fn array_sectors(sector_size: u32) -> u64 {
    u64::from(ENTRY_COUNT * ENTRY_SIZE).div_ceil(u64::from(sector_size))
}

/// The fixed GPT geometry of a disk: usable LBA range.
struct Geometry {
    sector_size: u32,
    first_usable: u64,
    last_usable: u64,
}

impl Geometry {
    fn new(disk_size: u64, sector_size: u32) -> Self {
        let lbas = disk_size / u64::from(sector_size);
        let array = array_sectors(sector_size);
        Geometry {
            sector_size,
            first_usable: 2 + array,
            last_usable: lbas.saturating_sub(2 + array),
        }
    }

    /// Bytes the backup GPT needs after the last usable LBA.
    fn tail_bytes(&self) -> u64 {
        (1 + array_sectors(self.sector_size)) * u64::from(self.sector_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn illumos_matches_zpool_create_b() {
        let l = Layout::illumos(4 << 30, 256 * MIB, 512).expect("layout");
        let p = l.partitions();
        assert_eq!(p[0].first_lba, 256);
        assert_eq!(p[0].sectors, 524288);
        assert_eq!(p[1].first_lba, 256 + 524288);
        assert_eq!(p[1].sectors % 2048, 0);
        assert_eq!(p[2].number, 9);
        assert_eq!(p[2].first_lba, p[1].last_lba() + 1);
        assert_eq!(p[2].sectors, 16384);
        assert!(p[2].last_lba() <= l.last_usable_lba());
        assert!(l.last_usable_lba() - p[2].last_lba() < 2048);
    }

    #[test]
    fn linux_is_mib_aligned_to_the_end() {
        for ss in [512u32, 4096] {
            let l = Layout::linux(2 << 30, 512 * MIB, ss, true).expect("layout");
            let p = l.partitions();
            assert_eq!(p[0].first_lba * u64::from(ss), MIB);
            assert_eq!(p[1].first_lba * u64::from(ss), 2 * MIB);
            assert_eq!(p[2].first_lba * u64::from(ss), 514 * MIB);
            assert_eq!(p[2].last_lba(), l.last_usable_lba());
        }
    }

    #[test]
    fn bad_layouts_are_refused() {
        assert!(matches!(
            Layout::linux(256 * MIB, 512 * MIB, 512, false),
            Err(Error::DiskTooSmall { .. })
        ));
        assert!(matches!(
            Layout::illumos(64 * MIB, 256 * MIB, 512),
            Err(Error::DiskTooSmall { .. })
        ));
        assert!(matches!(
            Layout::custom(64 * MIB, 1024, MIB, vec![]),
            Err(Error::BadSectorSize { size: 1024 })
        ));
        let overlap = vec![
            PartitionSpec {
                start: Some(MIB),
                ..PartitionSpec::new("a", types::LINUX_DATA, Size::Bytes(4 * MIB))
            },
            PartitionSpec {
                start: Some(4 * MIB),
                ..PartitionSpec::new("b", types::LINUX_DATA, Size::Bytes(4 * MIB))
            },
        ];
        assert!(matches!(
            Layout::custom(64 * MIB, 512, MIB, overlap),
            Err(Error::Overlap { a: 1, b: 2, .. })
        ));
        let too_big = vec![PartitionSpec::new(
            "a",
            types::LINUX_DATA,
            Size::Bytes(64 * MIB),
        )];
        match Layout::custom(64 * MIB, 512, MIB, too_big) {
            Err(Error::DoesNotFit { missing_bytes, .. }) => {
                assert_eq!(missing_bytes, MIB + 33 * 512)
            }
            other => panic!("expected DoesNotFit, got {other:?}"),
        }
    }
}
