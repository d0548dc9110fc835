//! Block pointers (`blkptr_t`, 128 bytes): one DVA, sizes, type, level, fill, birth txg and
//! the fletcher4 checksum of the block they point at.

/// `ZIO_CHECKSUM_FLETCHER_4`.
pub(crate) const CKSUM_FLETCHER4: u64 = 7;
/// `ZIO_COMPRESS_OFF`.
pub(crate) const COMPRESS_OFF: u64 = 2;
/// `ZIO_COMPRESS_LZ4`.
pub(crate) const COMPRESS_LZ4: u64 = 15;

/// A block pointer with a single DVA on vdev 0. The default value is a hole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockPtr {
    /// DVA offset in bytes (0 = device byte 4 MiB).
    pub offset: u64,
    /// Allocated bytes (psize rounded up to the ashift); 0 for a hole.
    pub asize: u64,
    /// Logical size in bytes.
    pub lsize: u64,
    /// Physical size in bytes.
    pub psize: u64,
    /// Compression function (`ZIO_COMPRESS_*`).
    pub compress: u64,
    /// DMU object type of the block.
    pub dtype: u64,
    /// Indirection level (0 = data).
    pub level: u64,
    /// Fill count.
    pub fill: u64,
    /// Logical birth txg.
    pub birth: u64,
    /// Fletcher4 of the physical block.
    pub checksum: [u64; 4],
}

impl BlockPtr {
    /// True when this pointer is a hole (no DVA).
    pub fn is_hole(&self) -> bool {
        self.asize == 0
    }

    /// The 128 on-disk bytes (little-endian, byte-order bit set).
    pub fn encode(&self) -> [u8; 128] {
        let mut w = [0u64; 16];
        if !self.is_hole() {
            w[0] = self.asize >> 9;
            w[1] = self.offset >> 9;
            w[6] = ((self.lsize >> 9) - 1)
                | (((self.psize >> 9) - 1) << 16)
                | (self.compress << 32)
                | (CKSUM_FLETCHER4 << 40)
                | (self.dtype << 48)
                | (self.level << 56)
                | (1 << 63);
            w[10] = self.birth;
            w[11] = self.fill;
            w[12..16].copy_from_slice(&self.checksum);
        }
        let mut out = [0u8; 128];
        for (i, v) in w.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hole_is_all_zero_and_fields_land_in_their_words() {
        assert_eq!(BlockPtr::default().encode(), [0u8; 128]);
        let bp = BlockPtr {
            offset: 0xb000,
            asize: 0x1000,
            lsize: 0x800,
            psize: 0x800,
            compress: COMPRESS_OFF,
            dtype: 11,
            level: 0,
            fill: 36,
            birth: 4,
            checksum: [1, 2, 3, 4],
        };
        let e = bp.encode();
        let word = |i: usize| u64::from_le_bytes(e[i * 8..i * 8 + 8].try_into().unwrap());
        assert_eq!(word(0), 8);
        assert_eq!(word(1), 0x58);
        assert_eq!(
            word(6),
            3 | (3 << 16) | (2 << 32) | (7 << 40) | (11 << 48) | (1 << 63)
        );
        assert_eq!((word(10), word(11), word(15)), (4, 36, 4));
    }
}
