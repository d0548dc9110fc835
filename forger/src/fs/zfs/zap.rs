//! ZAP objects (name → value maps): the salted CRC-64 name hash, micro ZAPs for small maps
//! of integers (with unique collision differentiators), and fat ZAPs (header block with the
//! embedded pointer table, leaves 1..n with big-endian values) for everything else.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::Error;

const ZBT_LEAF: u64 = 1 << 63;
const ZBT_HEADER: u64 = (1 << 63) + 1;
const ZBT_MICRO: u64 = (1 << 63) + 3;
const ZAP_MAGIC: u64 = 0x2_F52A_B2AB;
const ZAP_LEAF_MAGIC: u32 = 0x2AB_1EAF;
const MZAP_NAME_LEN: usize = 50;
const MZAP_MAX_ENTRIES: usize = 2047;
const CHUNK: usize = 24;
const ARRAY_BYTES: usize = 21;
const CHAIN_END: u16 = 0xffff;

/// The value of one ZAP entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZapValue {
    /// A single 64-bit integer (the only kind a micro ZAP holds).
    U64(u64),
    /// A byte string (integer length 1), e.g. a string property including its NUL.
    Bytes(Vec<u8>),
    /// An array of 16-bit integers (SA layouts).
    U16s(Vec<u16>),
}

impl ZapValue {
    /// A string value with its terminating NUL, as ZFS stores string properties.
    pub fn string(s: &str) -> Self {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        ZapValue::Bytes(b)
    }

    fn int_len(&self) -> u8 {
        match self {
            ZapValue::U64(_) => 8,
            ZapValue::Bytes(_) => 1,
            ZapValue::U16s(_) => 2,
        }
    }

    fn num_ints(&self) -> usize {
        match self {
            ZapValue::U64(_) => 1,
            ZapValue::Bytes(b) => b.len(),
            ZapValue::U16s(v) => v.len(),
        }
    }

    fn be_bytes(&self) -> Vec<u8> {
        match self {
            ZapValue::U64(v) => v.to_be_bytes().to_vec(),
            ZapValue::Bytes(b) => b.clone(),
            ZapValue::U16s(v) => v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        }
    }
}

/// A built ZAP object: its data block size and its blocks in block-id order.
#[derive(Debug, Clone)]
pub struct Zap {
    /// Data block size in bytes.
    pub block_size: u64,
    /// Block contents (each `block_size` bytes long).
    pub blocks: Vec<Vec<u8>>,
}

fn crc64_table() -> &'static [u64; 256] {
    static TABLE: OnceLock<[u64; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0u64; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut x = i as u64;
            for _ in 0..8 {
                x = (x >> 1) ^ ((x & 1).wrapping_neg() & 0xC96C_5795_D787_0F42);
            }
            *slot = x;
        }
        t
    })
}

/// The 28-bit ZAP hash of `name` (kept in the top bits of the u64) with `salt`.
pub fn zap_hash(salt: u64, name: &[u8]) -> u64 {
    let t = crc64_table();
    let mut h = salt;
    for &c in name {
        h = (h >> 8) ^ t[((h ^ c as u64) & 0xff) as usize];
    }
    h & !((1u64 << 36) - 1)
}

/// Builds a ZAP holding `entries` (unique names). Picks a micro ZAP when every value is a
/// single integer, every name is shorter than 50 bytes and there are at most 2047 entries.
pub fn build(entries: &[(String, ZapValue)], salt: u64, what: &str) -> Result<Zap, Error> {
    let salt = salt | 1;
    let micro = entries.len() <= MZAP_MAX_ENTRIES
        && entries
            .iter()
            .all(|(n, v)| n.len() < MZAP_NAME_LEN && matches!(v, ZapValue::U64(_)));
    let hashed: Vec<(u64, u32)> = {
        let mut seen: HashMap<u64, u32> = HashMap::new();
        entries
            .iter()
            .map(|(n, _)| {
                let h = zap_hash(salt, n.as_bytes());
                let cd = seen.entry(h).or_insert(0);
                let out = (h, *cd);
                *cd += 1;
                out
            })
            .collect()
    };
    if micro {
        Ok(build_micro(entries, &hashed, salt))
    } else {
        build_fat(entries, &hashed, salt, what)
    }
}

fn build_micro(entries: &[(String, ZapValue)], hashed: &[(u64, u32)], salt: u64) -> Zap {
    let need = 64 * (entries.len() + 1);
    let bs = need.next_power_of_two().max(512);
    let mut b = vec![0u8; bs];
    b[0..8].copy_from_slice(&ZBT_MICRO.to_le_bytes());
    b[8..16].copy_from_slice(&salt.to_le_bytes());
    for (i, ((name, value), (_, cd))) in entries.iter().zip(hashed).enumerate() {
        let e = 64 * (i + 1);
        let ZapValue::U64(v) = value else {
            unreachable!("micro ZAPs hold only integers")
        };
        b[e..e + 8].copy_from_slice(&v.to_le_bytes());
        b[e + 8..e + 12].copy_from_slice(&cd.to_le_bytes());
        b[e + 14..e + 14 + name.len()].copy_from_slice(name.as_bytes());
    }
    Zap {
        block_size: bs as u64,
        blocks: vec![b],
    }
}

fn chunks_for(name: &str, value: &ZapValue) -> usize {
    let name_bytes = name.len() + 1;
    let value_bytes = value.num_ints() * value.int_len() as usize;
    1 + name_bytes.div_ceil(ARRAY_BYTES) + value_bytes.div_ceil(ARRAY_BYTES).max(1)
}

fn build_fat(
    entries: &[(String, ZapValue)],
    hashed: &[(u64, u32)],
    salt: u64,
    what: &str,
) -> Result<Zap, Error> {
    for bs in [14u32, 17] {
        let hash_shift = bs - 5;
        let nchunks = ((1usize << bs) - 2 * (1usize << hash_shift)) / CHUNK - 2;
        let zt_shift = bs - 4;
        'prefix: for prefix_len in 0..=zt_shift {
            let nleaves = 1usize << prefix_len;
            let leaf_of = |h: u64| {
                if prefix_len == 0 {
                    0
                } else {
                    (h >> (64 - prefix_len)) as usize
                }
            };
            let mut used = vec![0usize; nleaves];
            for ((name, value), (h, _)) in entries.iter().zip(hashed) {
                let l = leaf_of(*h);
                used[l] += chunks_for(name, value);
                if used[l] > nchunks {
                    continue 'prefix;
                }
            }
            let size = 1usize << bs;
            let mut header = vec![0u8; size];
            let put = |b: &mut [u8], off: usize, v: u64| {
                b[off..off + 8].copy_from_slice(&v.to_le_bytes())
            };
            put(&mut header, 0, ZBT_HEADER);
            put(&mut header, 8, ZAP_MAGIC);
            put(&mut header, 32, zt_shift as u64);
            put(&mut header, 56, 1 + nleaves as u64);
            put(&mut header, 64, nleaves as u64);
            put(&mut header, 72, entries.len() as u64);
            put(&mut header, 80, salt);
            let table = size / 2;
            for i in 0..(1usize << zt_shift) {
                let leaf = i >> (zt_shift - prefix_len);
                put(&mut header, table + 8 * i, 1 + leaf as u64);
            }
            let mut leaves: Vec<Leaf> = (0..nleaves)
                .map(|l| Leaf::new(bs, prefix_len, l as u64, nchunks))
                .collect();
            for ((name, value), (h, cd)) in entries.iter().zip(hashed) {
                leaves[leaf_of(*h)].add(name, value, *h, *cd);
            }
            let mut blocks = vec![header];
            blocks.extend(leaves.into_iter().map(Leaf::finish));
            return Ok(Zap {
                block_size: size as u64,
                blocks,
            });
        }
    }
    Err(Error::ZapTooLarge {
        what: what.to_string(),
        entries: entries.len(),
    })
}

struct Leaf {
    b: Vec<u8>,
    hash_shift: u32,
    prefix_len: u32,
    next_chunk: usize,
    nchunks: usize,
    nentries: u16,
}

impl Leaf {
    const HDR: usize = 48;

    fn new(bs: u32, prefix_len: u32, prefix: u64, nchunks: usize) -> Leaf {
        let mut b = vec![0u8; 1 << bs];
        b[0..8].copy_from_slice(&ZBT_LEAF.to_le_bytes());
        b[16..24].copy_from_slice(&prefix.to_le_bytes());
        b[24..28].copy_from_slice(&ZAP_LEAF_MAGIC.to_le_bytes());
        b[32..34].copy_from_slice(&(prefix_len as u16).to_le_bytes());
        let hash_shift = bs - 5;
        for i in 0..(1usize << hash_shift) {
            b[Self::HDR + 2 * i..Self::HDR + 2 * i + 2].copy_from_slice(&CHAIN_END.to_le_bytes());
        }
        Leaf {
            b,
            hash_shift,
            prefix_len,
            next_chunk: 0,
            nchunks,
            nentries: 0,
        }
    }

    fn chunk_off(&self, i: usize) -> usize {
        Self::HDR + 2 * (1usize << self.hash_shift) + CHUNK * i
    }

    fn put_array(&mut self, data: &[u8]) -> u16 {
        let first = self.next_chunk;
        let pieces: Vec<&[u8]> = if data.is_empty() {
            vec![&[][..]]
        } else {
            data.chunks(ARRAY_BYTES).collect()
        };
        let n = pieces.len();
        for (k, piece) in pieces.into_iter().enumerate() {
            let off = self.chunk_off(self.next_chunk);
            self.b[off] = 251;
            self.b[off + 1..off + 1 + piece.len()].copy_from_slice(piece);
            let next = if k + 1 == n {
                CHAIN_END
            } else {
                (self.next_chunk + 1) as u16
            };
            self.b[off + 22..off + 24].copy_from_slice(&next.to_le_bytes());
            self.next_chunk += 1;
        }
        first as u16
    }

    fn add(&mut self, name: &str, value: &ZapValue, hash: u64, cd: u32) {
        let entry = self.next_chunk;
        self.next_chunk += 1;
        let mut name_bytes = name.as_bytes().to_vec();
        name_bytes.push(0);
        let name_chunk = self.put_array(&name_bytes);
        let value_chunk = self.put_array(&value.be_bytes());
        let bucket = ((hash >> (64 - self.hash_shift - self.prefix_len))
            & ((1u64 << self.hash_shift) - 1)) as usize;
        let slot = Self::HDR + 2 * bucket;
        let prev = [self.b[slot], self.b[slot + 1]];
        let off = self.chunk_off(entry);
        let e = &mut self.b[off..off + CHUNK];
        e[0] = 252;
        e[1] = value.int_len();
        e[2..4].copy_from_slice(&prev);
        e[4..6].copy_from_slice(&name_chunk.to_le_bytes());
        e[6..8].copy_from_slice(&(name_bytes.len() as u16).to_le_bytes());
        e[8..10].copy_from_slice(&value_chunk.to_le_bytes());
        e[10..12].copy_from_slice(&(value.num_ints() as u16).to_le_bytes());
        e[12..16].copy_from_slice(&cd.to_le_bytes());
        e[16..24].copy_from_slice(&hash.to_le_bytes());
        self.b[slot..slot + 2].copy_from_slice(&(entry as u16).to_le_bytes());
        self.nentries += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let nfree = self.nchunks - self.next_chunk;
        for i in self.next_chunk..self.nchunks {
            let off = self.chunk_off(i);
            self.b[off] = 253;
            let next = if i + 1 == self.nchunks {
                CHAIN_END
            } else {
                (i + 1) as u16
            };
            self.b[off + 22..off + 24].copy_from_slice(&next.to_le_bytes());
        }
        let freelist = if nfree == 0 {
            CHAIN_END
        } else {
            self.next_chunk as u16
        };
        self.b[28..30].copy_from_slice(&(nfree as u16).to_le_bytes());
        self.b[30..32].copy_from_slice(&self.nentries.to_le_bytes());
        self.b[34..36].copy_from_slice(&freelist.to_le_bytes());
        self.b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_hashes_get_distinct_cds() {
        // Search two names with equal 28-bit hashes under one salt.
        let salt = 0x1234_5678_9abc_def1;
        let mut seen: HashMap<u64, String> = HashMap::new();
        let mut pair = None;
        // Sequential names differ in too few bits for CRC-64 to collide; use random ones.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = format!("{x:016x}");
            let h = zap_hash(salt, n.as_bytes());
            if let Some(o) = seen.insert(h, n.clone()) {
                pair = Some((o, n));
                break;
            }
        }
        let (a, b) = pair.expect("a collision among 200000 names");
        let z = build(
            &[(a, ZapValue::U64(1)), (b, ZapValue::U64(2))],
            salt,
            "test",
        )
        .unwrap();
        let blk = &z.blocks[0];
        let cd = |i: usize| u32::from_le_bytes(blk[64 * i + 8..64 * i + 12].try_into().unwrap());
        assert_eq!((cd(1), cd(2)), (0, 1));
    }

    #[test]
    fn long_names_make_a_fat_zap_with_leaves_after_the_header() {
        let entries: Vec<_> = (0..3000)
            .map(|i| (format!("{}-{i}", "x".repeat(60)), ZapValue::U64(i)))
            .collect();
        let z = build(&entries, 7, "test").unwrap();
        assert_eq!(z.block_size, 16384);
        let nleaves = u64::from_le_bytes(z.blocks[0][64..72].try_into().unwrap());
        assert_eq!(z.blocks.len() as u64, 1 + nleaves);
        let total: u32 = z.blocks[1..]
            .iter()
            .map(|b| u16::from_le_bytes([b[30], b[31]]) as u32)
            .sum();
        assert_eq!(total, 3000);
    }
}
