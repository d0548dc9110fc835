//! Composition: an image's base chain, includes and own content merged in book order
//! (`[base chain] → [includes in order] → [own blocks]`), with the union rules of the spec
//! language (kdl-language.md, "Composition"). Every front end relies on this one merge:
//! kdl-compat and the DSL only build the tree of images and fragments.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::model::{
    BuilderVm, Certificate, Customization, Facet, Fragment, Image, OverlaySet, PackageSet,
    Repositories, Variant,
};

/// The content of an image after composition, before profiles are applied. Blocks keep their
/// profile and carry the directory their relative paths resolve against.
#[derive(Debug, Clone, Default)]
pub(crate) struct Merged {
    pub incorporation: Option<String>,
    pub repositories: Repositories,
    pub certificates: Vec<(Certificate, Option<PathBuf>)>,
    pub variants: Vec<Variant>,
    pub facets: Vec<Facet>,
    pub packages: Vec<PackageSet>,
    pub customizations: Vec<Customization>,
    pub overlays: Vec<OverlaySet>,
    pub builder_vm: Option<BuilderVm>,
    pub build_host: Option<String>,
}

/// Who is merged into whom: the rules differ between a base and an include.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    /// A later stage of the base chain (or the image itself) over what came before.
    Child,
    /// An included fragment, merged before the including spec's own content.
    Include,
}

/// Merges `image` with its base chain and includes.
pub(crate) fn merge(image: &Image) -> Merged {
    let mut seen = BTreeSet::new();
    let mut out = Merged::default();
    merge_image(image, &mut out, &mut seen);
    out
}

fn merge_image(image: &Image, out: &mut Merged, seen: &mut BTreeSet<String>) {
    if let Some(base) = &image.base {
        merge_image(base, out, seen);
    }
    let dir = image.content.base_dir.clone();
    merge_fragment(&image.content, dir.as_ref(), out, seen, Role::Child);
    if image.builder_vm.is_some() {
        out.builder_vm = image.builder_vm.clone();
    }
    if image.build_host.is_some() {
        out.build_host = image.build_host.clone();
    }
}

/// Merges a fragment's includes (each fully, first) and then its own content. A named
/// fragment reached a second time (a diamond) is skipped.
fn merge_fragment(
    fragment: &Fragment,
    inherited_dir: Option<&PathBuf>,
    out: &mut Merged,
    seen: &mut BTreeSet<String>,
    role: Role,
) {
    if let Some(name) = &fragment.name
        && !seen.insert(name.clone())
    {
        return;
    }
    let dir = fragment.base_dir.as_ref().or(inherited_dir);
    for inc in &fragment.includes {
        merge_fragment(inc, dir, out, seen, Role::Include);
    }
    // Includes never override a value the including spec (or its base) already chose for an
    // incorporation; a child's own value does.
    if fragment.incorporation.is_some() && (role == Role::Child || out.incorporation.is_none()) {
        out.incorporation = fragment.incorporation.clone();
    }
    for p in &fragment.repositories.publishers {
        match out
            .repositories
            .publishers
            .iter_mut()
            .find(|q| q.name == p.name)
        {
            Some(q) => q.origin = p.origin.clone(),
            None => out.repositories.publishers.push(p.clone()),
        }
    }
    for m in &fragment.repositories.apt_mirrors {
        match out
            .repositories
            .apt_mirrors
            .iter_mut()
            .find(|q| q.url == m.url && q.suite == m.suite)
        {
            Some(q) => q.components = m.components.clone(),
            None => out.repositories.apt_mirrors.push(m.clone()),
        }
    }
    for c in &fragment.certificates {
        if !out.certificates.iter().any(|(q, _)| q == c) {
            out.certificates.push((c.clone(), dir.cloned()));
        }
    }
    for v in &fragment.variants {
        match out.variants.iter_mut().find(|q| q.name == v.name) {
            Some(q) => q.value = v.value.clone(),
            None => out.variants.push(v.clone()),
        }
    }
    for f in &fragment.facets {
        match out.facets.iter_mut().find(|q| q.name == f.name) {
            Some(q) => q.value = f.value,
            None => out.facets.push(f.clone()),
        }
    }
    out.packages.extend(fragment.packages.iter().cloned());
    out.customizations
        .extend(fragment.customizations.iter().cloned());
    for set in &fragment.overlays {
        let mut set = set.clone();
        if set.base_dir.is_none() {
            set.base_dir = dir.cloned();
        }
        out.overlays.push(set);
    }
}
