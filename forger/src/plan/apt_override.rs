//! The APT mirror override of one build (`--apt-mirror`, `--apt-suite`, `--apt-components`,
//! `--apt-keyring`): for machines that cannot reach the mirrors a spec names, e.g. an Ubuntu
//! spec built against a Debian mirror. The override replaces the spec's APT repositories in the
//! plan, so the stage hashes, `inspect`, and the sources written into the image all follow it.
//!
//! Keyrings: the spec's distribution implies a keyring (Ubuntu's for `ubuntu-*`), but an
//! overriding mirror is signed by whoever runs it, which the URL does not say. So with an
//! override the keyrings are exactly the `--apt-keyring` files; with none, apt on the build
//! host trusts what the host's own apt trusts (`/etc/apt/trusted.gpg.d`), which is right for
//! the usual case of a Debian host using its own Debian mirror.

use std::path::PathBuf;

use serde::Serialize;

use super::{Error, hash};
use crate::model::AptMirror;

/// Mirrors (and their keyrings) that replace the spec's APT repositories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AptOverride {
    /// Mirror URLs, in order; the first is the one mmdebstrap bootstraps from.
    pub mirrors: Vec<String>,
    /// Suite of every override mirror; `None` keeps the spec's (or the distribution's) suite.
    pub suite: Option<String>,
    /// Components of every override mirror; `main` when empty.
    pub components: Vec<String>,
    /// Keyrings that verify the override mirrors; empty trusts the build host's apt keys.
    pub keyrings: Vec<PathBuf>,
}

/// A keyring of the plan with its bytes' hash (a changed key is a changed payload input).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlannedKeyring {
    /// The keyring file on the build host.
    pub path: PathBuf,
    /// `sha256:` of its bytes.
    pub sha256: String,
}

impl AptOverride {
    /// True when no flag was given.
    pub fn is_empty(&self) -> bool {
        self.mirrors.is_empty()
            && self.suite.is_none()
            && self.components.is_empty()
            && self.keyrings.is_empty()
    }

    /// The override's mirrors; `default_suite` is used when no suite was given.
    pub(crate) fn apt_mirrors(&self, default_suite: &str) -> Vec<AptMirror> {
        let suite = self.suite.as_deref().unwrap_or(default_suite);
        let components = if self.components.is_empty() {
            vec!["main".to_owned()]
        } else {
            self.components.clone()
        };
        self.mirrors
            .iter()
            .map(|url| {
                AptMirror::with_url(url.as_str())
                    .suite(suite)
                    .components(components.clone())
                    .build()
            })
            .collect()
    }

    /// Problems with the flags themselves (a suite or keyring without a mirror, a URL apt
    /// cannot use, a missing keyring).
    pub(crate) fn check(&self) -> Vec<Error> {
        let mut problems = Vec::new();
        if self.mirrors.is_empty() {
            problems.push(Error::AptOverride {
                reason: "--apt-suite, --apt-components and --apt-keyring need at least one \
                         --apt-mirror URL"
                    .to_owned(),
            });
        }
        for url in &self.mirrors {
            if url.starts_with("file:") {
                // apt hands dpkg the host path of a file:// package, but mmdebstrap runs dpkg
                // inside the new root, where that path does not exist.
                problems.push(Error::AptOverride {
                    reason: format!(
                        "`{url}`: local repositories must be given as copy:///PATH, not \
                         file:// (dpkg runs inside the new root and cannot open host paths)"
                    ),
                });
                continue;
            }
            let scheme_ok = ["http://", "https://", "copy:///", "mirror+"]
                .iter()
                .any(|s| url.starts_with(s));
            if !scheme_ok || url.contains(char::is_whitespace) {
                problems.push(Error::AptOverride {
                    reason: format!(
                        "`{url}` is not a mirror URL (http://, https:// or copy:///, no spaces)"
                    ),
                });
            }
        }
        if let Some(s) = &self.suite
            && (s.is_empty() || s.contains(char::is_whitespace))
        {
            problems.push(Error::AptOverride {
                reason: format!("`{s}` is not a suite name"),
            });
        }
        problems
    }

    /// The keyrings with their hashes.
    pub(crate) fn planned_keyrings(&self) -> Result<Vec<PlannedKeyring>, Error> {
        self.keyrings
            .iter()
            .map(|path| {
                let sha256 = hash::file_hash(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                Ok(PlannedKeyring {
                    path: path.clone(),
                    sha256,
                })
            })
            .collect()
    }
}
