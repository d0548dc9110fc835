//! `/var/pkg` of the installed image in image format 4 (`shared/docs/ips.md` §5): `pkg5.image`
//! (publishers, variants, facets, mediators), the unsigned `state/known` and
//! `state/installed` catalogs, each publisher's catalog files byte for byte, the installed
//! manifests byte for byte under `publisher/<pub>/pkg/<quote(stem)>/<quote(version)>`, and the
//! empty directories `pkg image-create` makes. Search indexes and manifest caches are left
//! for pkg to regenerate on demand.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Error;
use super::catalog::{PublisherCatalog, basic_timestamp, canonical_json};
use super::fmri::quote;
use super::install::{IMAGE_META, Mediation, PackageContent};
use super::textfile::{OwnerNames, ensure_parents};
use super::varcet::Varcets;
use crate::seed::Seed;
use crate::stage::{Entry, StagePath, StagingTree};

/// Package state codes of pkg5's `pkgdefs.py` used in state catalogs.
pub const STATE_KNOWN: u64 = 0;
/// Installed.
pub const STATE_INSTALLED: u64 = 2;
/// A newer version is known.
pub const STATE_UPGRADABLE: u64 = 4;
/// The entry came from a v1 catalog.
pub const STATE_V1: u64 = 7;
/// Obsolete.
pub const STATE_OBSOLETE: u64 = 8;
/// Renamed.
pub const STATE_RENAMED: u64 = 9;

/// The directories `image.py mkdirs()` creates under `/var/pkg`.
const IMAGE_DIRS: [&str; 10] = [
    "cache/index",
    "cache/publisher",
    "cache/tmp",
    "gui_cache",
    "history",
    "license",
    "lost+found",
    "publisher",
    "ssl",
    "state/installed",
];

/// A publisher as recorded in `pkg5.image`.
#[derive(Debug, Clone)]
pub struct ImagePublisher<'a> {
    /// Prefix.
    pub name: &'a str,
    /// Origin URI as configured.
    pub origin: &'a str,
    /// Its verified catalog.
    pub catalog: &'a PublisherCatalog,
}

/// Writes `/var/pkg` for `installed` into `tree`.
pub fn write_image(
    tree: &mut StagingTree,
    publishers: &[ImagePublisher],
    installed: &[PackageContent],
    varcets: &Varcets,
    mediations: &[Mediation],
    seed: &Seed,
    epoch: i64,
) -> Result<(), Error> {
    let mut owners: OwnerNames = BTreeMap::new();
    let meta = StagePath::new(IMAGE_META)?;
    ensure_parents(tree, &mut owners, &meta)?;
    for d in IMAGE_DIRS.iter().chain(&["state/known"]) {
        ensure_parents(
            tree,
            &mut owners,
            &StagePath::new(&format!("{IMAGE_META}/{d}"))?,
        )?;
    }
    let mut put = |tree: &mut StagingTree, rel: &str, bytes: &[u8]| -> Result<(), Error> {
        let p = StagePath::new(&format!("{IMAGE_META}/{rel}"))?;
        if let Some(parent) = p.parent() {
            ensure_parents(tree, &mut owners, &parent)?;
        }
        let mut e = Entry::file(0, 0, 0o644);
        e.mtime = epoch;
        tree.write_file(&p, &mut &bytes[..], e)?;
        Ok(())
    };

    put(
        tree,
        "pkg5.image",
        pkg5_image(publishers, varcets, mediations, seed).as_bytes(),
    )?;
    for p in publishers {
        for (name, bytes) in &p.catalog.files {
            put(tree, &format!("publisher/{}/catalog/{name}", p.name), bytes)?;
        }
        put(tree, &format!("publisher/{}/last_refreshed", p.name), b"")?;
    }
    for pc in installed {
        let f = &pc.package.fmri;
        let publisher = f.publisher.as_deref().unwrap_or("");
        let rel = f.dir_path().expect("catalog FMRIs have versions");
        put(
            tree,
            &format!("publisher/{publisher}/pkg/{rel}"),
            &pc.manifest,
        )?;
    }
    let ts = basic_timestamp(epoch);
    let is_installed = |publisher: &str, stem: &str, version: &str| {
        installed.iter().any(|pc| {
            pc.package.fmri.publisher.as_deref() == Some(publisher)
                && pc.package.fmri.stem == stem
                && pc.package.version().to_string() == version
        })
    };
    for (state, only_installed) in [("known", false), ("installed", true)] {
        let parts = state_parts(publishers, &ts, only_installed, &is_installed)?;
        let mut attr_parts = serde_json::Map::new();
        let mut counts = (0u64, 0u64);
        for (name, doc) in &parts {
            if name == "catalog.base.C" {
                for (k, stems) in doc.as_object().into_iter().flatten() {
                    if k.starts_with('_') {
                        continue;
                    }
                    for versions in stems.as_object().into_iter().flatten().map(|(_, v)| v) {
                        counts.0 += 1;
                        counts.1 += versions.as_array().map_or(0, |a| a.len() as u64);
                    }
                }
            }
            attr_parts.insert(name.clone(), json!({ "last-modified": ts }));
            put(tree, &format!("state/{state}/{name}"), &canonical_json(doc))?;
        }
        let attrs = json!({
            "created": ts,
            "last-modified": ts,
            "package-count": counts.0,
            "package-version-count": counts.1,
            "parts": attr_parts,
            "updates": {},
            "version": 1,
        });
        put(
            tree,
            &format!("state/{state}/catalog.attrs"),
            &canonical_json(&attrs),
        )?;
    }
    // Everything under /var/pkg is root:root (ids given at creation); `owners` only
    // collected the directories `ensure_parents` created.
    super::install::stamp_dirs(tree, &owners, epoch);
    Ok(())
}

/// The three parts of a state catalog (unsigned), as `__rebuild_image_catalogs` makes them:
/// base entries get `metadata.states` (known, v1, installed, upgradable, obsolete, renamed);
/// dependency and summary entries are copied verbatim from the publisher's catalog.
fn state_parts(
    publishers: &[ImagePublisher],
    ts: &str,
    only_installed: bool,
    is_installed: &dyn Fn(&str, &str, &str) -> bool,
) -> Result<BTreeMap<String, Value>, Error> {
    let mut base = serde_json::Map::new();
    let mut dep = serde_json::Map::new();
    let mut summ = serde_json::Map::new();
    for p in publishers {
        let source = |part: &str| -> Result<Value, Error> {
            match p.catalog.files.get(part) {
                Some(bytes) => serde_json::from_slice(bytes).map_err(|source| Error::CatalogJson {
                    part: part.to_owned(),
                    source,
                }),
                None => Ok(Value::Null),
            }
        };
        let (src_dep, src_summ) = (
            source("catalog.dependency.C")?,
            source("catalog.summary.C")?,
        );
        let mut b = serde_json::Map::new();
        let (mut d, mut s) = (serde_json::Map::new(), serde_json::Map::new());
        for (stem, versions) in &p.catalog.packages {
            let newest = versions.last().map(|n| n.version().to_string());
            let mut bl = Vec::new();
            let mut keep = Vec::new();
            for cp in versions {
                let v = cp.version().to_string();
                let inst = is_installed(p.name, stem, &v);
                if only_installed && !inst {
                    continue;
                }
                keep.push(v.clone());
                let mut states = vec![STATE_KNOWN, STATE_V1];
                if inst {
                    states.push(STATE_INSTALLED);
                }
                if newest.as_deref() != Some(v.as_str()) {
                    states.push(STATE_UPGRADABLE);
                }
                if cp.is_obsolete() {
                    states.push(STATE_OBSOLETE);
                }
                if cp.is_renamed() {
                    states.push(STATE_RENAMED);
                }
                let mut metadata = json!({ "states": states });
                if inst {
                    metadata["last-install"] = json!(ts);
                }
                let mut entry = json!({ "version": v, "metadata": metadata });
                if let Some(sig) = &cp.signature_sha1 {
                    entry["signature-sha-1"] = json!(sig);
                }
                bl.push(entry);
            }
            if bl.is_empty() {
                continue;
            }
            b.insert(stem.clone(), Value::Array(bl));
            for (src, out) in [(&src_dep, &mut d), (&src_summ, &mut s)] {
                let entries: Vec<Value> = src[p.name][stem]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|e| {
                        e["version"]
                            .as_str()
                            .and_then(|v| v.parse::<super::version::Version>().ok())
                            .is_some_and(|v| keep.contains(&v.to_string()))
                    })
                    .cloned()
                    .collect();
                if !entries.is_empty() {
                    out.insert(stem.clone(), Value::Array(entries));
                }
            }
        }
        base.insert(p.name.to_owned(), Value::Object(b));
        dep.insert(p.name.to_owned(), Value::Object(d));
        summ.insert(p.name.to_owned(), Value::Object(s));
    }
    Ok(BTreeMap::from([
        ("catalog.base.C".to_owned(), Value::Object(base)),
        ("catalog.dependency.C".to_owned(), Value::Object(dep)),
        ("catalog.summary.C".to_owned(), Value::Object(summ)),
    ]))
}

/// Python's `repr` of a list of strings: `['a', 'b']`.
fn py_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", inner.join(", "))
}

/// The `pkg5.image` INI text.
fn pkg5_image(
    publishers: &[ImagePublisher],
    varcets: &Varcets,
    mediations: &[Mediation],
    seed: &Seed,
) -> String {
    let mut s = String::new();
    s.push_str("[image]\nversion = 4\n\n[property]\n");
    let order: Vec<&str> = publishers.iter().map(|p| p.name).collect();
    s.push_str(&format!("publisher-search-order = {}\n", py_list(&order)));
    s.push_str("\n[variant]\n");
    for (k, v) in &varcets.variants {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s.push_str("\n[facet]\n");
    for (k, v) in &varcets.facets {
        let v = if *v { "True" } else { "False" };
        s.push_str(&format!("{} = {v}\n", quote_facet(k)));
    }
    s.push_str("\n[mediators]\n");
    for m in mediations {
        let source = m.priority.as_deref().unwrap_or("system");
        if let Some(v) = &m.version {
            s.push_str(&format!(
                "{}.version = {v}\n{}.version-source = {source}\n",
                m.mediator, m.mediator
            ));
        }
        if let Some(i) = &m.implementation {
            s.push_str(&format!(
                "{}.implementation = {i}\n{}.implementation-source = {source}\n",
                m.mediator, m.mediator
            ));
        }
    }
    for p in publishers {
        s.push_str(&format!(
            "\n[authority_{name}]\nprefix = {name}\nalias = None\nsticky = True\ndisabled = False\n\
             origins = {origins}\norigin_info = [{{'uri': '{o}', 'proxy': '', 'disabled': 'false'}}]\n\
             mirrors = []\nuuid = {uuid}\n",
            name = p.name,
            origins = py_list(&[p.origin]),
            o = p.origin,
            uuid = seed.uuid(&format!("ips.publisher.{}", p.name)),
        ));
    }
    s.push_str("\n[CONFIGURATION]\nversion = 3\n");
    s
}

/// Facet keys are url-quoted in `pkg5.image` except the characters pkg leaves alone.
fn quote_facet(k: &str) -> String {
    quote(k).replace("%2A", "*").replace("%2F", "/")
}
