//! [`StagePath`]: a normalised path inside the image.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Error;

/// A path inside the image, normalised: no leading `/`, no `.` or `..` components, no empty
/// components. The image root is the empty path. It orders byte-wise, which gives every writer
/// the same deterministic order (a directory sorts before its contents).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(try_from = "String", into = "String")]
pub struct StagePath(String);

impl StagePath {
    /// The image root.
    pub fn root() -> Self {
        StagePath(String::new())
    }

    /// Parses an image path such as `/etc/hosts` or `etc/hosts`. `..` is rejected rather
    /// than resolved, so a spec can never name a path outside the image.
    pub fn new(path: &str) -> Result<Self, Error> {
        let mut parts = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    return Err(Error::BadPath {
                        path: path.to_owned(),
                    });
                }
                p if p.contains('\0') => {
                    return Err(Error::BadPath {
                        path: path.to_owned(),
                    });
                }
                p => parts.push(p),
            }
        }
        Ok(StagePath(parts.join("/")))
    }

    /// True for the image root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path without a leading `/` (`etc/hosts`); empty for the root.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent directory; `None` for the root.
    pub fn parent(&self) -> Option<StagePath> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => StagePath(self.0[..i].to_owned()),
            None => StagePath::root(),
        })
    }

    /// The last component; empty for the root.
    pub fn file_name(&self) -> &str {
        match self.0.rfind('/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// A child of this directory. `name` must be a single component.
    pub fn join(&self, name: &str) -> Result<StagePath, Error> {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(Error::BadPath {
                path: format!("{}/{}", self, name),
            });
        }
        Ok(if self.is_root() {
            StagePath(name.to_owned())
        } else {
            StagePath(format!("{}/{}", self.0, name))
        })
    }

    /// All ancestors from the root down to (excluding) this path.
    pub fn ancestors(&self) -> Vec<StagePath> {
        let mut out = vec![StagePath::root()];
        let mut acc = String::new();
        let parts: Vec<&str> = self.0.split('/').filter(|p| !p.is_empty()).collect();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            out.push(StagePath(acc.clone()));
        }
        out
    }

    /// True when `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &StagePath) -> bool {
        other.is_root()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }

    /// Number of components (0 for the root).
    pub fn depth(&self) -> usize {
        if self.is_root() {
            0
        } else {
            self.0.split('/').count()
        }
    }
}

impl fmt::Display for StagePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.0)
    }
}

impl fmt::Debug for StagePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", format!("/{}", self.0))
    }
}

impl TryFrom<String> for StagePath {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        StagePath::new(&value)
    }
}

impl From<StagePath> for String {
    fn from(value: StagePath) -> Self {
        format!("/{}", value.0)
    }
}

impl std::str::FromStr for StagePath {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StagePath::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_rejects_dotdot() {
        assert_eq!(
            StagePath::new("/etc//hosts/").unwrap().as_str(),
            "etc/hosts"
        );
        assert_eq!(StagePath::new("./a/./b").unwrap().as_str(), "a/b");
        assert!(StagePath::new("/a/../../etc").is_err());
        assert!(StagePath::new("/").unwrap().is_root());
    }

    #[test]
    fn parents_and_ancestors() {
        let p = StagePath::new("/a/b/c").unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "a/b");
        assert_eq!(p.file_name(), "c");
        let anc: Vec<String> = p.ancestors().iter().map(|a| a.to_string()).collect();
        assert_eq!(anc, ["/", "/a", "/a/b"]);
        assert!(p.starts_with(&StagePath::new("/a").unwrap()));
        assert!(
            !StagePath::new("/ab")
                .unwrap()
                .starts_with(&StagePath::new("/a").unwrap())
        );
    }
}
