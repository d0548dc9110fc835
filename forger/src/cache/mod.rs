//! The stage cache: staged trees and target outputs stored under the plan's stage hashes, so
//! a rebuild skips every stage whose inputs did not change.
//!
//! Layout of a cache directory (`$XDG_CACHE_HOME/forger` by default):
//! ```text
//! stages/<hex>/tree/            the staged tree's host bytes (hard links when possible)
//! stages/<hex>/manifest.json    its ownership manifest
//! stages/<hex>/digest           sha256 over the manifest and every file's bytes
//! outputs/<hex>/<file>          a target's finished output
//! blocks/<codec>/<hex>           compressed archive blocks by input digest (see `blocks`)
//! images/<key>/image, digest     base filesystem images (see `images`)
//! ```
//! Entries are written under a temporary name and renamed into place, so concurrent builds on
//! one machine never see half an entry; the loser of a race discards its copy. Every hit is
//! verified against its digest first; a corrupt entry is removed and reported as a miss.
//! Each use touches the entry, and [`Cache::prune`] evicts least recently used entries.
//! With a [`Registry`], a local miss is looked up in an OCI registry before the stage runs,
//! and [`Cache::push`] shares a build's entries there.

mod blocks;
mod error;
mod images;
mod registry;
pub mod snapshot;
mod tree;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use error::Error;
pub use registry::Registry;

use registry::Kind;

use crate::stage::StagingTree;

/// Outcome of a lookup, for the build's hit/miss report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lookup {
    /// The entry was present and verified.
    Hit,
    /// The entry was pulled from the cache registry and verified.
    RegistryHit,
    /// No entry.
    Miss,
    /// An entry was present but failed verification; it was removed.
    Corrupt,
}

impl Lookup {
    /// True for a local or registry hit.
    pub fn is_hit(self) -> bool {
        matches!(self, Lookup::Hit | Lookup::RegistryHit)
    }

    /// `hit`, `hit (registry)`, `miss` or `corrupt`, for reports.
    pub fn label(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::RegistryHit => "hit (registry)",
            Lookup::Miss => "miss",
            Lookup::Corrupt => "corrupt",
        }
    }
}

/// One entry, as `forger cache ls` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EntryInfo {
    /// `stage`, `output`, `blocks` (every compressed archive block of one codec) or `image`
    /// (a base filesystem image).
    pub kind: &'static str,
    /// The stage hash (hex), or the codec of `blocks`.
    pub hash: String,
    /// Bytes used.
    pub size: u64,
    /// Last use, seconds since the epoch.
    pub last_used: u64,
}

/// A stage cache in a local directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    registry: Option<Registry>,
    known: tree::Known,
}

impl Cache {
    /// The cache at `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Cache {
            dir: dir.into(),
            registry: None,
            known: tree::Known::default(),
        }
    }

    /// The same cache, shared through `registry`.
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// `$XDG_CACHE_HOME/forger`, else `~/.cache/forger`, else `.forger-cache`.
    pub fn default_dir() -> PathBuf {
        if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("forger");
        }
        match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".cache/forger"),
            None => PathBuf::from(".forger-cache"),
        }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn stage_dir(&self, hash: &str) -> PathBuf {
        self.dir.join("stages").join(key(hash))
    }

    fn output_dir(&self, hash: &str) -> PathBuf {
        self.dir.join("outputs").join(key(hash))
    }

    /// Restores the tree stored under `hash` into a fresh staging tree at `root`.
    pub fn restore_tree(
        &self,
        hash: &str,
        root: &Path,
    ) -> Result<(Lookup, Option<StagingTree>), Error> {
        let entry = self.stage_dir(hash);
        let mut found = Lookup::Hit;
        if !entry.join("digest").is_file() {
            if !self.pull(Kind::Stage, hash, &entry, "")? {
                return Ok((Lookup::Miss, None));
            }
            found = Lookup::RegistryHit;
        }
        match tree::load(&entry, root, &self.known)? {
            Some(tree) => {
                touch(&entry);
                Ok((found, Some(tree)))
            }
            None => {
                remove_entry(&entry)?;
                Ok((Lookup::Corrupt, None))
            }
        }
    }

    /// Stores `tree` under `hash` (no-op when an entry exists).
    pub fn store_tree(&self, hash: &str, tree: &StagingTree) -> Result<(), Error> {
        let entry = self.stage_dir(hash);
        if entry.join("digest").is_file() {
            return Ok(());
        }
        let tmp = temp_sibling(&entry)?;
        tree::save(tree, &tmp, &self.known)?;
        publish(&tmp, &entry)
    }

    /// Copies the output stored under `hash` to `dest` (hard link when possible).
    pub fn restore_output(&self, hash: &str, dest: &Path) -> Result<Lookup, Error> {
        let entry = self.output_dir(hash);
        let mut found = Lookup::Hit;
        if !entry.join(".digest").is_file() {
            let name = dest.file_name().unwrap_or_default().to_string_lossy();
            if !self.pull(Kind::Output, hash, &entry, &name)? {
                return Ok(Lookup::Miss);
            }
            found = Lookup::RegistryHit;
        }
        let (Some(file), Ok(digest)) = (
            single_file(&entry),
            fs::read_to_string(entry.join(".digest")),
        ) else {
            return Ok(Lookup::Miss);
        };
        if tree::file_digest(&file)? != digest.trim() {
            remove_entry(&entry)?;
            return Ok(Lookup::Corrupt);
        }
        let partial = crate::build::partial_name(dest);
        if fs::hard_link(&file, &partial).is_err() {
            fs::copy(&file, &partial).map_err(Error::io(&partial))?;
        }
        fs::rename(&partial, dest).map_err(Error::io(dest))?;
        touch(&entry);
        Ok(found)
    }

    /// Pulls a missing entry from the registry into `entry`; false when there is none.
    fn pull(&self, kind: Kind, hash: &str, entry: &Path, name: &str) -> Result<bool, Error> {
        let Some(registry) = self.registry.as_ref().filter(|r| r.pull_from.is_some()) else {
            return Ok(false);
        };
        let tmp = temp_sibling(entry)?;
        match registry.pull(kind, key(hash), &tmp, name) {
            Ok(true) => publish(&tmp, entry).map(|()| true),
            other => {
                remove_entry(&tmp)?;
                other
            }
        }
    }

    /// Pushes the entries of these stage trees and outputs to the registry's `push_to`
    /// (entries missing locally are skipped); returns how many were uploaded, which leaves
    /// out those the registry already had.
    pub fn push(&self, trees: &[&str], outputs: &[&str]) -> Result<usize, Error> {
        let Some(registry) = self.registry.as_ref().filter(|r| r.push_to.is_some()) else {
            return Ok(0);
        };
        let mut pushed = 0;
        for (kind, hashes) in [(Kind::Stage, trees), (Kind::Output, outputs)] {
            for hash in hashes {
                let entry = match kind {
                    Kind::Stage => self.stage_dir(hash),
                    Kind::Output => self.output_dir(hash),
                };
                if entry.is_dir() && registry.push(kind, key(hash), &entry)? {
                    pushed += 1;
                }
            }
        }
        Ok(pushed)
    }

    /// True when a registry is set to push to.
    pub fn pushes(&self) -> bool {
        self.registry.as_ref().is_some_and(|r| r.push_to.is_some())
    }

    /// Stores the finished output file `path` under `hash`.
    pub fn store_output(&self, hash: &str, path: &Path) -> Result<(), Error> {
        let entry = self.output_dir(hash);
        if entry.join(".digest").is_file() || !path.is_file() {
            return Ok(());
        }
        let tmp = temp_sibling(&entry)?;
        let name = path.file_name().unwrap_or_default();
        if fs::hard_link(path, tmp.join(name)).is_err() {
            fs::copy(path, tmp.join(name)).map_err(Error::io(&tmp))?;
        }
        fs::write(tmp.join(".digest"), tree::file_digest(path)?).map_err(Error::io(&tmp))?;
        publish(&tmp, &entry)
    }

    /// Every entry with its size and last use.
    pub fn list(&self) -> Result<Vec<EntryInfo>, Error> {
        let mut out = Vec::new();
        for (kind, sub) in KINDS {
            let dir = self.dir.join(sub);
            let Ok(items) = fs::read_dir(&dir) else {
                continue;
            };
            for item in items {
                let item = item.map_err(Error::io(&dir))?;
                let name = item.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let last_used = if kind == "blocks" {
                    blocks::newest_use(&item.path())
                } else {
                    modified_secs(&item.path())
                };
                out.push(EntryInfo {
                    kind,
                    hash: name,
                    size: disk_usage(&item.path()),
                    last_used,
                });
            }
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.last_used));
        Ok(out)
    }

    /// Evicts least recently used entries until the cache holds at most `max_bytes`.
    /// Returns the evicted entries.
    pub fn prune(&self, max_bytes: u64) -> Result<Vec<EntryInfo>, Error> {
        let mut entries = self.list()?;
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        let mut evicted = Vec::new();
        while total > max_bytes {
            let Some(oldest) = entries.pop() else { break };
            let sub = KINDS
                .iter()
                .find(|(kind, _)| *kind == oldest.kind)
                .map_or("stages", |(_, sub)| sub);
            remove_entry(&self.dir.join(sub).join(&oldest.hash))?;
            total -= oldest.size;
            evicted.push(oldest);
        }
        Ok(evicted)
    }
}

/// Entry kinds as `ls` names them, and the subdirectories that hold them.
const KINDS: [(&str, &str); 4] = [
    ("stage", "stages"),
    ("output", "outputs"),
    ("blocks", "blocks"),
    ("image", "images"),
];

/// The directory name for a hash: its hex part.
fn key(hash: &str) -> &str {
    hash.rsplit(':').next().unwrap_or(hash)
}

fn temp_sibling(entry: &Path) -> Result<PathBuf, Error> {
    let parent = entry.parent().expect("entries live in a subdirectory");
    fs::create_dir_all(parent).map_err(Error::io(parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempdir_in(parent)
        .map_err(Error::io(parent))?;
    Ok(tmp.keep())
}

/// Renames a finished temporary entry into place; if another build won the race, ours goes.
fn publish(tmp: &Path, entry: &Path) -> Result<(), Error> {
    match fs::rename(tmp, entry) {
        Ok(()) => Ok(()),
        Err(_) if entry.exists() => remove_entry(tmp),
        Err(e) => Err(Error::Io {
            path: entry.to_owned(),
            source: e,
        }),
    }
}

fn remove_entry(entry: &Path) -> Result<(), Error> {
    match fs::remove_dir_all(entry) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            path: entry.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// A path's modification time in seconds since the epoch (0 when unknown): its last use.
fn modified_secs(path: &Path) -> u64 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

fn touch(entry: &Path) {
    // Best effort: a failed touch only makes LRU eviction less precise.
    let _ = fs::File::open(entry).and_then(|f| f.set_modified(SystemTime::now()));
}

fn single_file(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
}

fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|items| {
            items
                .filter_map(|e| e.ok())
                .map(|e| disk_usage(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
