//! XDR-encoded name-value lists (`nvlist_t`), as stored in vdev labels and in the MOS
//! `config` object: the 4-byte header, big-endian pairs with exact encoded and decoded
//! sizes, and a decoder used by the tests to round-trip reference labels.

use super::Error;

/// One value of an nvlist pair (the subset ZFS pool configurations use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NvValue {
    /// `DATA_TYPE_BOOLEAN`: a flag with no value.
    Boolean,
    /// `DATA_TYPE_UINT64`.
    U64(u64),
    /// `DATA_TYPE_STRING`.
    Str(String),
    /// `DATA_TYPE_UINT64_ARRAY`.
    U64Array(Vec<u64>),
    /// `DATA_TYPE_NVLIST`.
    List(NvList),
    /// `DATA_TYPE_NVLIST_ARRAY`.
    ListArray(Vec<NvList>),
    /// Any other type, kept as its raw encoded value bytes for round-tripping.
    Raw {
        /// The `data_type_t` number.
        kind: i32,
        /// Element count.
        nelem: i32,
        /// The XDR value bytes.
        bytes: Vec<u8>,
    },
}

/// An ordered list of unique names and values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NvList {
    /// The pairs in encoding order.
    pub pairs: Vec<(String, NvValue)>,
}

const TYPE_BOOLEAN: i32 = 1;
const TYPE_UINT64: i32 = 8;
const TYPE_STRING: i32 = 9;
const TYPE_UINT64_ARRAY: i32 = 16;
const TYPE_NVLIST: i32 = 19;
const TYPE_NVLIST_ARRAY: i32 = 20;

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

impl NvList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a pair (builder style).
    pub fn with(mut self, name: &str, value: NvValue) -> Self {
        self.pairs.push((name.to_string(), value));
        self
    }

    /// Appends a `uint64` pair.
    pub fn u64(self, name: &str, v: u64) -> Self {
        self.with(name, NvValue::U64(v))
    }

    /// Appends a string pair.
    pub fn str(self, name: &str, v: &str) -> Self {
        self.with(name, NvValue::Str(v.to_string()))
    }

    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<&NvValue> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Packs the list with the XDR header (`encoding 1`, little-endian host flag).
    pub fn pack(&self) -> Vec<u8> {
        let mut out = vec![1u8, 1, 0, 0];
        self.encode(&mut out);
        out
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes());
        for (name, value) in &self.pairs {
            let start = out.len();
            out.extend_from_slice(&[0; 8]);
            put_str(out, name);
            let (kind, nelem, vsize) = match value {
                NvValue::Boolean => (TYPE_BOOLEAN, 0, 0),
                NvValue::U64(_) => (TYPE_UINT64, 1, 8),
                NvValue::Str(s) => (TYPE_STRING, 1, s.len() + 1),
                NvValue::U64Array(a) => (TYPE_UINT64_ARRAY, a.len() as i32, 8 * a.len()),
                NvValue::List(_) => (TYPE_NVLIST, 1, 24),
                NvValue::ListArray(a) => (TYPE_NVLIST_ARRAY, a.len() as i32, 32 * a.len()),
                NvValue::Raw { kind, nelem, bytes } => (*kind, *nelem, bytes.len()),
            };
            out.extend_from_slice(&kind.to_be_bytes());
            out.extend_from_slice(&nelem.to_be_bytes());
            match value {
                NvValue::Boolean => {}
                NvValue::U64(v) => out.extend_from_slice(&v.to_be_bytes()),
                NvValue::Str(s) => put_str(out, s),
                NvValue::U64Array(a) => {
                    for v in a {
                        out.extend_from_slice(&v.to_be_bytes());
                    }
                }
                NvValue::List(l) => l.encode(out),
                NvValue::ListArray(a) => {
                    for l in a {
                        l.encode(out);
                    }
                }
                NvValue::Raw { bytes, .. } => out.extend_from_slice(bytes),
            }
            let encoded = (out.len() - start) as i32;
            let decoded = (align8(16 + name.len() + 1) + align8(vsize)) as i32;
            out[start..start + 4].copy_from_slice(&encoded.to_be_bytes());
            out[start + 4..start + 8].copy_from_slice(&decoded.to_be_bytes());
        }
        out.extend_from_slice(&[0; 8]);
    }

    /// Decodes a packed nvlist (header included). Trailing bytes are ignored.
    pub fn unpack(buf: &[u8]) -> Result<NvList, Error> {
        if buf.len() < 4 || buf[0] != 1 {
            return Err(bad(0, "not an XDR nvlist header"));
        }
        let mut r = Reader { buf, pos: 4 };
        r.list()
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    out.resize(align4(out.len()), 0);
}

fn bad(offset: usize, reason: &str) -> Error {
    Error::BadNvlist {
        offset,
        reason: reason.to_string(),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| bad(self.pos, "truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn string(&mut self) -> Result<String, Error> {
        let len = self.i32()? as usize;
        let at = self.pos;
        let bytes = self.take(align4(len))?[..len].to_vec();
        String::from_utf8(bytes).map_err(|_| bad(at, "string is not UTF-8"))
    }

    fn list(&mut self) -> Result<NvList, Error> {
        let _version = self.i32()?;
        let _flags = self.i32()?;
        let mut list = NvList::new();
        loop {
            let start = self.pos;
            let encoded = self.i32()?;
            let _decoded = self.i32()?;
            if encoded == 0 {
                return Ok(list);
            }
            let name = self.string()?;
            let kind = self.i32()?;
            let nelem = self.i32()?;
            let value_start = self.pos;
            let value = match kind {
                TYPE_BOOLEAN => NvValue::Boolean,
                TYPE_UINT64 => NvValue::U64(self.u64()?),
                TYPE_STRING => NvValue::Str(self.string()?),
                TYPE_UINT64_ARRAY => {
                    let mut a = Vec::new();
                    for _ in 0..nelem {
                        a.push(self.u64()?);
                    }
                    NvValue::U64Array(a)
                }
                TYPE_NVLIST => NvValue::List(self.list()?),
                TYPE_NVLIST_ARRAY => {
                    let mut a = Vec::new();
                    for _ in 0..nelem {
                        a.push(self.list()?);
                    }
                    NvValue::ListArray(a)
                }
                _ => {
                    let end = start + encoded as usize;
                    if end < value_start {
                        return Err(bad(start, "pair size smaller than its header"));
                    }
                    let bytes = self.take(end - value_start)?.to_vec();
                    NvValue::Raw { kind, nelem, bytes }
                }
            };
            if self.pos != start + encoded as usize {
                return Err(bad(start, "pair size does not match its contents"));
            }
            list.pairs.push((name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_the_reference_label() {
        // Encoded/decoded sizes seen in a real label (design note §3).
        let l = NvList::new()
            .u64("version", 5000)
            .str("name", "unclean_export")
            .u64("txg", 1)
            .with("features_for_read", NvValue::List(NvList::new()));
        let p = l.pack();
        let size = |off: usize| {
            (
                i32::from_be_bytes(p[off..off + 4].try_into().unwrap()),
                i32::from_be_bytes(p[off + 4..off + 8].try_into().unwrap()),
            )
        };
        assert_eq!(size(12), (36, 32));
        assert_eq!(size(48), (44, 40));
        assert_eq!(size(92), (32, 32));
        assert_eq!(size(124), (56, 64));
        assert_eq!(NvList::unpack(&p).unwrap(), l);
    }
}
