//! Typed scalar values of the model: [`Size`] (bytes, parsed from `"8G"`), [`Mode`] (octal
//! permission bits, parsed from `"0755"`). Both serialise as the text a spec author writes,
//! so the model's JSON reads like the spec.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Error;

/// A size in bytes. Parsed from `"8G"`, `"2000M"`, `"8 GiB"`, `"512K"` or a plain byte count;
/// the units K, M, G, T are binary (1K = 1024), with or without `B`/`iB`, any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(u64);

impl Size {
    /// A size of `bytes` bytes.
    pub const fn bytes(bytes: u64) -> Self {
        Size(bytes)
    }
    /// `n` KiB.
    pub const fn kib(n: u64) -> Self {
        Size(n << 10)
    }
    /// `n` MiB.
    pub const fn mib(n: u64) -> Self {
        Size(n << 20)
    }
    /// `n` GiB.
    pub const fn gib(n: u64) -> Self {
        Size(n << 30)
    }
    /// The size in bytes.
    pub const fn as_bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for Size {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Error::BadSize {
            value: s.to_owned(),
        };
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num.parse().map_err(|_| bad())?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            _ => return Err(bad()),
        };
        n.checked_mul(1u64 << shift).map(Size).ok_or_else(bad)
    }
}

impl fmt::Display for Size {
    /// The largest unit that divides the size exactly: `8G`, `2000M`, `1536K`, `100`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
            if self.0 != 0 && self.0.is_multiple_of(1u64 << shift) {
                return write!(f, "{}{}", self.0 >> shift, unit);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Bytes(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
            Raw::Bytes(b) => Ok(Size(b)),
        }
    }
}

/// POSIX permission bits (including setuid, setgid, sticky), parsed from octal text such as
/// `"644"`, `"0755"` or `"4755"`. A digit above 7 or a value above `7777` is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mode(u32);

impl Mode {
    /// Permission bits from a number; panics on bits outside `0o7777` (a programming error;
    /// parse user text with `str::parse`).
    pub const fn new(bits: u32) -> Self {
        assert!(bits <= 0o7777, "mode bits are at most 0o7777");
        Mode(bits)
    }
    /// The bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Error::BadMode {
            value: s.to_owned(),
        };
        let t = s.trim();
        let t = t.strip_prefix("0o").unwrap_or(t);
        if t.is_empty() || t.len() > 5 || !t.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Err(bad());
        }
        let v = u32::from_str_radix(t, 8).map_err(|_| bad())?;
        if v > 0o7777 {
            return Err(bad());
        }
        Ok(Mode(v))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_binary_units() {
        assert_eq!("8G".parse::<Size>().unwrap(), Size::gib(8));
        assert_eq!("2000M".parse::<Size>().unwrap(), Size::mib(2000));
        assert_eq!("8 GiB".parse::<Size>().unwrap(), Size::gib(8));
        assert_eq!("512k".parse::<Size>().unwrap(), Size::kib(512));
        assert_eq!("4096".parse::<Size>().unwrap(), Size::bytes(4096));
        assert!("8Q".parse::<Size>().is_err());
        assert!("G".parse::<Size>().is_err());
        assert!("99999999999T".parse::<Size>().is_err());
        assert_eq!(Size::mib(2000).to_string(), "2000M");
        assert_eq!(Size::gib(8).to_string(), "8G");
    }

    #[test]
    fn modes_are_octal() {
        assert_eq!("644".parse::<Mode>().unwrap().bits(), 0o644);
        assert_eq!("0755".parse::<Mode>().unwrap().bits(), 0o755);
        assert_eq!("4755".parse::<Mode>().unwrap().bits(), 0o4755);
        assert!("989".parse::<Mode>().is_err());
        assert!("17777".parse::<Mode>().is_err());
        assert!("".parse::<Mode>().is_err());
        assert_eq!(Mode::new(0o644).to_string(), "0644");
    }
}
