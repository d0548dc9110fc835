//! Payload fetching: every file/license payload is downloaded (in parallel, bounded), its
//! gzip stream decoded while hashing, verified against the strongest hash the action carries
//! (`pkg.content-hash` `file:sha512t_256`, and always the SHA-1 it is named by, plus `chash`
//! and `pkg.size` when present), and kept in a cache keyed by SHA-1 in the repository's own
//! V1 layout (`<cache>/file/<h[0:2]>/<h>`, still gzip). A payload that fails verification is
//! fetched once more; a second failure is an error. `shared/docs/ips.md` §1, §2, §4.2.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::read::GzDecoder;
use sha1::Sha1;
use sha2::{Digest, Sha512_256};

use super::Error;
use super::action::Action;
use super::origin::Origin;

/// What a payload must hash to, taken from its action.
#[derive(Debug, Clone)]
pub struct PayloadSpec {
    /// SHA-1 of the uncompressed content: the file name in the repository.
    pub hash: String,
    /// SHA-1 of the gzip file (`chash`).
    pub chash: Option<String>,
    /// SHA-512/256 of the content (`pkg.content-hash=file:sha512t_256:…`).
    pub sha512t_256: Option<String>,
    /// Uncompressed size (`pkg.size`).
    pub size: Option<u64>,
    /// The image path, for messages.
    pub path: String,
}

impl PayloadSpec {
    /// The verification data of a `file` or `license` action; `None` without a hash.
    pub fn from_action(a: &Action) -> Option<PayloadSpec> {
        let hash = a.hash.clone()?;
        let sha512t_256 = a
            .values("pkg.content-hash")
            .iter()
            .find_map(|v| v.strip_prefix("file:sha512t_256:"))
            .map(str::to_owned);
        Some(PayloadSpec {
            hash,
            chash: a.attr("chash").map(str::to_owned),
            sha512t_256,
            size: a.attr("pkg.size").and_then(|s| s.parse().ok()),
            path: a
                .attr("path")
                .or_else(|| a.attr("license"))
                .unwrap_or("")
                .to_owned(),
        })
    }
}

/// The local payload cache.
#[derive(Debug, Clone)]
pub struct PayloadCache {
    root: PathBuf,
}

impl PayloadCache {
    /// A cache rooted at `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, Error> {
        let root = root.into();
        fs::create_dir_all(root.join("file")).map_err(Error::io(&root))?;
        Ok(PayloadCache { root })
    }

    /// Where the gzip payload with SHA-1 `hash` is (or will be) cached.
    pub fn path(&self, hash: &str) -> PathBuf {
        self.root
            .join("file")
            .join(hash.get(..2).unwrap_or(hash))
            .join(hash)
    }

    /// Opens a cached payload, decoding gzip.
    pub fn open(&self, hash: &str) -> Result<GzDecoder<io::BufReader<fs::File>>, Error> {
        let p = self.path(hash);
        let f = fs::File::open(&p).map_err(Error::io(&p))?;
        Ok(GzDecoder::new(io::BufReader::with_capacity(1 << 16, f)))
    }

    /// Makes sure every payload is cached and verified, fetching missing ones from `origin`
    /// with at most `workers` downloads at a time. Returns how many were downloaded.
    pub fn fetch_all(
        &self,
        jobs: &[(usize, PayloadSpec)],
        origins: &[Origin],
        workers: usize,
    ) -> Result<FetchStats, Error> {
        let mut unique: BTreeMap<&str, &(usize, PayloadSpec)> = BTreeMap::new();
        for j in jobs {
            unique.entry(j.1.hash.as_str()).or_insert(j);
        }
        let total = unique.len();
        let todo: Vec<&(usize, PayloadSpec)> = unique
            .into_values()
            .filter(|(_, s)| !self.path(&s.hash).is_file())
            .collect();
        let next = AtomicUsize::new(0);
        let refetched = AtomicUsize::new(0);
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..workers.max(1).min(todo.len().max(1)) {
                s.spawn(|| {
                    loop {
                        if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                            return;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((origin_idx, spec)) = todo.get(i) else {
                            return;
                        };
                        let origin = &origins[*origin_idx];
                        let res = match self.fetch_one(origin, spec) {
                            Ok(()) => Ok(()),
                            Err(Error::PayloadHash { .. }) | Err(Error::Http { .. }) => {
                                refetched.fetch_add(1, Ordering::Relaxed);
                                self.fetch_one(origin, spec)
                            }
                            Err(e) => Err(e),
                        };
                        if let Err(e) = res {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(e);
                            }
                            return;
                        }
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().ok().flatten() {
            return Err(e);
        }
        Ok(FetchStats {
            cached: total - todo.len(),
            downloaded: todo.len(),
            refetched: refetched.into_inner(),
        })
    }

    /// Downloads one payload to a temporary name, verifies it, renames it into place.
    fn fetch_one(&self, origin: &Origin, spec: &PayloadSpec) -> Result<(), Error> {
        let dest = self.path(&spec.hash);
        let dir = dest.parent().expect("cache paths have a parent");
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(Error::io(dir))?;
        let mut src = origin.payload(&spec.hash)?;
        let mut chash = Sha1::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = src.read(&mut buf).map_err(|e| Error::Io {
                path: PathBuf::from(&spec.path),
                source: e,
            });
            let n = match n {
                Ok(n) => n,
                Err(_) => {
                    return Err(Error::PayloadHash {
                        hash: spec.hash.clone(),
                        path: spec.path.clone(),
                        what: "download",
                        expected: "a complete transfer".into(),
                        actual: "a broken connection".into(),
                    });
                }
            };
            if n == 0 {
                break;
            }
            chash.update(&buf[..n]);
            tmp.write_all(&buf[..n]).map_err(Error::io(tmp.path()))?;
        }
        tmp.flush().map_err(Error::io(tmp.path()))?;
        let bad = |what: &'static str, expected: &str, actual: String| Error::PayloadHash {
            hash: spec.hash.clone(),
            path: spec.path.clone(),
            what,
            expected: expected.to_owned(),
            actual,
        };
        let got = hex::encode(chash.finalize());
        if let Some(c) = &spec.chash
            && *c != got
        {
            return Err(bad("chash", c, got));
        }
        let (sha1, sha512, size) = match hash_content(tmp.path()) {
            Ok(x) => x,
            Err(e) => return Err(bad("gzip", "a valid gzip stream", e.to_string())),
        };
        if let Some(s) = &spec.sha512t_256
            && *s != sha512
        {
            return Err(bad("file:sha512t_256", s, sha512));
        }
        if sha1 != spec.hash {
            return Err(bad("sha1", &spec.hash, sha1));
        }
        if let Some(n) = spec.size
            && n != size
        {
            return Err(bad("size", &n.to_string(), size.to_string()));
        }
        tmp.persist(&dest).map_err(|e| Error::Io {
            path: dest.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// Counts from [`PayloadCache::fetch_all`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Payloads already in the cache.
    pub cached: usize,
    /// Payloads downloaded.
    pub downloaded: usize,
    /// Payloads that failed verification once and were fetched again.
    pub refetched: usize,
}

/// SHA-1, SHA-512/256 and size of a gzip file's content, decoded as a stream.
fn hash_content(path: &Path) -> io::Result<(String, String, u64)> {
    let f = fs::File::open(path)?;
    let mut dec = GzDecoder::new(io::BufReader::with_capacity(1 << 16, f));
    let (mut s1, mut s5) = (Sha1::new(), Sha512_256::new());
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = dec.read(&mut buf)?;
        if n == 0 {
            break;
        }
        s1.update(&buf[..n]);
        s5.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(s1.finalize()), hex::encode(s5.finalize()), size))
}
