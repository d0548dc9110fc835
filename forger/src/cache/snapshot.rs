//! Package-set snapshots: what a package payload would install, pinned by the repository
//! metadata it resolves against. The plan hashes the package *names*; the snapshot adds the
//! state of the repositories, so the payload stage misses exactly when a rebuild could
//! install different packages.
//!
//! APT: each mirror's `dists/<suite>/InRelease` (or `Release`). That file lists the SHA-256
//! of every `Packages` index of the suite, and apt resolves the requested names against
//! those indices alone, deterministically; equal Release files therefore mean equal indices
//! and equal resolved versions, without running the resolver. (`.deb`s are fetched by the
//! checksums the indices hold, so their bytes are pinned too.)
//!
//! IPS: each publisher's `catalog.attrs`, identified by its verified `_SIGNATURE` SHA-1. The
//! attrs file carries the `signature-sha-1` of every catalog part and the catalog's
//! last-modified time, so publishing any package changes it.
//!
//! When a snapshot cannot be fetched (offline, mirror down) the caller builds without the
//! cache and says so: a stale hit would silently install yesterday's packages, and failing
//! outright would stop builds that never wanted the cache's help.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::Error;
use crate::payload::apt::AptMirror;
use crate::payload::ips::{self, Origin, Publisher, TlsSettings};

/// How long fetching one Release file may take; a snapshot is a small file and a slow
/// mirror should not hold the build up (the build goes on without the cache).
const TIMEOUT: Duration = Duration::from_secs(15);

/// The snapshot of APT `mirrors`: one line per mirror with its Release file's digest.
pub fn apt(mirrors: &[AptMirror]) -> Result<String, Error> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(TIMEOUT)
        .timeout(TIMEOUT)
        .build();
    let mut lines = Vec::new();
    for m in mirrors {
        let base = format!("{}/dists/{}", m.url.trim_end_matches('/'), m.suite);
        let (name, bytes) = release_file(&agent, &base)?;
        lines.push(format!(
            "{} {} {name} sha256:{}",
            m.url,
            m.suite,
            hex::encode(Sha256::digest(&bytes))
        ));
    }
    Ok(lines.join("\n"))
}

/// `InRelease`, else `Release`, under `base` (`…/dists/<suite>`).
fn release_file(agent: &ureq::Agent, base: &str) -> Result<(&'static str, Vec<u8>), Error> {
    let mut last = String::new();
    for name in ["InRelease", "Release"] {
        let url = format!("{base}/{name}");
        match fetch(agent, &url) {
            Ok(Some(bytes)) => return Ok((name, bytes)),
            Ok(None) => last = format!("`{url}` does not exist"),
            Err(reason) => {
                return Err(Error::Snapshot {
                    source_name: url,
                    reason,
                });
            }
        }
    }
    Err(Error::Snapshot {
        source_name: base.to_owned(),
        reason: format!("no InRelease or Release file ({last})"),
    })
}

/// The bytes at `url` (`file://`, `http://`, `https://`); `None` when it does not exist.
fn fetch(agent: &ureq::Agent, url: &str) -> Result<Option<Vec<u8>>, String> {
    if let Some(path) = url.strip_prefix("file://") {
        return match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        };
    }
    match agent.get(url).call() {
        Ok(resp) => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut resp.into_reader(), &mut out)
                .map_err(|e| e.to_string())?;
            Ok(Some(out))
        }
        Err(ureq::Error::Status(404 | 410, _)) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The snapshot of IPS `publishers`: one line per publisher with its catalog signature.
pub fn ips(publishers: &[Publisher], ca_certs: &[std::path::PathBuf]) -> Result<String, Error> {
    let mut lines = Vec::new();
    for p in publishers {
        let failed = |e: ips::Error| Error::Snapshot {
            source_name: format!("{} ({})", p.origin, p.name),
            reason: e.to_string(),
        };
        let tls = TlsSettings {
            ca_certs: ca_certs.to_vec(),
            client_cert: p.client_cert.clone(),
        };
        let origin = Origin::open(&p.origin, &p.name, &tls).map_err(failed)?;
        let attrs = origin.catalog_file("catalog.attrs").map_err(failed)?;
        let signature = ips::verify_signed("catalog.attrs", &attrs).map_err(failed)?;
        lines.push(format!(
            "{} {} catalog.attrs sha-1:{signature}",
            p.name, p.origin
        ));
    }
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_mirror_is_pinned_by_its_release_file() {
        let dir = tempfile::tempdir().unwrap();
        let dists = dir.path().join("dists/bookworm");
        std::fs::create_dir_all(&dists).unwrap();
        let mirror = AptMirror::new(format!("file://{}", dir.path().display()), "bookworm", &[]);
        let err = apt(std::slice::from_ref(&mirror)).unwrap_err();
        assert!(err.to_string().contains("bookworm"), "{err}");

        std::fs::write(
            dists.join("Release"),
            "SHA256:\n aa 10 main/binary-amd64/Packages\n",
        )
        .unwrap();
        let first = apt(std::slice::from_ref(&mirror)).unwrap();
        assert!(first.contains(" Release sha256:"), "{first}");
        assert_eq!(first, apt(std::slice::from_ref(&mirror)).unwrap());

        // InRelease is preferred, and a new index changes the snapshot.
        std::fs::write(
            dists.join("InRelease"),
            "SHA256:\n bb 10 main/binary-amd64/Packages\n",
        )
        .unwrap();
        let second = apt(std::slice::from_ref(&mirror)).unwrap();
        assert!(second.contains(" InRelease sha256:"), "{second}");
        assert_ne!(first, second);
    }

    #[test]
    fn an_unreachable_mirror_is_a_clear_error() {
        // Port 9 on loopback: nothing listens there in the test environment.
        let mirror = AptMirror::new("http://127.0.0.1:9/debian", "bookworm", &["main"]);
        let err = apt(&[mirror]).unwrap_err();
        assert!(
            err.to_string()
                .contains("http://127.0.0.1:9/debian/dists/bookworm/InRelease"),
            "{err}"
        );
    }
}
