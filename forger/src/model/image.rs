//! [`Image`], [`Metadata`] and [`Fragment`]: the root of the model and its composable part.
//!
//! An image is metadata + distro + targets + a fragment of content; a fragment (packages,
//! users, overlays, repositories, …) can be included in many images, and an image can take
//! another image as its `base`. The plan merges these in book order: base chain, includes in
//! order, own content.

use std::path::PathBuf;

use bon::Builder;
use serde::{Deserialize, Serialize};

use super::{
    Architecture, BuilderVm, Certificate, Customization, Distro, Facet, OverlaySet, PackageSet,
    Repositories, Target, Variant,
};

/// One operating-system image: what it is, what goes into it and what to build from it.
///
/// `Image::builder()` requires [`Metadata`] at compile time:
/// ```
/// use forger::model::*;
/// let image = Image::builder()
///     .metadata(Metadata::builder().name("demo").version("1.0").build())
///     .distro(Distro::Debian("12".into()))
///     .content(Fragment::builder().packages(vec![PackageSet::of(["openssh-server"])]).build())
///     .targets(vec![Target::artifact("rootfs")])
///     .build();
/// assert_eq!(image.metadata.name, "demo");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Builder)]
#[serde(rename_all = "kebab-case")]
pub struct Image {
    /// Name, version and description.
    pub metadata: Metadata,
    /// The operating system; OmniOS when neither this image nor its base chain sets one
    /// (see [`Image::distro`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// CPU architecture (OCI config, package selection); amd64 when not set here or in the
    /// base chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    /// The parent image: a build stage whose content comes first. Its targets are not
    /// inherited.
    #[builder(with = |image: Image| Box::new(image))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Box<Image>>,
    /// Kept from the earlier tool's `build-host`; no effect yet.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_host: Option<String>,
    /// The image's own content (packages, users, overlays, repositories, includes, …).
    #[builder(default)]
    #[serde(flatten)]
    pub content: Fragment,
    /// What to build: disks, OCI images, tarballs. Names are unique.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// Settings of the earlier tool's builder VM (kept, and used when a build needs a VM).
    #[serde(default, rename = "builder", skip_serializing_if = "Option::is_none")]
    pub builder_vm: Option<BuilderVm>,
}

/// The identity of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Image name; names outputs (`<name>.qcow2`) and seeds reproducible ids.
    #[builder(into)]
    pub name: String,
    /// Image version.
    #[builder(into)]
    pub version: String,
    /// One-line description (OCI artifact config, `inspect`).
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Content that can be shared between images: the body of an image, of an `include`d KDL
/// file, or of a DSL `fragment!`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, Builder)]
#[serde(rename_all = "kebab-case")]
pub struct Fragment {
    /// Identity used to merge a fragment reached twice (a diamond) only once: the canonical
    /// path of a KDL file, or the name of a DSL fragment. Unnamed fragments are never merged.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Directory that relative overlay `source` and `certfile` paths resolve against
    /// (`<dir>/files/<path>`, then `<dir>/<path>`). Nothing may resolve outside it.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_dir: Option<PathBuf>,
    /// Fragments merged before this one's own content, in order.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<Fragment>,
    /// IPS incorporation installed first to lock versions (e.g. `entire`).
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incorporation: Option<String>,
    /// IPS publishers and APT mirrors.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Repositories::is_empty")]
    pub repositories: Repositories,
    /// CA certificates approved per IPS publisher.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<Certificate>,
    /// IPS variants of the image (`opensolaris.zone=global`).
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// IPS facets of the image (`doc.man=false`).
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facets: Vec<Facet>,
    /// Package lists, each optionally tied to a profile.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageSet>,
    /// Users to create, each block optionally tied to a profile.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customizations: Vec<Customization>,
    /// File-system actions applied after the payload, in order.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlays: Vec<OverlaySet>,
}

impl Image {
    /// The distribution: this image's, else the nearest base's, else OmniOS.
    pub fn distro(&self) -> Distro {
        match (&self.distro, &self.base) {
            (Some(d), _) => d.clone(),
            (None, Some(base)) => base.distro(),
            (None, None) => Distro::default(),
        }
    }

    /// The architecture: this image's, else the nearest base's, else amd64.
    pub fn architecture(&self) -> Architecture {
        match (&self.architecture, &self.base) {
            (Some(a), _) => *a,
            (None, Some(base)) => base.architecture(),
            (None, None) => Architecture::default(),
        }
    }
}
