//! Block checksums: fletcher4 for every data and metadata block, and the SHA-256 embedded
//! checksum (`zio_eck_t`) that protects label regions (bootenv, vdev_phys, uberblock slots).

use sha2::{Digest, Sha256};

/// Magic of an embedded checksum trailer (`ZEC_MAGIC`).
pub(crate) const ZEC_MAGIC: u64 = 0x0210_da7a_b10c_7a11;

/// Fletcher-4 over `data` read as little-endian 32-bit words (length a multiple of 4).
pub fn fletcher4(data: &[u8]) -> [u64; 4] {
    let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
    for w in data.chunks_exact(4) {
        let w = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as u64;
        a = a.wrapping_add(w);
        b = b.wrapping_add(a);
        c = c.wrapping_add(b);
        d = d.wrapping_add(c);
    }
    [a, b, c, d]
}

/// Fills the trailing 40-byte `zio_eck_t` of `region` with the label checksum: the verifier
/// is the region's absolute device byte offset, and each digest word is the SHA-256 output
/// read big-endian and stored little-endian.
pub fn seal_label_region(region: &mut [u8], device_offset: u64) {
    let n = region.len();
    let eck = n - 40;
    region[eck..eck + 8].copy_from_slice(&ZEC_MAGIC.to_le_bytes());
    region[eck + 8..eck + 16].copy_from_slice(&device_offset.to_le_bytes());
    region[eck + 16..n].fill(0);
    let digest = Sha256::digest(&*region);
    for i in 0..4 {
        let w = u64::from_be_bytes(digest[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        region[eck + 8 + i * 8..eck + 16 + i * 8].copy_from_slice(&w.to_le_bytes());
    }
}

/// True when the trailing `zio_eck_t` of `region` is a valid label checksum for a region at
/// `device_offset`.
pub fn label_region_ok(region: &[u8], device_offset: u64) -> bool {
    let mut copy = region.to_vec();
    seal_label_region(&mut copy, device_offset);
    copy == region
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fletcher4_small_vector() {
        // Words 1, 2: a = 3, b = 1 + 3 = 4, c = 1 + 4 = 5, d = 1 + 5 = 6.
        let data = [1u8, 0, 0, 0, 2, 0, 0, 0];
        assert_eq!(fletcher4(&data), [3, 4, 5, 6]);
    }

    #[test]
    fn sealed_region_verifies_only_at_its_offset() {
        let mut r = vec![7u8; 1024];
        seal_label_region(&mut r, 0x2_0000);
        assert!(label_region_ok(&r, 0x2_0000));
        assert!(!label_region_ok(&r, 0x2_0400));
    }
}
