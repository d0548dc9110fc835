//! Space: the vdev geometry (labels, boot area, metaslabs), the bump allocator that never
//! lets a block cross a metaslab boundary, and the space maps that record every allocation
//! (one-word entries, as the format requires when `spacemap_v2` is not enabled).

use super::Error;

/// Bytes reserved at the start of the device: labels L0, L1 and the boot area.
pub(crate) const LABEL_START: u64 = 4 << 20;
/// Bytes reserved at the end of the device: labels L2, L3.
pub(crate) const LABEL_END: u64 = 512 << 10;
/// Size of one label.
pub(crate) const LABEL_SIZE: u64 = 256 << 10;
/// Smallest device ZFS accepts.
pub(crate) const MIN_DEVICE: u64 = 64 << 20;
/// Longest run of one one-word space map entry, in allocation units.
const SM_RUN_MAX: u64 = 1 << 15;

/// The geometry of the single disk vdev.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    /// Device size aligned down to the label size.
    pub psize: u64,
    /// Allocatable bytes (`psize` − 4.5 MiB), the label's `asize`.
    pub asize: u64,
    /// log2 of the allocation unit.
    pub ashift: u32,
    /// log2 of the metaslab size.
    pub ms_shift: u32,
    /// Number of whole metaslabs.
    pub ms_count: u64,
}

impl Geometry {
    /// The geometry of a device of `size` bytes with allocation unit `1 << ashift`.
    pub fn new(size: u64, ashift: u32) -> Result<Self, Error> {
        let psize = size & !(LABEL_SIZE - 1);
        if psize < MIN_DEVICE {
            return Err(Error::DeviceTooSmall {
                size,
                min: MIN_DEVICE,
            });
        }
        let asize = psize - LABEL_START - LABEL_END;
        // makefs' rule: asize/8 clamped to [16 MiB, 512 MiB], rounded down to a power of 2.
        let ms = (asize / 8).clamp(16 << 20, 512 << 20);
        let ms_shift = 63 - ms.leading_zeros();
        Ok(Geometry {
            psize,
            asize,
            ashift,
            ms_shift,
            ms_count: asize >> ms_shift,
        })
    }
}

/// A bump allocator over DVA offsets. Allocations are whole allocation units and never cross
/// a metaslab boundary; every allocated range is remembered as a merged extent.
#[derive(Debug, Clone)]
pub struct Allocator {
    geo: Geometry,
    cursor: u64,
    extents: Vec<(u64, u64)>,
}

impl Allocator {
    /// An empty allocator for `geo`.
    pub fn new(geo: Geometry) -> Self {
        Allocator {
            geo,
            cursor: 0,
            extents: Vec::new(),
        }
    }

    /// `size` rounded up to the allocation unit.
    pub fn asize(&self, size: u64) -> u64 {
        let unit = 1u64 << self.geo.ashift;
        size.div_ceil(unit) * unit
    }

    /// Allocates `asize` bytes (a multiple of the unit) and returns the DVA offset.
    pub fn alloc(&mut self, asize: u64) -> Result<u64, Error> {
        let ms = 1u64 << self.geo.ms_shift;
        let mut off = self.cursor;
        if off / ms != (off + asize - 1) / ms {
            off = (off / ms + 1) * ms;
        }
        if asize > ms || off + asize > self.geo.ms_count * ms {
            return Err(Error::PoolFull {
                needed: asize,
                offset: off,
            });
        }
        self.cursor = off + asize;
        match self.extents.last_mut() {
            Some((s, l)) if *s + *l == off => *l += asize,
            _ => self.extents.push((off, asize)),
        }
        Ok(off)
    }

    /// Indices of the metaslabs holding any allocation.
    pub fn used_metaslabs(&self) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for &(s, l) in &self.extents {
            for m in (s >> self.geo.ms_shift)..=((s + l - 1) >> self.geo.ms_shift) {
                if out.last() != Some(&m) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// The space map of metaslab `ms`: its one-word entries and the bytes allocated in it.
    pub fn space_map(&self, ms: u64) -> (Vec<u64>, u64) {
        let base = ms << self.geo.ms_shift;
        let end = base + (1u64 << self.geo.ms_shift);
        let mut entries = Vec::new();
        let mut total = 0;
        for &(s, l) in &self.extents {
            let (s, e) = (s.max(base), (s + l).min(end));
            if s >= e {
                continue;
            }
            total += e - s;
            let mut unit = (s - base) >> self.geo.ashift;
            let mut left = (e - s) >> self.geo.ashift;
            while left > 0 {
                let run = left.min(SM_RUN_MAX);
                // bit 63 = 0 (one-word entry), offset in bits 16..62, type bit 15 = ALLOC.
                entries.push((unit << 16) | (run - 1));
                unit += run;
                left -= run;
            }
        }
        (entries, total)
    }

    /// Total bytes allocated so far.
    pub fn allocated(&self) -> u64 {
        self.extents.iter().map(|e| e.1).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_never_cross_a_metaslab() {
        let geo = Geometry::new(256 << 20, 12).unwrap();
        assert_eq!(geo.ms_shift, 24);
        let mut a = Allocator::new(geo);
        a.alloc((16 << 20) - 4096).unwrap();
        let off = a.alloc(8192).unwrap();
        assert_eq!(off, 16 << 20);
        assert_eq!(a.used_metaslabs(), vec![0, 1]);
        let (e0, t0) = a.space_map(0);
        assert_eq!(t0, (16 << 20) - 4096);
        assert_eq!(e0, vec![(4095 - 1)]);
        let (e1, t1) = a.space_map(1);
        assert_eq!((e1, t1), (vec![1], 8192));
    }
}
