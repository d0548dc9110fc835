//! IPS package versions (`release[,build][-branch][:timestamp]`) and the two ways a dependency
//! matches a candidate: "at least" (`require`, `optional`, …) and "prefix at the given
//! precision" (`incorporate`). Facts from pkg5 `version.py` as summarised in
//! `shared/docs/ips.md` §3.1–§3.3.
//!
//! The build release (`,5.11`) is kept for printing, because every catalog and repository path
//! spells it, but it never takes part in comparisons, exactly as in pkg5.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::Error;

/// The build release pkg assumes when a version does not name one.
pub const DEFAULT_BUILD_RELEASE: &str = "5.11";

/// A dot-separated sequence of non-negative integers without leading zeros (`0.5.11`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DotSequence(pub Vec<u64>);

impl DotSequence {
    /// Parses `1.2.3`; `text` is the whole version for the error message.
    fn parse(s: &str, text: &str) -> Result<Self, Error> {
        let bad = || Error::BadVersion {
            version: text.to_owned(),
            part: s.to_owned(),
        };
        if s.is_empty() {
            return Err(bad());
        }
        let mut out = Vec::new();
        for part in s.split('.') {
            if part.is_empty()
                || !part.bytes().all(|b| b.is_ascii_digit())
                || (part.len() > 1 && part.starts_with('0'))
            {
                return Err(bad());
            }
            out.push(part.parse().map_err(|_| bad())?);
        }
        Ok(DotSequence(out))
    }

    /// True when every element of `self` equals the element of `other` at the same place
    /// (`1.4` is a prefix of `1.4.3`, not of `1.40`).
    pub fn is_prefix_of(&self, other: &DotSequence) -> bool {
        self.0.len() <= other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| a == b)
    }
}

impl PartialOrd for DotSequence {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DotSequence {
    /// Lexicographic on the integers, a shorter prefix first: `1.2 < 1.2.0 < 1.10`.
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl fmt::Display for DotSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// A package version, e.g. `0.5.11,5.11-151054.0:20250101T000000Z`.
#[derive(Debug, Clone, Eq)]
pub struct Version {
    /// The component's own version.
    pub release: DotSequence,
    /// The OS build it was made for; printed, never compared. `None` prints as `5.11`.
    pub build: Option<DotSequence>,
    /// The distribution's branch version (`151054.0`).
    pub branch: Option<DotSequence>,
    /// Publication time `YYYYMMDDTHHMMSSZ`.
    pub timestamp: Option<String>,
}

impl Version {
    /// True when `self` (a candidate) is at least `min`: the rule of `require`, `optional`,
    /// `conditional`, `require-any`.
    pub fn at_least(&self, min: &Version) -> bool {
        self >= min
    }

    /// True when `self` (a candidate) matches `constraint` at the constraint's precision: every
    /// component the constraint gives is a prefix of the candidate's, a given timestamp must be
    /// equal. The rule of `incorporate` and of requested `name@version` patterns.
    pub fn matches_prefix(&self, constraint: &Version) -> bool {
        if !constraint.release.is_prefix_of(&self.release) {
            return false;
        }
        if let Some(b) = &constraint.branch {
            match &self.branch {
                Some(mine) if b.is_prefix_of(mine) => {}
                _ => return false,
            }
        }
        if let Some(t) = &constraint.timestamp
            && self.timestamp.as_ref() != Some(t)
        {
            return false;
        }
        true
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    /// Release, then branch (absent first), then timestamp (absent first); build ignored.
    fn cmp(&self, other: &Self) -> Ordering {
        self.release
            .cmp(&other.release)
            .then_with(|| self.branch.cmp(&other.branch))
            .then_with(|| self.timestamp.cmp(&other.timestamp))
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let (rest, timestamp) = match text.split_once(':') {
            Some((r, t)) => {
                if !valid_timestamp(t) {
                    return Err(Error::BadVersion {
                        version: text.to_owned(),
                        part: t.to_owned(),
                    });
                }
                (r, Some(t.to_owned()))
            }
            None => (text, None),
        };
        let (rest, branch) = match rest.split_once('-') {
            Some((r, b)) => (r, Some(DotSequence::parse(b, text)?)),
            None => (rest, None),
        };
        let (release, build) = match rest.split_once(',') {
            Some((r, b)) => (r, Some(DotSequence::parse(b, text)?)),
            None => (rest, None),
        };
        Ok(Version {
            release: DotSequence::parse(release, text)?,
            build,
            branch,
            timestamp,
        })
    }
}

impl fmt::Display for Version {
    /// pkg's `str(Version)`: the build release is always printed (`1.0,5.11-0.1:…`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.release)?;
        match &self.build {
            Some(b) => write!(f, ",{b}")?,
            None => write!(f, ",{DEFAULT_BUILD_RELEASE}")?,
        }
        if let Some(b) = &self.branch {
            write!(f, "-{b}")?;
        }
        if let Some(t) = &self.timestamp {
            write!(f, ":{t}")?;
        }
        Ok(())
    }
}

/// `YYYYMMDDTHHMMSSZ` with a plausible date and time.
fn valid_timestamp(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return false;
    }
    if !b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) {
        return false;
    }
    let num = |r: std::ops::Range<usize>| t[r].parse::<u32>().unwrap_or(99);
    let (mo, d, h, mi, s) = (num(4..6), num(6..8), num(9..11), num(11..13), num(13..15));
    (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && s < 61
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn prints_the_build_release_always() {
        assert_eq!(v("0.5.11-151054.0").to_string(), "0.5.11,5.11-151054.0");
        let full = "1.16.0,5.11-2016.1.1.0:20161224T161749Z";
        assert_eq!(v(full).to_string(), full);
    }

    #[test]
    fn orders_as_pkg_does() {
        assert!(v("1.2") < v("1.2.0"));
        assert!(v("1.2.0") < v("1.10"));
        assert!(v("1.0") < v("1.0-0.1"));
        assert!(v("1.0-0.1") < v("1.0-0.1:20200101T000000Z"));
        assert_eq!(v("1.0,5.11-1"), v("1.0,5.12-1"));
    }

    #[test]
    fn incorporate_matches_at_the_given_precision() {
        let c = v("1.4.3");
        assert!(v("1.4.3").matches_prefix(&c));
        assert!(v("1.4.3.7-2").matches_prefix(&c));
        assert!(!v("1.4.4").matches_prefix(&c));
        assert!(!v("1.4.30").matches_prefix(&c));
        let c = v("0.5.11,5.11-151054.0");
        assert!(v("0.5.11-151054.0.1:20250101T000000Z").matches_prefix(&c));
        assert!(!v("0.5.11-151056.0").matches_prefix(&c));
        assert!(!v("0.5.11").matches_prefix(&c));
    }

    #[test]
    fn rejects_leading_zeros_and_bad_timestamps() {
        assert!("01.2".parse::<Version>().is_err());
        assert!("1..2".parse::<Version>().is_err());
        assert!("1.2:2020".parse::<Version>().is_err());
        assert!("1.2:20201301T000000Z".parse::<Version>().is_err());
    }
}
