//! [`IpsPayload`]: the entry point. Loads and verifies each publisher's catalog, resolves the
//! request, fetches and verifies manifests and payloads (in parallel, cached by hash),
//! installs into the staging tree and writes `/var/pkg`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha1::{Digest, Sha1};

use super::Error;
use super::action::parse_manifest;
use super::catalog::PublisherCatalog;
use super::fetch::{FetchStats, PayloadCache, PayloadSpec};
use super::fmri::Fmri;
use super::image::{ImagePublisher, write_image};
use super::install::{InstallCounts, PackageContent, install, mediations};
use super::layer;
use super::origin::{ClientCert, Origin, TlsSettings};
use super::resolve::{Resolution, resolve};
use super::varcet::Varcets;
use crate::seed::Seed;
use crate::stage::{StagePath, StagingTree};

/// A publisher and the origin it is read from, in search order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publisher {
    /// Prefix (`omnios`).
    pub name: String,
    /// `file:///path/to/repo`, `http://host:port/` or `https://…`.
    pub origin: String,
    /// TLS client certificate for depots that require one.
    pub client_cert: Option<ClientCert>,
}

/// Installs IPS packages natively (no `pkg` binary) into a staging tree.
#[derive(Debug, Clone)]
pub struct IpsPayload {
    /// Publishers in search order.
    pub publishers: Vec<Publisher>,
    /// Installed first and constrains everything else (`entire@11-151054`).
    pub incorporation: Option<String>,
    /// Further packages (`name` or `name@version`, version matched at its precision).
    pub packages: Vec<String>,
    /// Image variants by full name (`variant.arch` → `i386`); unset ones get pkg's defaults
    /// (`i386`, zone `global`, imagetype `full`).
    pub variants: BTreeMap<String, String>,
    /// Image facets by full name or pattern (`facet.doc.*` → false).
    pub facets: BTreeMap<String, bool>,
    /// PEM files of extra trust anchors for HTTPS origins (added to the Mozilla roots).
    pub ca_certs: Vec<PathBuf>,
    /// Payload cache kept across builds; `None` uses a temporary one.
    pub cache_dir: Option<PathBuf>,
    /// Downloads at a time.
    pub parallel_downloads: usize,
    /// Time for mtimes without a `timestamp` attribute, install dates, `lastchg`.
    pub source_date_epoch: i64,
    /// Seed for the publisher UUIDs in `pkg5.image`.
    pub seed: Seed,
    /// Write `/var/pkg` (image format 4).
    pub write_image_metadata: bool,
    /// Also install the incorporation's `type=optional` dependencies that apply to the image
    /// (what kayak does for OmniOS install images; pkg itself never installs them).
    pub with_optional: bool,
    /// The packages the tree already holds, installed by the layer below with these same
    /// settings (a base's payload stage); empty when the tree is fresh. Only the packages
    /// added to them are installed when that gives what a whole install gives (see
    /// `layer`); otherwise the tree is emptied and everything is installed.
    pub below: Vec<String>,
}

impl Default for IpsPayload {
    fn default() -> Self {
        IpsPayload {
            publishers: Vec::new(),
            incorporation: None,
            packages: Vec::new(),
            variants: BTreeMap::new(),
            facets: BTreeMap::new(),
            ca_certs: Vec::new(),
            cache_dir: None,
            parallel_downloads: 8,
            source_date_epoch: 0,
            seed: Seed::new("forger-ips"),
            write_image_metadata: true,
            with_optional: false,
            below: Vec::new(),
        }
    }
}

/// What [`IpsPayload::install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallReport {
    /// Installed FMRIs (`pkg://pub/stem@version`), stems in order.
    pub installed: Vec<String>,
    /// Counts of delivered actions.
    pub counts: InstallCounts,
    /// Payload cache hits and downloads.
    pub fetch: FetchStats,
}

impl IpsPayload {
    /// The image's variants and facets with pkg's creation defaults filled in.
    pub fn varcets(&self) -> Varcets {
        let mut variants = BTreeMap::from([
            ("variant.arch".to_owned(), "i386".to_owned()),
            ("variant.opensolaris.zone".to_owned(), "global".to_owned()),
            (
                "variant.opensolaris.imagetype".to_owned(),
                "full".to_owned(),
            ),
        ]);
        for (k, v) in &self.variants {
            let k = if k.starts_with("variant.") {
                k.clone()
            } else {
                format!("variant.{k}")
            };
            variants.insert(k, v.clone());
        }
        let facets = self
            .facets
            .iter()
            .map(|(k, v)| {
                let k = if k.starts_with("facet.") {
                    k.clone()
                } else {
                    format!("facet.{k}")
                };
                (k, *v)
            })
            .collect();
        Varcets { variants, facets }
    }

    /// Resolves, fetches and installs into `tree`.
    pub fn install(&self, tree: &mut StagingTree) -> Result<InstallReport, Error> {
        let varcets = self.varcets();
        let mut origins = Vec::new();
        let mut catalogs = Vec::new();
        for p in &self.publishers {
            let tls = TlsSettings {
                ca_certs: self.ca_certs.clone(),
                client_cert: p.client_cert.clone(),
            };
            let o = Origin::open(&p.origin, &p.name, &tls)?;
            catalogs.push(PublisherCatalog::load(&p.name, |name| {
                o.catalog_file(name)
            })?);
            origins.push(o);
        }
        let resolution = self.resolve(&catalogs, &varcets, &self.packages)?;
        let below = match self.below.is_empty() {
            true => None,
            false => Some(self.resolve(&catalogs, &varcets, &self.below)?),
        };
        tracing::info!(packages = resolution.packages.len(), "IPS resolution done");
        let origin_of = |f: &Fmri| {
            self.publishers
                .iter()
                .position(|p| Some(p.name.as_str()) == f.publisher.as_deref())
                .expect("resolved packages come from a configured publisher")
        };
        let workers = self.parallel_downloads.max(1);
        let contents: Vec<PackageContent> = parallel_map(&resolution.packages, workers, |pkg| {
            let oi = origin_of(&pkg.fmri);
            let manifest = origins[oi].manifest(&pkg.fmri)?;
            let actual = hex::encode(Sha1::digest(&manifest));
            if let Some(expected) = &pkg.signature_sha1
                && *expected != actual
            {
                return Err(Error::ManifestHash {
                    fmri: pkg.fmri.to_string(),
                    expected: expected.clone(),
                    actual,
                });
            }
            let text = String::from_utf8_lossy(&manifest);
            let actions = parse_manifest(&text)?
                .into_iter()
                .filter(|a| varcets.includes(a))
                .collect();
            Ok(PackageContent {
                package: pkg.clone(),
                manifest,
                actions,
                origin: oi,
            })
        })?;

        // On a base's tree, only the packages the child adds, when that gives what installing
        // everything gives; only their payloads are fetched.
        let added = below
            .as_ref()
            .and_then(|b| layer::added(tree, &contents, &b.packages));
        if below.is_some() && added.is_none() {
            tracing::info!("the added IPS packages change what is installed: installing all");
            tree.clear_dir(&StagePath::root())?;
        }
        let to_install = added.as_deref().unwrap_or(&contents);

        let tmp_cache;
        let cache = match &self.cache_dir {
            Some(d) => PayloadCache::new(d)?,
            None => {
                tmp_cache = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
                PayloadCache::new(tmp_cache.path())?
            }
        };
        let jobs: Vec<(usize, PayloadSpec)> = to_install
            .iter()
            .flat_map(|c| {
                c.actions
                    .iter()
                    .filter(|a| a.kind == "file" || a.kind == "license")
                    .filter_map(|a| PayloadSpec::from_action(a).map(|s| (c.origin, s)))
            })
            .collect();
        let fetch = cache.fetch_all(&jobs, &origins, workers)?;
        tracing::info!(
            downloaded = fetch.downloaded,
            cached = fetch.cached,
            refetched = fetch.refetched,
            "IPS payloads verified"
        );
        let mut counts = install(tree, to_install, &cache, &varcets, self.source_date_epoch)?;
        // One mediation per mediator across the whole set, whatever this run installed.
        counts.mediations = mediations(&contents);
        tracing::info!(
            files = counts.files,
            bytes = counts.bytes,
            "IPS actions installed"
        );
        if self.write_image_metadata {
            let pubs: Vec<ImagePublisher> = self
                .publishers
                .iter()
                .zip(&catalogs)
                .map(|(p, c)| ImagePublisher {
                    name: &p.name,
                    origin: &p.origin,
                    catalog: c,
                })
                .collect();
            write_image(
                tree,
                &pubs,
                &contents,
                &varcets,
                &counts.mediations,
                &self.seed,
                self.source_date_epoch,
            )?;
        }
        Ok(InstallReport {
            installed: contents
                .iter()
                .map(|c| c.package.fmri.to_string())
                .collect(),
            counts,
            fetch,
        })
    }

    /// Resolves the incorporation and `packages` (with the incorporation's optional members
    /// when asked).
    fn resolve(
        &self,
        catalogs: &[PublisherCatalog],
        varcets: &Varcets,
        packages: &[String],
    ) -> Result<Resolution, Error> {
        let mut requests = Vec::new();
        for r in self.incorporation.iter().chain(packages) {
            requests.push(r.parse::<Fmri>()?);
        }
        let mut resolution = resolve(catalogs, varcets, &requests)?;
        if self.with_optional
            && let Some(inc) = self.incorporation.as_deref()
        {
            // kayak parity: add the incorporation's optional members that apply to this image
            // and exist in some catalog, then resolve again.
            let stem = inc.parse::<Fmri>()?.stem;
            let extra: Vec<Fmri> = resolution
                .packages
                .iter()
                .filter(|p| p.fmri.stem == stem)
                .flat_map(|p| p.depends.iter())
                .filter(|a| a.kind == "depend" && a.attr("type") == Some("optional"))
                .filter(|a| varcets.includes(a))
                .filter_map(|a| a.attr("fmri")?.parse::<Fmri>().ok())
                .filter(|f| catalogs.iter().any(|c| c.packages.contains_key(&f.stem)))
                .map(|f| Fmri { version: None, ..f })
                .collect();
            if !extra.is_empty() {
                requests.extend(extra);
                resolution = resolve(catalogs, varcets, &requests)?;
            }
        }
        Ok(resolution)
    }
}

/// Runs `f` on every item with at most `workers` threads; results keep the items' order.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> Result<R, Error> + Sync,
) -> Result<Vec<R>, Error> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, Error>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.min(items.len()).max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    let r = f(item);
                    let failed = r.is_err();
                    if let Ok(mut v) = results.lock() {
                        v[i] = Some(r);
                    }
                    if failed {
                        next.store(items.len(), Ordering::Relaxed);
                        return;
                    }
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    for r in results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
    {
        out.push(r?);
    }
    Ok(out)
}
