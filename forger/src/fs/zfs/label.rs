//! Vdev labels: the four 256 KiB labels (two at the start, two at the end of the device),
//! each with a bootenv block, the packed label nvlist and a full ring of identical
//! uberblocks, every region sealed with its SHA-256 embedded checksum.

use super::Error;
use super::blkptr::BlockPtr;
use super::checksum::seal_label_region;
use super::space::{Geometry, LABEL_SIZE};
use super::vdev::BlockWriter;

const UBERBLOCK_MAGIC: u64 = 0x00ba_b10c;
const MMP_MAGIC: u64 = 0xa11c_ea11;
const BOOTENV_OFF: u64 = 8 << 10;
const BOOTENV_SIZE: usize = 8 << 10;
const PHYS_OFF: u64 = 16 << 10;
const PHYS_SIZE: usize = 112 << 10;
const RING_OFF: u64 = 128 << 10;
const RING_SIZE: usize = 128 << 10;

/// What goes into every uberblock slot.
#[derive(Debug, Clone, Copy)]
pub struct Uberblock {
    /// Txg of the pool state.
    pub txg: u64,
    /// Sum of all vdev GUIDs including the pool GUID.
    pub guid_sum: u64,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// The MOS objset.
    pub rootbp: BlockPtr,
}

/// Device offsets of the four labels.
pub fn label_offsets(geo: &Geometry) -> [u64; 4] {
    [
        0,
        LABEL_SIZE,
        geo.psize - 2 * LABEL_SIZE,
        geo.psize - LABEL_SIZE,
    ]
}

/// Writes all four labels with `config` (a packed nvlist) and `ub` in every ring slot.
pub fn write_labels(
    w: &mut BlockWriter,
    geo: &Geometry,
    config: &[u8],
    ub: &Uberblock,
) -> Result<(), Error> {
    if config.len() > PHYS_SIZE - 40 {
        return Err(Error::ConfigTooLarge { len: config.len() });
    }
    let slot = 1usize << geo.ashift.clamp(10, 13);
    for base in label_offsets(geo) {
        let mut be = vec![0u8; BOOTENV_SIZE];
        seal_label_region(&mut be, base + BOOTENV_OFF);
        w.write_at(base + BOOTENV_OFF, &be)?;
        let mut phys = vec![0u8; PHYS_SIZE];
        phys[..config.len()].copy_from_slice(config);
        seal_label_region(&mut phys, base + PHYS_OFF);
        w.write_at(base + PHYS_OFF, &phys)?;
        let mut ring = vec![0u8; RING_SIZE];
        for (i, s) in ring.chunks_mut(slot).enumerate() {
            let words = [UBERBLOCK_MAGIC, 5000, ub.txg, ub.guid_sum, ub.timestamp];
            for (k, v) in words.iter().enumerate() {
                s[k * 8..k * 8 + 8].copy_from_slice(&v.to_le_bytes());
            }
            s[40..168].copy_from_slice(&ub.rootbp.encode());
            s[168..176].copy_from_slice(&5000u64.to_le_bytes());
            s[176..184].copy_from_slice(&MMP_MAGIC.to_le_bytes());
            seal_label_region(s, base + RING_OFF + (i * slot) as u64);
        }
        w.write_at(base + RING_OFF, &ring)?;
    }
    w.finish()
}
