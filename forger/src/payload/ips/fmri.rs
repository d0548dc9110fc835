//! Package FMRIs (`pkg://publisher/stem@version`) and the URL quoting pkg uses to turn them
//! into repository paths and depot URLs (`shared/docs/ips.md` §1, §2, §3.1).

use std::fmt;
use std::str::FromStr;

use super::Error;
use super::version::Version;

/// A package FMRI. The version is optional (a dependency or request may leave it out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmri {
    /// Publisher prefix, when the FMRI names one (`pkg://omnios/…`).
    pub publisher: Option<String>,
    /// The package name, e.g. `system/library`.
    pub stem: String,
    /// The version, when given.
    pub version: Option<Version>,
}

impl Fmri {
    /// The repository manifest path below `publisher/<pub>/pkg/`:
    /// `quote(stem)/quote(str(version))`. `None` without a version.
    pub fn dir_path(&self) -> Option<String> {
        let v = self.version.as_ref()?;
        Some(format!("{}/{}", quote(&self.stem), quote(&v.to_string())))
    }

    /// The depot manifest URL part `quote(stem)@quote(str(version))`. `None` without a version.
    pub fn url_path(&self) -> Option<String> {
        let v = self.version.as_ref()?;
        Some(format!("{}@{}", quote(&self.stem), quote(&v.to_string())))
    }

    /// The same FMRI with `publisher` set.
    pub fn with_publisher(&self, publisher: &str) -> Fmri {
        Fmri {
            publisher: Some(publisher.to_owned()),
            ..self.clone()
        }
    }
}

impl FromStr for Fmri {
    type Err = Error;

    /// Accepts `pkg://pub/stem@v`, `pkg:/stem@v`, `stem@v` and `stem`.
    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = || Error::BadFmri {
            fmri: text.to_owned(),
        };
        let (publisher, rest) = if let Some(r) = text.strip_prefix("pkg://") {
            let (p, r) = r.split_once('/').ok_or_else(bad)?;
            if p.is_empty() {
                return Err(bad());
            }
            (Some(p.to_owned()), r)
        } else if let Some(r) = text.strip_prefix("pkg:/") {
            (None, r)
        } else {
            (None, text)
        };
        let (stem, version) = match rest.split_once('@') {
            Some((s, v)) => (s, Some(v.parse::<Version>()?)),
            None => (rest, None),
        };
        let stem = stem.trim_start_matches('/');
        if stem.is_empty()
            || stem.ends_with('/')
            || stem.contains("//")
            || stem
                .chars()
                .any(|c| c.is_whitespace() || c == '@' || c == ':')
        {
            return Err(bad());
        }
        Ok(Fmri {
            publisher,
            stem: stem.to_owned(),
            version,
        })
    }
}

impl fmt::Display for Fmri {
    /// `pkg://pub/stem@version` (or `pkg:/stem…` without a publisher).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.publisher {
            Some(p) => write!(f, "pkg://{p}/{}", self.stem)?,
            None => write!(f, "pkg:/{}", self.stem)?,
        }
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        Ok(())
    }
}

/// Python's `urllib.parse.quote(s, safe="")`: everything but `A-Za-z0-9_.-~` is `%XX`-escaped
/// (upper-case hex, UTF-8 bytes).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`quote`]; `None` for malformed escapes or non-UTF-8 results.
pub fn unquote(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        let f: Fmri = "pkg://omnios/terminal/tmux@3.1.2,5.11-151036.0:20201029T171510Z"
            .parse()
            .unwrap();
        assert_eq!(f.publisher.as_deref(), Some("omnios"));
        assert_eq!(f.stem, "terminal/tmux");
        assert_eq!(
            f.to_string(),
            "pkg://omnios/terminal/tmux@3.1.2,5.11-151036.0:20201029T171510Z"
        );
        let f: Fmri = "pkg:/system/library@0.5.11-2016.1.1.16068".parse().unwrap();
        assert_eq!(f.publisher, None);
        assert_eq!(
            f.to_string(),
            "pkg:/system/library@0.5.11,5.11-2016.1.1.16068"
        );
        let f: Fmri = "xvm".parse().unwrap();
        assert_eq!((f.stem.as_str(), f.version), ("xvm", None));
        assert!("pkg://".parse::<Fmri>().is_err());
        assert!("a b".parse::<Fmri>().is_err());
    }

    #[test]
    fn paths_quote_as_pkg5_does() {
        // ips.md §1: pkg/package%2Fpkg/0.5.11%2C5.11-0.136%3A20100327T063139Z
        let f: Fmri = "package/pkg@0.5.11,5.11-0.136:20100327T063139Z"
            .parse()
            .unwrap();
        assert_eq!(
            f.dir_path().unwrap(),
            "package%2Fpkg/0.5.11%2C5.11-0.136%3A20100327T063139Z"
        );
        // ips.md §2: the manifest URL of Oxide's tool.
        let f: Fmri = "oxide/platform-identity-cacerts@1.0,5.11-2.0:20240719T230730Z"
            .parse()
            .unwrap();
        assert_eq!(
            f.url_path().unwrap(),
            "oxide%2Fplatform-identity-cacerts@1.0%2C5.11-2.0%3A20240719T230730Z"
        );
        assert_eq!(unquote("a%2Fb%2C").as_deref(), Some("a/b,"));
    }
}
