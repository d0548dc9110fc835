//! The stage cache in an OCI registry, so machines share stages: `--cache-to REF` pushes a
//! build's entries, `--cache-from REF` pulls an entry on a local miss. Each entry is an OCI
//! artifact tagged `stage-<hex>` or `output-<hex>` in the repository `REF`; its one layer is
//! either the output file as built, or a tar of the local tree entry (`manifest.json`,
//! `digest`, then every file under `tree/` in manifest order, with fixed headers, so equal
//! entries give equal blobs and a second push uploads nothing).
//!
//! The transfer is the OCI push/pull code (streamed from disk, chunked, retried, with the
//! same credentials lookup). A pulled layer is checked against the manifest's digest while
//! it streams, and a tree entry is checked once more against its own `digest` file before
//! it is published into the local cache, exactly as a local hit is.

use std::fs;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use super::{Error, tree};
use crate::oci::{self, ArtifactKind, ArtifactMeta, PullOptions, PushOptions};
use crate::stage::{EntryKind, Manifest};

/// Where stage entries are shared.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Repository to pull entries from on a local miss (`host:port/name`).
    pub pull_from: Option<String>,
    /// Repository to push entries to after a build.
    pub push_to: Option<String>,
    /// Credentials, insecure hosts, chunk size and retries.
    pub options: PushOptions,
}

/// The two kinds of entry, as tag prefixes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Stage,
    Output,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Stage => "stage",
            Kind::Output => "output",
        }
    }
}

fn reference(repo: &str, kind: Kind, hex: &str) -> String {
    format!("{}:{}-{hex}", repo.trim_end_matches('/'), kind.prefix())
}

fn pull_options(o: &PushOptions) -> PullOptions {
    PullOptions {
        auth_file: o.auth_file.clone(),
        insecure_registries: o.insecure_registries.clone(),
        cache_dir: None,
        retry: o.retry,
    }
}

/// True when the registry answered that the tag does not exist (a miss, not a failure).
fn is_not_found(e: &oci::Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    matches!(e, oci::Error::Client { .. })
        && (text.contains("not found")
            || text.contains("manifest_unknown")
            || text.contains("manifest unknown"))
}

fn remote_error(reference: &str, e: oci::Error) -> Error {
    Error::Registry {
        reference: reference.to_owned(),
        source: Box::new(e),
    }
}

impl Registry {
    /// Pulls the entry `hex` of `kind` into the new directory `tmp` (a private sibling of
    /// the final entry) in the local layout. `Ok(false)`: the registry has no such entry.
    pub(super) fn pull(
        &self,
        kind: Kind,
        hex: &str,
        tmp: &Path,
        output_name: &str,
    ) -> Result<bool, Error> {
        let Some(repo) = &self.pull_from else {
            return Ok(false);
        };
        let r = reference(repo, kind, hex);
        let blob = tmp.join(".pulled");
        match oci::pull_artifact(&r, &blob, &pull_options(&self.options)) {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => return Err(remote_error(&r, e)),
        }
        match kind {
            Kind::Output => {
                let file = tmp.join(output_name);
                fs::rename(&blob, &file).map_err(Error::io(&file))?;
                let digest = tree::file_digest(&file)?;
                fs::write(tmp.join(".digest"), digest).map_err(Error::io(tmp))?;
            }
            Kind::Stage => {
                unpack(&blob, tmp)?;
                fs::remove_file(&blob).map_err(Error::io(&blob))?;
                if !tree::verify(tmp)? {
                    return Err(Error::RegistryEntry {
                        reference: r,
                        reason: "the files do not match the entry's digest".into(),
                    });
                }
            }
        }
        Ok(true)
    }

    /// Pushes the local entry directory `entry` (`stages/<hex>` or `outputs/<hex>`), unless
    /// the registry already has its tag: tags name content, so an entry there is this entry,
    /// and a build that hit the cache packs and uploads nothing. `Ok(false)`: it was there.
    pub(super) fn push(&self, kind: Kind, hex: &str, entry: &Path) -> Result<bool, Error> {
        let Some(repo) = &self.push_to else {
            return Ok(false);
        };
        let r = reference(repo, kind, hex);
        // Not found, or not answered: push, which reports a real failure in its own words.
        if oci::manifest_digest(&r, &pull_options(&self.options)).is_ok() {
            return Ok(false);
        }
        let meta = |name: &str| ArtifactMeta {
            name: name.to_owned(),
            version: hex.to_owned(),
            architecture: String::new(),
            os: String::new(),
            description: format!("forger stage cache {} entry", kind.prefix()),
            kind: ArtifactKind::Tarball,
        };
        match kind {
            Kind::Output => {
                let file = super::single_file(entry).ok_or_else(|| Error::RegistryEntry {
                    reference: r.clone(),
                    reason: format!("`{}` holds no output file", entry.display()),
                })?;
                oci::push_artifact(&file, &r, &meta("output"), &self.options)
                    .map_err(|e| remote_error(&r, e))?;
            }
            Kind::Stage => {
                let parent = entry.parent().unwrap_or(entry);
                let tar = tempfile::Builder::new()
                    .prefix(".push-")
                    .suffix(".tar")
                    .tempfile_in(parent)
                    .map_err(Error::io(parent))?;
                pack(entry, tar.path())?;
                oci::push_artifact(tar.path(), &r, &meta("stage"), &self.options)
                    .map_err(|e| remote_error(&r, e))?;
            }
        }
        Ok(true)
    }
}

/// Fixed tar headers: the bytes depend only on the entry's content.
fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Writes the tree entry `entry` as a tar to `dest`.
fn pack(entry: &Path, dest: &Path) -> Result<(), Error> {
    let manifest_path = entry.join("manifest.json");
    let manifest_bytes = fs::read(&manifest_path).map_err(Error::io(&manifest_path))?;
    let manifest: Manifest =
        serde_json::from_slice(&manifest_bytes).map_err(|source| Error::BadManifest {
            path: manifest_path.clone(),
            source,
        })?;
    let out = fs::File::create(dest).map_err(Error::io(dest))?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(out));
    for name in ["manifest.json", "digest"] {
        let bytes = fs::read(entry.join(name)).map_err(Error::io(entry.join(name)))?;
        let mut h = header(tar::EntryType::Regular, bytes.len() as u64);
        b.append_data(&mut h, name, &bytes[..])
            .map_err(Error::io(dest))?;
    }
    for (path, e) in manifest.iter() {
        let name = format!("tree/{}", path.as_str());
        match &e.kind {
            EntryKind::File => {
                let host = entry.join(&name);
                let f = fs::File::open(&host).map_err(Error::io(&host))?;
                let len = f.metadata().map_err(Error::io(&host))?.len();
                let mut h = header(tar::EntryType::Regular, len);
                b.append_data(&mut h, &name, std::io::BufReader::new(f).take(len))
                    .map_err(Error::io(&host))?;
            }
            EntryKind::Hardlink { target } => {
                let mut h = header(tar::EntryType::Link, 0);
                b.append_link(&mut h, &name, format!("tree/{}", target.as_str()))
                    .map_err(Error::io(dest))?;
            }
            _ => {}
        }
    }
    let mut w = b.into_inner().map_err(Error::io(dest))?;
    w.flush().map_err(Error::io(dest))
}

/// Unpacks a tar written by [`pack`] into `dir`, refusing any path that leaves it.
fn unpack(tar_path: &Path, dir: &Path) -> Result<(), Error> {
    let bad = |reason: String| Error::RegistryEntry {
        reference: tar_path.display().to_string(),
        reason,
    };
    let f = fs::File::open(tar_path).map_err(Error::io(tar_path))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(f));
    for item in archive.entries().map_err(Error::io(tar_path))? {
        let mut item = item.map_err(Error::io(tar_path))?;
        let rel = item.path().map_err(Error::io(tar_path))?.into_owned();
        let dest = inside(dir, &rel).ok_or_else(|| bad(format!("unsafe path {rel:?}")))?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(Error::io(parent))?;
        }
        match item.header().entry_type() {
            tar::EntryType::Regular => {
                let mut out = fs::File::create(&dest).map_err(Error::io(&dest))?;
                std::io::copy(&mut item, &mut out).map_err(Error::io(&dest))?;
            }
            tar::EntryType::Link => {
                let target = item
                    .link_name()
                    .map_err(Error::io(tar_path))?
                    .ok_or_else(|| bad(format!("link {rel:?} without a target")))?
                    .into_owned();
                let from = inside(dir, &target)
                    .ok_or_else(|| bad(format!("unsafe link target {target:?}")))?;
                fs::hard_link(&from, &dest).map_err(Error::io(&dest))?;
            }
            other => return Err(bad(format!("unexpected tar entry type {other:?}"))),
        }
    }
    Ok(())
}

/// `dir/rel` when `rel` is relative and has no `..`.
fn inside(dir: &Path, rel: &Path) -> Option<PathBuf> {
    rel.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then(|| dir.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar holding one regular file named `name` (written raw, so `..` gets through).
    fn tar_with(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join("entry.tar");
        let mut h = header(tar::EntryType::Regular, 3);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        let mut b = tar::Builder::new(fs::File::create(&path).unwrap());
        b.append(&h, &b"abc"[..]).unwrap();
        b.finish().unwrap();
        path
    }

    #[test]
    fn unpack_refuses_paths_that_leave_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let into = dir.path().join("entry");
        fs::create_dir(&into).unwrap();
        let err = unpack(&tar_with(dir.path(), "tree/../../evil"), &into).unwrap_err();
        assert!(err.to_string().contains("unsafe path"), "{err}");
        assert!(!dir.path().join("evil").exists());

        unpack(&tar_with(dir.path(), "tree/ok"), &into).unwrap();
        assert_eq!(fs::read(into.join("tree/ok")).unwrap(), b"abc");
    }

    #[test]
    fn references_are_tagged_by_kind_and_hash() {
        assert_eq!(
            reference("127.0.0.1:5000/forger-cache/", Kind::Stage, "ab12"),
            "127.0.0.1:5000/forger-cache:stage-ab12"
        );
        assert_eq!(
            reference("r.example/c", Kind::Output, "ff"),
            "r.example/c:output-ff"
        );
    }
}
