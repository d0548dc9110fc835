//! LZ4 block compression in the framing ZFS uses for `compression=lz4`: a big-endian u32
//! with the length of the LZ4 block, then the block. A greedy single-hash compressor: fast,
//! and any valid LZ4 stream decodes the same in every reader.

const HASH_BITS: u32 = 12;
const MIN_MATCH: usize = 4;
/// The last match must start at least this many bytes before the end (LZ4 block rules).
const MF_LIMIT: usize = 12;
/// The last this many bytes are always literals.
const LAST_LITERALS: usize = 5;

fn read32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 255 {
        out.push(255);
        n -= 255;
    }
    out.push(n as u8);
}

fn sequence(out: &mut Vec<u8>, literals: &[u8], m: Option<(usize, usize)>) {
    let lit = literals.len();
    let ml = m.map(|(_, len)| len - MIN_MATCH).unwrap_or(0);
    out.push(((lit.min(15) as u8) << 4) | if m.is_some() { ml.min(15) as u8 } else { 0 });
    if lit >= 15 {
        put_len(out, lit - 15);
    }
    out.extend_from_slice(literals);
    if let Some((offset, _)) = m {
        out.extend_from_slice(&(offset as u16).to_le_bytes());
        if ml >= 15 {
            put_len(out, ml - 15);
        }
    }
}

/// Compresses `src` into ZFS's lz4 framing. Returns `None` when the result would not be
/// smaller than `limit` bytes.
pub fn compress_zfs(src: &[u8], limit: usize) -> Option<Vec<u8>> {
    let n = src.len();
    let mut out = Vec::with_capacity(n / 2 + 16);
    out.extend_from_slice(&[0; 4]);
    let mut table = vec![0u32; 1 << HASH_BITS];
    let mut anchor = 0;
    let mut i = 0;
    if n > MF_LIMIT {
        let mflimit = n - MF_LIMIT;
        let matchlimit = n - LAST_LITERALS;
        while i < mflimit {
            let seq = read32(src, i);
            let h = (seq.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize;
            let cand = table[h] as usize;
            table[h] = i as u32 + 1;
            if cand > 0 {
                let c = cand - 1;
                if i - c <= 65535 && read32(src, c) == seq {
                    let mut len = MIN_MATCH;
                    while i + len < matchlimit && src[c + len] == src[i + len] {
                        len += 1;
                    }
                    sequence(&mut out, &src[anchor..i], Some((i - c, len)));
                    i += len;
                    anchor = i;
                    if out.len() > limit {
                        return None;
                    }
                    continue;
                }
            }
            i += 1;
        }
    }
    sequence(&mut out, &src[anchor..], None);
    if out.len() > limit {
        return None;
    }
    let body = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&body.to_be_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal LZ4 block decoder to check the compressor's streams.
    fn decompress(b: &[u8]) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        let mut i = 0;
        let len_ext = |i: &mut usize, mut n: usize| {
            if n == 15 {
                loop {
                    let x = b[*i] as usize;
                    *i += 1;
                    n += x;
                    if x != 255 {
                        break;
                    }
                }
            }
            n
        };
        while i < b.len() {
            let t = b[i];
            i += 1;
            let lit = len_ext(&mut i, (t >> 4) as usize);
            out.extend_from_slice(&b[i..i + lit]);
            i += lit;
            if i >= b.len() {
                break;
            }
            let off = u16::from_le_bytes([b[i], b[i + 1]]) as usize;
            i += 2;
            let ml = len_ext(&mut i, (t & 15) as usize) + 4;
            let start = out.len() - off;
            for k in 0..ml {
                out.push(out[start + k]);
            }
        }
        out
    }

    #[test]
    fn round_trips_repetitive_and_random_data() {
        let mut x = 1u64;
        let random: Vec<u8> = (0..5000)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                (x >> 56) as u8
            })
            .collect();
        let text = b"hello world, hello world, hello zfs! ".repeat(400);
        for src in [text.as_slice(), &random, &[0u8; 131072], b"short"] {
            if let Some(c) = compress_zfs(src, usize::MAX) {
                let n = u32::from_be_bytes(c[..4].try_into().unwrap()) as usize;
                assert_eq!(n, c.len() - 4);
                assert_eq!(decompress(&c[4..]), src);
            }
        }
        assert!(compress_zfs(&text, usize::MAX).unwrap().len() < text.len() / 10);
        assert!(compress_zfs(&random, 4000).is_none());
    }
}
