//! Where the compressor cuts its input into blocks, and the memo of compressed blocks that
//! lets a rebuilt archive reuse the blocks an earlier one compressed.
//!
//! Fixed-size blocks would make every block after a changed file differ, since the change
//! shifts the rest of the stream. Cuts are instead placed by content (a gear rolling hash
//! over the last 64 input bytes, as in FastCDC): after an edit, cuts fall on the same bytes
//! again within a block or two, and every block after that has the same input as before, so
//! its compressed bytes can be taken from the memo instead of compressed again. Cuts still
//! depend only on the input, so the output stays the same whatever the threads or the memo.

use std::fmt::Debug;

use super::digest::Digest;

/// No cut before this many bytes of a block: bounds the per-block overhead.
pub(crate) const MIN_BLOCK: usize = 256 << 10;
/// A cut is forced here: bounds memory (in-flight blocks) and the work a miss costs.
pub(crate) const MAX_BLOCK: usize = 4 << 20;
/// A cut where the top 20 bits of the rolling hash are zero: about one in 2^20 bytes, so
/// blocks average a little over 1 MiB.
const CUT_SHIFT: u32 = 64 - 20;

/// 256 fixed pseudo-random words, one per byte value, from splitmix64 with a fixed seed:
/// changing them changes every cut, so they are part of the output format.
const GEAR: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut state: u64 = 0x466f_7267_6572_4344; // "ForgerCD"
    let mut i = 0;
    while i < 256 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
};

/// Finds content-defined cut points in a stream fed to it piece by piece.
#[derive(Debug, Default)]
pub(crate) struct Cutter {
    hash: u64,
    len: usize,
}

impl Cutter {
    /// How many bytes of `buf` belong to the current block: all of them (no cut in `buf`),
    /// or up to and including the byte after which the block ends. Call [`Cutter::cut`]
    /// when the block is ended.
    pub(crate) fn take(&mut self, buf: &[u8]) -> (usize, bool) {
        // The hash shifts one bit per byte, so it depends on the last 64 bytes only: the
        // bytes before those that can end the shortest block need not be hashed at all.
        let skip = (MIN_BLOCK - 64).saturating_sub(self.len).min(buf.len());
        self.len += skip;
        for (i, &b) in buf.iter().enumerate().skip(skip) {
            self.hash = (self.hash << 1).wrapping_add(GEAR[b as usize]);
            self.len += 1;
            if self.len >= MAX_BLOCK || (self.len >= MIN_BLOCK && self.hash >> CUT_SHIFT == 0) {
                return (i + 1, true);
            }
        }
        (buf.len(), false)
    }

    /// Starts a new block.
    pub(crate) fn cut(&mut self) {
        *self = Cutter::default();
    }
}

/// Compressed blocks kept from earlier archives, found by the digest of their input. The
/// stage cache implements it; a memo that loses or refuses blocks only costs time.
pub trait BlockMemo: Debug + Send + Sync {
    /// The compressed bytes kept for the block whose uncompressed bytes have digest `input`,
    /// compressed with `codec` (a name that includes the level). An implementation must
    /// check what it returns (a damaged block would damage the archive) and return `None`
    /// for anything it cannot vouch for.
    fn get(&self, codec: &str, input: &Digest) -> Option<Vec<u8>>;
    /// Keeps `compressed` for later [`BlockMemo::get`] calls; errors are the memo's to
    /// swallow.
    fn put(&self, codec: &str, input: &Digest, compressed: &[u8]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Block digests of `data` as the compressor cuts it when fed `piece` bytes at a time.
    fn blocks(data: &[u8], piece: usize) -> Vec<Digest> {
        let mut c = Cutter::default();
        let (mut out, mut start, mut pos) = (Vec::new(), 0, 0);
        for chunk in data.chunks(piece) {
            let mut off = 0;
            while off < chunk.len() {
                let (n, ends) = c.take(&chunk[off..]);
                off += n;
                pos += n;
                if ends {
                    out.push(Digest::of(&data[start..pos]));
                    start = pos;
                    c.cut();
                }
            }
        }
        out.push(Digest::of(&data[start..]));
        out
    }

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect()
    }

    #[test]
    fn an_insertion_changes_only_the_blocks_around_it() {
        let data = noise(24 << 20, 7);
        let mut edited = data.clone();
        let at = 5 << 20;
        edited.splice(at..at, *b"a few inserted bytes");
        let (before, after) = (blocks(&data, 1 << 16), blocks(&edited, 1 << 16));
        assert!(before.len() >= 10, "{} blocks", before.len());
        let shared = after.iter().filter(|d| before.contains(d)).count();
        assert!(
            shared + 2 >= before.len(),
            "{shared} of {} blocks shared",
            before.len()
        );
    }

    #[test]
    fn cuts_depend_only_on_the_bytes_not_on_how_they_arrive() {
        let data = noise(6 << 20, 3);
        assert_eq!(blocks(&data, data.len()), blocks(&data, 4097));
    }

    #[test]
    fn runs_of_one_byte_are_cut_at_a_bound() {
        let zeros = vec![0u8; 9 << 20];
        let b = blocks(&zeros, 1 << 20);
        assert!(b.len() >= 3, "{}", b.len());
    }
}
