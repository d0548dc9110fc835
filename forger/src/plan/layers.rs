//! Base layers: a base image's packages installed (and cached) as a stage of their own,
//! with the child's packages added on top. Several children of one base then share the
//! base's installed tree, and a child that adds one package installs one package.
//!
//! A base is a layer only when the child installs from the same place as the base: same
//! distribution, architecture, repositories, publishers' certificates, variants and facets,
//! so the base's tree is exactly what the base would install when built alone. Book order
//! puts a base's packages before everything the child adds, so each layer installs a prefix
//! of the plan's package list. APT layers add packages with mmdebstrap onto the installed
//! tree; IPS layers install the added packages onto it when that gives the whole install's
//! tree, and install everything afresh otherwise (`payload::ips` `layer`).

use serde::Serialize;

use super::merge::{self, Merged};
use crate::model::{Image, Package};

/// A base whose packages are a stage of their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadLayer {
    /// The base image's name.
    pub base: String,
    /// The base image's version (with the name, what its payload's ids derive from).
    pub version: String,
    /// How many of the plan's packages (a prefix of the list) are installed when this layer
    /// is done, counting the layers below it.
    pub packages: usize,
}

/// The packages of the active blocks in book order, duplicates dropped (first position kept).
pub(super) fn active_packages(
    merged: &Merged,
    active: &impl Fn(&Option<String>) -> bool,
) -> Vec<Package> {
    let mut packages: Vec<Package> = Vec::new();
    for block in merged.packages.iter().filter(|b| active(&b.profile)) {
        for p in &block.packages {
            if !packages.contains(p) {
                packages.push(p.clone());
            }
        }
    }
    packages
}

/// The layers of `image` (whose composition is `merged` and whose plan installs
/// `packages`), from the root of its base chain up. The lowest layer may install no package
/// of its own (the distribution's minimal system is then what the children share); above
/// it, a base that installs no more than the layer below adds nothing and is no layer of
/// its own; neither is one that installs everything the image does (the image's payload
/// then *is* the base's).
pub(super) fn payload_layers(
    image: &Image,
    merged: &Merged,
    packages: &[Package],
    active: &impl Fn(&Option<String>) -> bool,
) -> Vec<PayloadLayer> {
    let mut chain = Vec::new();
    let mut next = image.base.as_deref();
    while let Some(base) = next {
        chain.push(base);
        next = base.base.as_deref();
    }
    let mut layers: Vec<PayloadLayer> = Vec::new();
    for base in chain.into_iter().rev() {
        let own = merge::merge(base);
        if !same_sources(base, &own, image, merged) {
            continue;
        }
        let installs = active_packages(&own, active);
        let count = installs.len();
        let below = layers.last().map_or(0, |l| l.packages);
        let grows = layers.is_empty() || count > below;
        if grows && count < packages.len() && packages[..count] == installs[..] {
            layers.push(PayloadLayer {
                base: base.metadata.name.clone(),
                version: base.metadata.version.clone(),
                packages: count,
            });
        }
    }
    layers
}

/// True when `base` installs from exactly the sources `image` does.
fn same_sources(base: &Image, own: &Merged, image: &Image, merged: &Merged) -> bool {
    base.distro() == image.distro()
        && base.architecture() == image.architecture()
        && own.incorporation == merged.incorporation
        && own.repositories == merged.repositories
        && own.certificates == merged.certificates
        && own.variants == merged.variants
        && own.facets == merged.facets
}
