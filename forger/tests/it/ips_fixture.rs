//! Test fixtures for the native IPS client: a builder that writes pkg5 v4 repositories in the
//! exact on-disk layout (`shared/docs/ips.md` §1: `pkg5.repository`, gzip payloads named by
//! the SHA-1 of their content under `file/<h[0:2]>/<h>`, manifests under
//! `pkg/<quote(stem)>/<quote(version)>`, signed v1 catalogs), and a small read-only HTTP
//! depot (§2 paths) served on 127.0.0.1 from such a repository.
//!
//! The catalog writer here is deliberately independent of the library's: it uses serde_json
//! over `BTreeMap`s (sorted keys, compact) and splices `_SIGNATURE` in as pkg5 does.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use flate2::Compression;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sha2::Sha512_256;

/// `urllib.parse.quote(s, safe="")`.
pub fn quote(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn sha1_hex(b: &[u8]) -> String {
    hex::encode(Sha1::digest(b))
}

/// One line of a fixture manifest.
pub enum Line {
    /// An action written verbatim.
    Raw(String),
    /// A `file` action; hashes and sizes are computed from `content`.
    File {
        path: String,
        mode: String,
        owner: String,
        group: String,
        extra: String,
        content: Vec<u8>,
    },
    /// A `license` action with its text.
    License { name: String, content: Vec<u8> },
}

pub fn raw(s: &str) -> Line {
    Line::Raw(s.to_owned())
}

pub fn file(path: &str, mode: &str, owner: &str, group: &str, extra: &str, content: &[u8]) -> Line {
    Line::File {
        path: path.into(),
        mode: mode.into(),
        owner: owner.into(),
        group: group.into(),
        extra: extra.into(),
        content: content.to_vec(),
    }
}

/// A repository being built.
pub struct RepoBuilder {
    pub root: PathBuf,
    pub publisher: String,
    /// stem → version → manifest text.
    manifests: BTreeMap<String, BTreeMap<String, String>>,
}

impl RepoBuilder {
    pub fn new(root: &Path, publisher: &str) -> Self {
        RepoBuilder {
            root: root.to_owned(),
            publisher: publisher.to_owned(),
            manifests: BTreeMap::new(),
        }
    }

    fn pub_dir(&self) -> PathBuf {
        self.root.join("publisher").join(&self.publisher)
    }

    /// Stores a gzip payload (pkg's fixed header: no name, mtime 0, OS 255) and returns the
    /// action attributes describing it.
    fn payload(&self, content: &[u8]) -> (String, String) {
        let mut enc = flate2::GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), Compression::best());
        enc.write_all(content).unwrap();
        let gz = enc.finish().unwrap();
        let hash = sha1_hex(content);
        let dir = self.pub_dir().join("file").join(&hash[..2]);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&hash), &gz).unwrap();
        let attrs = format!(
            "chash={} pkg.content-hash=file:sha512t_256:{} pkg.content-hash=gzip:sha512t_256:{} pkg.csize={} pkg.size={}",
            sha1_hex(&gz),
            hex::encode(Sha512_256::digest(content)),
            hex::encode(Sha512_256::digest(&gz)),
            gz.len(),
            content.len()
        );
        (hash, attrs)
    }

    /// Adds a package `stem@version` (version with timestamp) with `lines`.
    pub fn add(&mut self, stem: &str, version: &str, lines: Vec<Line>) -> &mut Self {
        let mut text = format!(
            "set name=pkg.fmri value=pkg://{}/{stem}@{version}\n",
            self.publisher
        );
        for l in lines {
            let line = match l {
                Line::Raw(s) => s,
                Line::File {
                    path,
                    mode,
                    owner,
                    group,
                    extra,
                    content,
                } => {
                    let (hash, attrs) = self.payload(&content);
                    let extra = if extra.is_empty() {
                        String::new()
                    } else {
                        format!(" {extra}")
                    };
                    format!(
                        "file {hash} {attrs} group={group} mode={mode} owner={owner} path={path}{extra}"
                    )
                }
                Line::License { name, content } => {
                    let (hash, attrs) = self.payload(&content);
                    format!("license {hash} {attrs} license={name}")
                }
            };
            text.push_str(&line);
            text.push('\n');
        }
        self.manifests
            .entry(stem.to_owned())
            .or_default()
            .insert(version.to_owned(), text);
        self
    }

    /// Writes manifests, `pkg5.repository` and the signed catalog.
    pub fn finish(&self) {
        std::fs::create_dir_all(self.pub_dir().join("catalog")).unwrap();
        std::fs::write(
            self.root.join("pkg5.repository"),
            format!(
                "[publisher]\nprefix = {}\n\n[repository]\nversion = 4\n\n[CONFIGURATION]\nversion = 4\n\n",
                self.publisher
            ),
        )
        .unwrap();
        let ts = "20250101T000000.000001Z";
        let mut base: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut dep: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut summ: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut versions = 0;
        for (stem, vers) in &self.manifests {
            // Catalog entries ascend by version; the fixture's versions are added in order.
            for (v, text) in vers {
                versions += 1;
                let dir = self.pub_dir().join("pkg").join(quote(stem));
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(quote(v)), text).unwrap();
                base.entry(stem.clone()).or_default().push(json!({
                    "signature-sha-1": sha1_hex(text.as_bytes()), "version": v }));
                let (mut d, mut s) = (Vec::new(), Vec::new());
                for l in text.lines() {
                    let name = l
                        .split_whitespace()
                        .find_map(|t| t.strip_prefix("name="))
                        .unwrap_or("");
                    if l.starts_with("depend ") {
                        d.push(l.to_owned());
                    } else if l.starts_with("set ") {
                        if name.starts_with("variant")
                            || name.starts_with("facet")
                            || name.starts_with("pkg.depend.")
                            || ["pkg.obsolete", "pkg.renamed", "pkg.legacy"].contains(&name)
                        {
                            d.push(l.to_owned());
                        } else if !["pkg.fmri", "fmri", "publisher"].contains(&name) {
                            s.push(l.to_owned());
                        }
                    }
                }
                if !d.is_empty() {
                    dep.entry(stem.clone())
                        .or_default()
                        .push(json!({"actions": d, "version": v}));
                }
                if !s.is_empty() {
                    summ.entry(stem.clone())
                        .or_default()
                        .push(json!({"actions": s, "version": v}));
                }
            }
        }
        let mut parts = BTreeMap::new();
        for (name, data) in [
            ("catalog.base.C", base),
            ("catalog.dependency.C", dep),
            ("catalog.summary.C", summ),
        ] {
            let doc = BTreeMap::from([(self.publisher.clone(), data)]);
            let sig = write_signed(&self.pub_dir().join("catalog").join(name), &doc);
            parts.insert(
                name.to_owned(),
                json!({"last-modified": ts, "signature-sha-1": sig}),
            );
        }
        let attrs = json!({
            "created": ts, "last-modified": ts,
            "package-count": self.manifests.len(), "package-version-count": versions,
            "parts": parts, "updates": {}, "version": 1,
        });
        write_signed(
            &self.pub_dir().join("catalog").join("catalog.attrs"),
            &attrs,
        );
    }
}

/// pkg5's catalog writer: compact sorted JSON + `\n`, SHA-1 of that, `_SIGNATURE` spliced in.
fn write_signed(path: &Path, doc: &impl serde::Serialize) -> String {
    // Round-trip through BTreeMaps so keys are sorted whatever serde_json's map type is.
    let v: Value = serde_json::to_value(doc).unwrap();
    let mut text = sorted(&v);
    text.push('\n');
    let sig = sha1_hex(text.as_bytes());
    text.truncate(text.len() - 2);
    text.push_str(&format!(",\"_SIGNATURE\":{{\"sha-1\":\"{sig}\"}}}}\n"));
    std::fs::write(path, text).unwrap();
    sig
}

fn sorted(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<&String, String> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
            let items: Vec<String> = b
                .iter()
                .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(sorted).collect::<Vec<_>>().join(",")),
        other => serde_json::to_string(other).unwrap(),
    }
}

/// A read-only depot on 127.0.0.1 serving one repository.
pub struct Depot {
    pub url: String,
    /// Requests served, by path.
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Payload requests to corrupt (the first N payload responses are damaged).
    pub corrupt_next: Arc<AtomicUsize>,
}

impl Depot {
    /// A depot that only knows `/<op>/…` paths for its default publisher and advertises
    /// `publisher 0`, like an old `pkg.depotd`.
    pub fn start_without_prefix(root: &Path, publisher: &str) -> Depot {
        Self::start_with(root, publisher, false)
    }

    pub fn start(root: &Path, publisher: &str) -> Depot {
        Self::start_with(root, publisher, true)
    }

    fn start_with(root: &Path, publisher: &str, prefix: bool) -> Depot {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let corrupt_next = Arc::new(AtomicUsize::new(0));
        let (root, publisher) = (root.to_owned(), publisher.to_owned());
        let (r2, c2) = (requests.clone(), corrupt_next.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_nodelay(true);
                let (root, publisher, r, c) =
                    (root.clone(), publisher.clone(), r2.clone(), c2.clone());
                std::thread::spawn(move || serve(stream, &root, &publisher, &r, &c, prefix));
            }
        });
        Depot {
            url,
            requests,
            corrupt_next,
        }
    }
}

fn serve<S: Read + Write>(
    stream: S,
    root: &Path,
    publisher: &str,
    requests: &Mutex<Vec<String>>,
    corrupt: &AtomicUsize,
    prefix: bool,
) {
    let mut reader = BufReader::new(stream);
    // Keep-alive: serve requests until the client closes.
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_owned();
        requests.lock().unwrap().push(path.clone());
        let mut segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if prefix && segs.first() == Some(&publisher) {
            segs.remove(0);
        }
        let pub_dir = root.join("publisher").join(publisher);
        let body: Option<Vec<u8>> = match segs.as_slice() {
            ["versions", "0", ..] => Some(
                format!(
                    "pkg-server test\ncatalog 1\nfile 0 1\nmanifest 0\npublisher 0{}\nversions 0\n",
                    if prefix { " 1" } else { "" }
                )
                .into_bytes(),
            ),
            ["catalog", "1", name] => std::fs::read(pub_dir.join("catalog").join(name)).ok(),
            ["manifest", "0", spec] => spec
                .split_once('@')
                .and_then(|(s, v)| std::fs::read(pub_dir.join("pkg").join(s).join(v)).ok()),
            ["file", "0", hash] if hash.len() > 2 => {
                let b = std::fs::read(pub_dir.join("file").join(&hash[..2]).join(hash)).ok();
                b.map(|mut b| {
                    if corrupt
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok()
                    {
                        let mid = b.len() / 2;
                        b[mid] ^= 0xff;
                    }
                    b
                })
            }
            _ => None,
        };
        let (status, body) = match body {
            Some(b) => ("200 OK", b),
            None => ("404 Not Found", b"not found\n".to_vec()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/data\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        // One write per response: separate small writes stall on Nagle + delayed ACK.
        let mut response = head.into_bytes();
        response.extend_from_slice(&body);
        let out = reader.get_mut();
        if out.write_all(&response).is_err() || out.flush().is_err() {
            return;
        }
    }
}

/// TLS material for an HTTPS depot: server certificate and key (PEM), and the CA whose
/// client certificates it requires (`None`: no client authentication).
pub struct TlsDepotConfig<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    pub client_ca: Option<&'a Path>,
}

impl Depot {
    /// Like [`Depot::start`], over HTTPS.
    pub fn start_tls(root: &Path, publisher: &str, tls: TlsDepotConfig) -> Depot {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(tls.cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(tls.key).unwrap();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match tls.client_ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(ca).unwrap() {
                    roots.add(c.unwrap()).unwrap();
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = Arc::new(builder.with_single_cert(certs, key).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let corrupt_next = Arc::new(AtomicUsize::new(0));
        let (root, publisher) = (root.to_owned(), publisher.to_owned());
        let (r2, c2) = (requests.clone(), corrupt_next.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_nodelay(true);
                let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let (root, publisher, r, c) =
                    (root.clone(), publisher.clone(), r2.clone(), c2.clone());
                std::thread::spawn(move || {
                    serve(
                        rustls::StreamOwned::new(conn, stream),
                        &root,
                        &publisher,
                        &r,
                        &c,
                        true,
                    )
                });
            }
        });
        Depot {
            url,
            requests,
            corrupt_next,
        }
    }
}
