//! Reading one publisher's data from an origin: a pkg5 v4 repository on disk (`file://`,
//! layout in `shared/docs/ips.md` §1) or a depot over HTTP(S) (paths in §2). Both give the
//! same three things: catalog files, manifests (exact bytes), and gzip payloads by SHA-1.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::Error;
use super::fmri::Fmri;

/// What the client says it is (depots log it; pkg sends `pkg/<version> (<os> …)`).
const USER_AGENT: &str = concat!(
    "pkg/forger-",
    env!("CARGO_PKG_VERSION"),
    " (forger native IPS client)"
);

/// A client certificate for depots that require TLS client authentication (pkg's
/// `set-publisher -c cert -k key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// TLS settings of an HTTPS origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM files of extra trust anchors, added to the Mozilla roots.
    pub ca_certs: Vec<PathBuf>,
    /// The client certificate, when the depot asks for one.
    pub client_cert: Option<ClientCert>,
}

impl TlsSettings {
    /// The rustls client configuration for these settings.
    fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for path in &self.ca_certs {
            for cert in pem_certs(path)? {
                roots.add(cert).map_err(|source| Error::Tls {
                    source: Box::new(source),
                })?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| Error::Tls {
                source: Box::new(source),
            })?
            .with_root_certificates(roots);
        let config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some(c) => {
                let chain = pem_certs(&c.cert)?;
                let key = PrivateKeyDer::from_pem_file(&c.key).map_err(|source| Error::Pem {
                    path: c.key.clone(),
                    source,
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|source| Error::Tls {
                        source: Box::new(source),
                    })?
            }
        };
        Ok(Arc::new(config))
    }
}

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = |source| Error::Pem {
        path: path.to_owned(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(pem(rustls::pki_types::pem::Error::NoItemsFound));
    }
    Ok(certs)
}

/// A source of repository data for one publisher.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A pkg5 v4 repository on disk.
    File {
        /// Repository root (holds `pkg5.repository`).
        root: PathBuf,
        /// Publisher prefix.
        publisher: String,
    },
    /// A depot (pkg.depotd or compatible) over HTTP(S).
    Http {
        /// Base URL including the publisher prefix path, without trailing `/`.
        base: String,
        /// The shared HTTP agent (connection pool).
        agent: ureq::Agent,
    },
}

impl Origin {
    /// Opens `origin` (`file:///…`, `http://…`, `https://…`) for `publisher`; `tls` applies
    /// to HTTPS origins.
    pub fn open(origin: &str, publisher: &str, tls: &TlsSettings) -> Result<Origin, Error> {
        if let Some(path) = origin.strip_prefix("file://") {
            let root = PathBuf::from(super::fmri::unquote(path).unwrap_or_else(|| path.to_owned()));
            if !root.join("pkg5.repository").is_file()
                || !root.join("publisher").join(publisher).is_dir()
            {
                return Err(Error::NotARepository {
                    root,
                    publisher: publisher.to_owned(),
                });
            }
            return Ok(Origin::File {
                root,
                publisher: publisher.to_owned(),
            });
        }
        if origin.starts_with("http://") || origin.starts_with("https://") {
            let trimmed = origin.trim_end_matches('/');
            let mut agent = ureq::AgentBuilder::new();
            if origin.starts_with("https://") {
                agent = agent.tls_config(tls.client_config()?);
            }
            let agent = agent
                .timeout_connect(Duration::from_secs(30))
                .timeout_read(Duration::from_secs(300))
                .user_agent(USER_AGENT)
                .build();
            // As pkg's transport does: the publisher prefix goes into the URL when the depot
            // advertises `publisher 1` (or does not answer `versions/0`) and the origin does
            // not already end in it.
            let versions = get_bytes(&agent, &format!("{trimmed}/versions/0/"))
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let prefixed = versions.as_deref().is_none_or(|v| {
                v.lines().any(|l| {
                    let mut it = l.split_whitespace();
                    it.next() == Some("publisher") && it.any(|n| n == "1")
                })
            });
            let base = if trimmed.ends_with(&format!("/{publisher}")) || !prefixed {
                trimmed.to_owned()
            } else {
                format!("{trimmed}/{publisher}")
            };
            return Ok(Origin::Http { base, agent });
        }
        Err(Error::BadOrigin {
            origin: origin.to_owned(),
        })
    }

    /// A catalog file (`catalog.attrs`, `catalog.base.C`, …), as stored.
    pub fn catalog_file(&self, name: &str) -> Result<Vec<u8>, Error> {
        match self {
            Origin::File { root, publisher } => read(
                &root
                    .join("publisher")
                    .join(publisher)
                    .join("catalog")
                    .join(name),
            ),
            Origin::Http { base, agent } => get_bytes(agent, &format!("{base}/catalog/1/{name}")),
        }
    }

    /// A manifest, byte for byte. `fmri` must carry a full version.
    pub fn manifest(&self, fmri: &Fmri) -> Result<Vec<u8>, Error> {
        match self {
            Origin::File { root, publisher } => {
                let rel = fmri.dir_path().ok_or_else(|| Error::BadFmri {
                    fmri: fmri.to_string(),
                })?;
                read(&root.join("publisher").join(publisher).join("pkg").join(rel))
            }
            Origin::Http { base, agent } => {
                let rel = fmri.url_path().ok_or_else(|| Error::BadFmri {
                    fmri: fmri.to_string(),
                })?;
                get_bytes(agent, &format!("{base}/manifest/0/{rel}"))
            }
        }
    }

    /// A stream of the stored (gzip) payload named by its SHA-1.
    pub fn payload(&self, hash: &str) -> Result<Box<dyn Read + Send>, Error> {
        match self {
            Origin::File { root, publisher } => {
                let path = file_store_path(root, publisher, hash);
                let f = fs::File::open(&path).map_err(Error::io(&path))?;
                Ok(Box::new(f))
            }
            Origin::Http { base, agent } => {
                let url = format!("{base}/file/0/{hash}");
                Ok(Box::new(get(agent, &url)?.into_reader()))
            }
        }
    }
}

/// Where a repository keeps a payload: the publisher's `file/` then the shared one, in the
/// V1 layout (`h[0:2]/h`) then the old V0 layout (`h[0:2]/h[2:8]/h`). Returns the first
/// existing path, or the publisher V1 path when none exists (so the error names it).
fn file_store_path(root: &Path, publisher: &str, hash: &str) -> PathBuf {
    let (a, b) = (hash.get(..2).unwrap_or(hash), hash.get(2..8).unwrap_or(""));
    let stores = [
        root.join("publisher").join(publisher).join("file"),
        root.join("file"),
    ];
    let mut first = None;
    for store in &stores {
        for p in [store.join(a).join(hash), store.join(a).join(b).join(hash)] {
            if p.is_file() {
                return p;
            }
            first.get_or_insert(p);
        }
    }
    first.expect("at least one candidate path")
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(Error::io(path))
}

fn get(agent: &ureq::Agent, url: &str) -> Result<ureq::Response, Error> {
    match agent.get(url).call() {
        Ok(r) => Ok(r),
        Err(ureq::Error::Status(status, _)) => Err(Error::HttpStatus {
            url: url.to_owned(),
            status,
        }),
        Err(e) => Err(Error::Http {
            url: url.to_owned(),
            source: Box::new(e),
        }),
    }
}

fn get_bytes(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    get(agent, url)?
        .into_reader()
        .read_to_end(&mut out)
        .map_err(|e| Error::Http {
            url: url.to_owned(),
            source: Box::new(ureq::Error::from(e)),
        })?;
    Ok(out)
}
