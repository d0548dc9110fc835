//! An IPS install on top of a base's installed tree: which packages a child adds, and whether
//! installing only those onto the base's tree gives what installing everything gives.
//!
//! The installer decides some things across the whole package set: which package's `dir`
//! attributes win, overlay and path conflicts, one mediation per mediator, and the text
//! files that `user`, `group`, `driver` and `legacy` actions edit, in an order that is not
//! per package. A layer is taken only where none of that can differ: the base's packages
//! resolve to the same versions in the child, and the added packages deliver no path the base
//! already holds (a directory only with the very attributes a base package gives it), no link
//! of a mediator the base's links name (a mediator of their own is chosen among their links
//! alone either way) and none of the editing actions. Anything else installs the whole set
//! afresh, so a layered tree is always the whole install's tree.

use std::collections::{BTreeMap, BTreeSet};

use super::action::Action;
use super::catalog::CatalogPackage;
use super::install::PackageContent;
use crate::stage::{StagePath, StagingTree};

/// Actions whose effect depends on every package of the install, not only their own.
const WHOLE_SET_KINDS: [&str; 4] = ["user", "group", "driver", "legacy"];

/// The packages of `full` that are not in `below`, when installing only them onto `tree`
/// (which holds the install of `below`) gives the install of `full`; `None` otherwise.
pub(super) fn added(
    tree: &StagingTree,
    full: &[PackageContent],
    below: &[CatalogPackage],
) -> Option<Vec<PackageContent>> {
    let (base, added): (Vec<&PackageContent>, Vec<&PackageContent>) = full
        .iter()
        .partition(|c| below.iter().any(|b| b.fmri == c.package.fmri));
    if base.len() != below.len() {
        return None; // a base package resolves to another version, or is gone
    }
    let mut base_dirs: BTreeMap<&str, &Action> = BTreeMap::new();
    let mut base_mediators = BTreeSet::new();
    for a in base.iter().flat_map(|c| &c.actions) {
        match (a.kind.as_str(), a.attr("path")) {
            ("dir", Some(path)) => {
                base_dirs.entry(path).or_insert(a);
            }
            ("link", _) => base_mediators.extend(a.attr("mediator")),
            _ => {}
        }
    }
    for a in added.iter().flat_map(|c| &c.actions) {
        if WHOLE_SET_KINDS.contains(&a.kind.as_str())
            || (a.kind == "link"
                && a.attr("mediator")
                    .is_some_and(|m| base_mediators.contains(m)))
        {
            return None;
        }
        if !matches!(a.kind.as_str(), "dir" | "file" | "link" | "hardlink") {
            continue;
        }
        let path = a.attr("path")?;
        let held = tree
            .manifest
            .get(&StagePath::new(path).ok()?)
            .map(|e| e.is_dir());
        match (held, a.kind.as_str()) {
            (None, _) => {}
            (Some(true), "dir") if base_dirs.get(path).is_some_and(|b| b.attrs == a.attrs) => {}
            _ => return None,
        }
    }
    Some(added.into_iter().cloned().collect())
}
