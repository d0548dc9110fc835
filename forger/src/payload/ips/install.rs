//! Executing the actions of the chosen packages into the staging tree for a fresh image, in
//! pkg's order (`shared/docs/ips.md` §4.3): dir, file, hardlink, link (one mediation per
//! mediator), then group and user (after the files, because `etc/passwd` and friends are
//! delivered as files by the base package), driver, license, legacy. Owners and groups are
//! recorded by name and resolved at the end against the image's own `etc/passwd` and
//! `etc/group`, as pkg does; nothing is `chown`ed on the host.

use std::collections::BTreeMap;

use super::Error;
use super::action::Action;
use super::catalog::CatalogPackage;
use super::driver::add_driver;
use super::fetch::PayloadCache;
use super::fmri::quote;
use super::textfile::{OwnerNames, ensure_parents, write_lines};
use super::users::{add_group, add_user, id_maps};
use super::varcet::Varcets;
use crate::stage::{Entry, EntryKind, StagePath, StagingTree};

/// Where pkg keeps image metadata inside the image.
pub const IMAGE_META: &str = "var/pkg";

/// One package to install: its catalog entry, verified manifest bytes and its actions
/// already filtered by the image's variants and facets.
#[derive(Debug, Clone)]
pub struct PackageContent {
    /// The catalog entry (FMRI with publisher and full version).
    pub package: CatalogPackage,
    /// The manifest exactly as downloaded.
    pub manifest: Vec<u8>,
    /// Actions that apply to this image.
    pub actions: Vec<Action>,
    /// Index of the origin the package comes from.
    pub origin: usize,
}

/// The mediation chosen for one mediator (recorded in `pkg5.image` `[mediators]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mediation {
    /// Mediator name (`python`, `java`, …).
    pub mediator: String,
    /// `mediator-version` of the chosen links.
    pub version: Option<String>,
    /// `mediator-implementation` of the chosen links.
    pub implementation: Option<String>,
    /// `mediator-priority` (`site`, `vendor`) or `None` for system.
    pub priority: Option<String>,
}

/// What the installation delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallCounts {
    /// Directories.
    pub dirs: usize,
    /// Regular files.
    pub files: usize,
    /// Files skipped by their `preserve` rule.
    pub preserved_skipped: usize,
    /// Hard links.
    pub hardlinks: usize,
    /// Symbolic links.
    pub links: usize,
    /// Users.
    pub users: usize,
    /// Groups.
    pub groups: usize,
    /// Drivers.
    pub drivers: usize,
    /// Licenses.
    pub licenses: usize,
    /// Legacy SVR4 package records.
    pub legacy: usize,
    /// Uncompressed payload bytes written.
    pub bytes: u64,
    /// One entry per mediator.
    pub mediations: Vec<Mediation>,
}

/// A delivering action with the FMRI of its package.
#[derive(Clone, Copy)]
struct Delivery<'a> {
    fmri: &'a CatalogPackage,
    action: &'a Action,
}

impl Delivery<'_> {
    fn name(&self) -> String {
        self.fmri.fmri.to_string()
    }

    fn req(&self, attr: &'static str) -> Result<&str, Error> {
        self.action
            .attr(attr)
            .ok_or_else(|| Error::MissingAttribute {
                fmri: self.name(),
                kind: self.action.kind.clone(),
                attr,
            })
    }

    fn path(&self) -> Result<StagePath, Error> {
        Ok(StagePath::new(self.req("path")?)?)
    }
}

/// Installs `packages` into `tree`; payloads must already be in `cache`. `epoch` is the
/// time used for mtimes without a `timestamp` attribute and for install dates.
pub fn install(
    tree: &mut StagingTree,
    packages: &[PackageContent],
    cache: &PayloadCache,
    varcets: &Varcets,
    epoch: i64,
) -> Result<InstallCounts, Error> {
    let mut counts = InstallCounts::default();
    let mut owners: OwnerNames = BTreeMap::new();
    let mut by_kind: BTreeMap<&str, Vec<Delivery>> = BTreeMap::new();
    for p in packages {
        for a in &p.actions {
            by_kind.entry(a.kind.as_str()).or_default().push(Delivery {
                fmri: &p.package,
                action: a,
            });
        }
    }
    let take = |k: &str| by_kind.get(k).cloned().unwrap_or_default();
    let mut claimed: BTreeMap<StagePath, (&str, String)> = BTreeMap::new();

    // Directories, parents first.
    let mut dirs: BTreeMap<StagePath, Delivery> = BTreeMap::new();
    for d in take("dir") {
        let p = d.path()?;
        claim(&mut claimed, &p, "dir", &d)?;
        dirs.entry(p).or_insert(d);
    }
    for (p, d) in &dirs {
        let mode = parse_mode(d)?;
        if let Some(parent) = p.parent() {
            ensure_parents(tree, &mut owners, &parent)?;
        }
        tree.ensure_dir(p, 0, 0, mode)?;
        owners.insert(p.clone(), (d.req("owner")?.into(), d.req("group")?.into()));
        counts.dirs += 1;
    }

    // Files, after resolving overlays.
    let mut files: BTreeMap<StagePath, Delivery> = BTreeMap::new();
    for f in take("file") {
        let p = f.path()?;
        match files.get(&p) {
            None => {
                claim(&mut claimed, &p, "file", &f)?;
                files.insert(p, f);
            }
            Some(prev) => {
                let (a, b) = (prev.action.attr("overlay"), f.action.attr("overlay"));
                match (a, b) {
                    (Some("allow"), Some("true")) => {
                        files.insert(p, f);
                    }
                    (Some("true"), Some("allow")) => {}
                    _ => {
                        return Err(Error::Conflict {
                            path: p.to_string(),
                            first: prev.name(),
                            second: f.name(),
                        });
                    }
                }
            }
        }
    }
    for (p, f) in &files {
        let preserve = f.action.attr("preserve");
        if matches!(preserve, Some("legacy") | Some("abandon")) && tree.manifest.get(p).is_none() {
            counts.preserved_skipped += 1;
            continue;
        }
        let hash = f
            .action
            .hash
            .as_deref()
            .ok_or_else(|| Error::MissingAttribute {
                fmri: f.name(),
                kind: "file".into(),
                attr: "hash",
            })?;
        if let Some(parent) = p.parent() {
            ensure_parents(tree, &mut owners, &parent)?;
        }
        let mut entry = Entry::file(0, 0, parse_mode(f)?);
        entry.mtime = f
            .action
            .attr("timestamp")
            .and_then(parse_timestamp)
            .unwrap_or(epoch);
        let mut src = cache.open(hash)?;
        counts.bytes += tree.write_file(p, &mut src, entry)?;
        owners.insert(p.clone(), (f.req("owner")?.into(), f.req("group")?.into()));
        counts.files += 1;
    }

    // Hard links (their targets are files delivered above).
    let mut hardlinks: BTreeMap<StagePath, Delivery> = BTreeMap::new();
    for h in take("hardlink") {
        let p = h.path()?;
        claim(&mut claimed, &p, "hardlink", &h)?;
        hardlinks.insert(p, h);
    }
    for (p, h) in &hardlinks {
        let target = h.req("target")?;
        let resolved = if target.starts_with('/') {
            StagePath::new(target).ok()
        } else {
            join_relative(&p.parent().unwrap_or_else(StagePath::root), target)
        };
        let Some(t) = resolved.filter(|t| tree.manifest.content_path(t).is_some()) else {
            return Err(Error::BadHardlink {
                path: p.to_string(),
                target: target.to_owned(),
                fmri: h.name(),
            });
        };
        if let Some(parent) = p.parent() {
            ensure_parents(tree, &mut owners, &parent)?;
        }
        tree.add_hardlink(p, &t)?;
        counts.hardlinks += 1;
    }

    // Symbolic links, one mediation per mediator.
    let links = take("link");
    let chosen = choose_mediations(&links);
    let mut placed: BTreeMap<StagePath, Delivery> = BTreeMap::new();
    for l in &links {
        if let Some(m) = l.action.attr("mediator") {
            let c = &chosen[m];
            if l.action.attr("mediator-version") != c.version.as_deref()
                || l.action.attr("mediator-implementation") != c.implementation.as_deref()
            {
                continue;
            }
        }
        let p = l.path()?;
        match placed.get(&p) {
            Some(prev) if prev.action.attr("target") == l.action.attr("target") => continue,
            Some(prev) => {
                return Err(Error::Conflict {
                    path: p.to_string(),
                    first: prev.name(),
                    second: l.name(),
                });
            }
            None => {
                claim(&mut claimed, &p, "link", l)?;
                placed.insert(p, *l);
            }
        }
    }
    for (p, l) in &placed {
        if let Some(parent) = p.parent() {
            ensure_parents(tree, &mut owners, &parent)?;
        }
        let mut e = Entry::new(
            EntryKind::Symlink {
                target: l.req("target")?.to_owned(),
            },
            0,
            0,
            0o777,
        );
        e.mtime = epoch;
        tree.add_special(p, e)?;
        owners.insert(p.clone(), ("root".into(), "root".into()));
        counts.links += 1;
    }
    counts.mediations = chosen.into_values().collect();

    for g in take("group") {
        add_group(tree, &mut owners, g.action, epoch)?;
        counts.groups += 1;
    }
    for u in take("user") {
        add_user(tree, &mut owners, u.action, epoch)?;
        counts.users += 1;
    }
    if varcets.variant("variant.opensolaris.zone") != "nonglobal" {
        for d in take("driver") {
            add_driver(tree, &mut owners, d.action, epoch)?;
            counts.drivers += 1;
        }
    }
    for l in take("license") {
        let (Some(hash), Some(name)) = (l.action.hash.as_deref(), l.action.attr("license")) else {
            continue;
        };
        let dir = StagePath::new(&format!(
            "{IMAGE_META}/license/{}",
            quote(&l.fmri.fmri.stem)
        ))?;
        ensure_parents(tree, &mut owners, &dir)?;
        let p = dir.join(&format!("license.{}", quote(name)))?;
        let mut e = Entry::file(0, 0, 0o444);
        e.mtime = epoch;
        let mut src = cache.open(hash)?;
        counts.bytes += tree.write_file(&p, &mut src, e)?;
        owners.insert(p, ("root".into(), "root".into()));
        counts.licenses += 1;
    }
    for l in take("legacy") {
        write_legacy(tree, &mut owners, &l, varcets, epoch)?;
        counts.legacy += 1;
    }

    resolve_owners(tree, &owners)?;
    stamp_dirs(tree, &owners, epoch);
    Ok(counts)
}

/// Gives the directories this installation created the build time as mtime (the staging
/// tree creates them with 0), so every installed entry carries the same reproducible time.
pub fn stamp_dirs(tree: &mut StagingTree, created: &OwnerNames, epoch: i64) {
    for p in created.keys() {
        if let Some(e) = tree.manifest.get_mut(p)
            && e.is_dir()
        {
            e.mtime = epoch;
        }
    }
}

/// Records that `path` is delivered as `kind`; a different kind from another package is a
/// conflict (identical directories are reference counted, like pkg does).
fn claim<'a>(
    claimed: &mut BTreeMap<StagePath, (&'a str, String)>,
    path: &StagePath,
    kind: &'a str,
    d: &Delivery,
) -> Result<(), Error> {
    match claimed.get(path) {
        Some((k, _)) if *k == kind && (kind == "dir" || kind == "link" || kind == "file") => Ok(()),
        Some((_, who)) => Err(Error::Conflict {
            path: path.to_string(),
            first: who.clone(),
            second: d.name(),
        }),
        None => {
            claimed.insert(path.clone(), (kind, d.name()));
            Ok(())
        }
    }
}

/// The mediation of every mediator that the links of `packages` name, as [`install`] chooses
/// them (for a layer that installs only some of the packages).
pub(super) fn mediations(packages: &[PackageContent]) -> Vec<Mediation> {
    let links: Vec<Delivery> = packages
        .iter()
        .flat_map(|p| {
            p.actions
                .iter()
                .filter(|a| a.kind == "link")
                .map(move |action| Delivery {
                    fmri: &p.package,
                    action,
                })
        })
        .collect();
    choose_mediations(&links).into_values().collect()
}

/// pkg's choice of mediation: `site` before `vendor` before unset priority, then the highest
/// `mediator-version`, then the implementation name, then its highest version.
fn choose_mediations(links: &[Delivery]) -> BTreeMap<String, Mediation> {
    let mut out: BTreeMap<String, Mediation> = BTreeMap::new();
    for l in links {
        let Some(m) = l.action.attr("mediator") else {
            continue;
        };
        let cand = Mediation {
            mediator: m.to_owned(),
            version: l.action.attr("mediator-version").map(str::to_owned),
            implementation: l.action.attr("mediator-implementation").map(str::to_owned),
            priority: l.action.attr("mediator-priority").map(str::to_owned),
        };
        let better = match out.get(m) {
            None => true,
            Some(cur) => mediation_key(&cand) < mediation_key(cur),
        };
        if better {
            out.insert(m.to_owned(), cand);
        }
    }
    out
}

/// Sort key where smaller is preferred.
fn mediation_key(m: &Mediation) -> (u8, std::cmp::Reverse<Option<Vec<u64>>>, Option<String>) {
    let prio = match m.priority.as_deref() {
        Some("site") => 0,
        Some("vendor") => 1,
        _ => 2,
    };
    let version = m.version.as_deref().map(|v| {
        v.split('.')
            .map(|x| x.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    (prio, std::cmp::Reverse(version), m.implementation.clone())
}

/// `dir/rel` with `.` and `..` resolved; `None` when it leaves the image.
fn join_relative(dir: &StagePath, rel: &str) -> Option<StagePath> {
    let mut parts: Vec<&str> = dir.as_str().split('/').filter(|s| !s.is_empty()).collect();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    StagePath::new(&parts.join("/")).ok()
}

fn parse_mode(d: &Delivery) -> Result<u32, Error> {
    let m = d.req("mode")?;
    u32::from_str_radix(m, 8).map_err(|_| Error::BadAction {
        line: d.action.to_string(),
        offset: 0,
        reason: "mode is not an octal number",
    })
}

/// `YYYYMMDDTHHMMSSZ` → seconds since the epoch.
fn parse_timestamp(t: &str) -> Option<i64> {
    if t.len() != 16 {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (h, mi, s) = (n(9..11)?, n(11..13)?, n(13..15)?);
    // Days from civil (Howard Hinnant).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// The SVR4 `pkginfo` record of a `legacy` action.
fn write_legacy(
    tree: &mut StagingTree,
    owners: &mut OwnerNames,
    l: &Delivery,
    varcets: &Varcets,
    epoch: i64,
) -> Result<(), Error> {
    let pkg = l.req("pkg")?;
    let a = l.action;
    let version = l.fmri.version().to_string();
    let summary = l
        .fmri
        .summary
        .iter()
        .find(|s| s.set_name() == Some("pkg.summary"))
        .and_then(|s| s.attr("value"))
        .unwrap_or("");
    let name: String = a
        .attr("name")
        .unwrap_or(summary)
        .chars()
        .take(256)
        .collect();
    let (y, mo, d, h, mi, _) = super::catalog::civil(epoch);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let fields = [
        (
            "ARCH",
            a.attr("arch")
                .unwrap_or(varcets.variant("variant.arch"))
                .to_owned(),
        ),
        ("BASEDIR", "/".to_owned()),
        (
            "CATEGORY",
            a.attr("category").unwrap_or("system").to_owned(),
        ),
        ("DESC", a.attr("desc").unwrap_or("").to_owned()),
        ("HOTLINE", a.attr("hotline").unwrap_or("").to_owned()),
        ("NAME", name),
        ("PKG", pkg.to_owned()),
        ("PKGINST", pkg.to_owned()),
        ("PSTAMP", a.attr("pstamp").unwrap_or("").to_owned()),
        (
            "SUNW_PRODVERS",
            a.attr("sunw_prodvers").unwrap_or("").to_owned(),
        ),
        ("VENDOR", a.attr("vendor").unwrap_or("").to_owned()),
        (
            "VERSION",
            a.attr("version").map(str::to_owned).unwrap_or(version),
        ),
    ];
    let mut lines: Vec<String> = fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    lines.push(format!(
        "INSTDATE={} {d:02} {y} {h:02}:{mi:02}",
        MONTHS[(mo - 1) as usize]
    ));
    let path = format!("var/sadm/pkg/{pkg}/pkginfo");
    write_lines(tree, owners, &path, &lines, ("root", "root", 0o644), epoch)?;
    let contents = StagePath::new("var/sadm/install")?;
    if tree.manifest.get(&contents).is_some_and(Entry::is_dir) {
        let p = "var/sadm/install/contents";
        let existing = super::textfile::read_lines(tree, p)?.unwrap_or_default();
        write_lines(tree, owners, p, &existing, ("root", "root", 0o644), epoch)?;
    }
    Ok(())
}

/// illumos's fixed system accounts, used only when the image has no `etc/passwd` or
/// `etc/group` at all (a package set without the base system).
const SYSTEM_USERS: [(&str, u32); 5] = [
    ("root", 0),
    ("daemon", 1),
    ("bin", 2),
    ("sys", 3),
    ("adm", 4),
];
const SYSTEM_GROUPS: [(&str, u32); 8] = [
    ("root", 0),
    ("other", 1),
    ("bin", 2),
    ("sys", 3),
    ("adm", 4),
    ("staff", 10),
    ("daemon", 12),
    ("sysadmin", 14),
];

/// Sets uid/gid of every recorded path from the image's own passwd/group.
pub(super) fn resolve_owners(tree: &mut StagingTree, owners: &OwnerNames) -> Result<(), Error> {
    let (mut users, mut groups) = id_maps(tree)?;
    if users.is_empty() {
        users = SYSTEM_USERS
            .iter()
            .map(|(n, i)| ((*n).to_owned(), *i))
            .collect();
    }
    if groups.is_empty() {
        groups = SYSTEM_GROUPS
            .iter()
            .map(|(n, i)| ((*n).to_owned(), *i))
            .collect();
    }
    for (p, (u, g)) in owners {
        let uid = u.parse().ok().or_else(|| users.get(u).copied());
        let gid = g.parse().ok().or_else(|| groups.get(g).copied());
        let uid = uid.ok_or_else(|| Error::UnknownOwner {
            path: p.to_string(),
            what: "user",
            what_file: "passwd",
            name: u.clone(),
        })?;
        let gid = gid.ok_or_else(|| Error::UnknownOwner {
            path: p.to_string(),
            what: "group",
            what_file: "group",
            name: g.clone(),
        })?;
        // A hard-linked file's metadata lives on the first name of its inode group.
        let p = tree
            .manifest
            .content_path(p)
            .cloned()
            .unwrap_or_else(|| p.clone());
        if let Some(e) = tree.manifest.get_mut(&p) {
            e.uid = uid;
            e.gid = gid;
        }
    }
    let links: Vec<(StagePath, StagePath)> = tree
        .manifest
        .iter()
        .filter_map(|(p, e)| match &e.kind {
            EntryKind::Hardlink { target } => Some((p.clone(), target.clone())),
            _ => None,
        })
        .collect();
    for (p, t) in links {
        let Some(src) = tree.manifest.get(&t).cloned() else {
            continue;
        };
        if let Some(e) = tree.manifest.get_mut(&p) {
            e.uid = src.uid;
            e.gid = src.gid;
            e.mode = src.mode;
            e.mtime = src.mtime;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_to_epoch_seconds() {
        assert_eq!(parse_timestamp("19700101T000000Z"), Some(0));
        assert_eq!(parse_timestamp("20161224T161749Z"), Some(1_482_596_269));
    }

    #[test]
    fn relative_hardlink_targets() {
        let d = StagePath::new("usr/bin").unwrap();
        assert_eq!(join_relative(&d, "../lib/x").unwrap().as_str(), "usr/lib/x");
        assert_eq!(join_relative(&d, "y").unwrap().as_str(), "usr/bin/y");
        assert!(join_relative(&d, "../../../x").is_none());
    }

    #[test]
    fn mediation_prefers_site_then_highest_version() {
        let m = |v: &str, p: Option<&str>| Mediation {
            mediator: "python".into(),
            version: Some(v.into()),
            implementation: None,
            priority: p.map(Into::into),
        };
        assert!(mediation_key(&m("3.11", None)) < mediation_key(&m("3.9", None)));
        assert!(mediation_key(&m("3.9", Some("vendor"))) < mediation_key(&m("3.11", None)));
    }
}
