//! Where packages come from and which ones: IPS publishers and APT mirrors, certificates,
//! variants and facets, and package lists.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use bon::Builder;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Error;

/// Package repositories of the image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Builder)]
#[serde(rename_all = "kebab-case")]
pub struct Repositories {
    /// IPS publishers; order is search order.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publishers: Vec<Publisher>,
    /// APT mirrors with suite and components.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apt_mirrors: Vec<AptMirror>,
}

impl Repositories {
    /// True when no publisher and no mirror is set.
    pub fn is_empty(&self) -> bool {
        self.publishers.is_empty() && self.apt_mirrors.is_empty()
    }
}

/// An IPS publisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[builder(start_fn = with_name)]
pub struct Publisher {
    /// Publisher name (`omnios`).
    #[builder(start_fn, into)]
    pub name: String,
    /// Repository origin URL.
    #[builder(into)]
    pub origin: String,
}

/// An APT mirror: one `deb` line of the image's sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[builder(start_fn = with_url)]
pub struct AptMirror {
    /// Mirror URL.
    #[builder(start_fn, into)]
    pub url: String,
    /// Suite (`bookworm`, `jammy-updates`).
    #[builder(into)]
    pub suite: String,
    /// Components (`main`, `universe`); `main` when empty.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

/// A CA certificate approved for an IPS publisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
pub struct Certificate {
    /// The publisher the CA is approved for.
    #[builder(into)]
    pub publisher: String,
    /// The PEM file, relative to the declaring spec's directory.
    #[builder(into)]
    pub certfile: PathBuf,
}

/// An IPS variant of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Name without the `variant.` prefix (`opensolaris.zone`).
    pub name: String,
    /// Value (`global`).
    pub value: String,
}

impl Variant {
    /// A variant `name=value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Variant {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// An IPS facet of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facet {
    /// Name without the `facet.` prefix (`doc.man`).
    pub name: String,
    /// Whether actions tagged with the facet are installed.
    pub value: bool,
}

impl Facet {
    /// A facet `name=value`.
    pub fn new(name: impl Into<String>, value: bool) -> Self {
        Facet {
            name: name.into(),
            value,
        }
    }
}

/// A package name: an IPS FMRI or stem (`/editor/vim`, `pkg:/web/curl@8`) or a Debian
/// package (`openssh-server`, `linux-image-amd64=6.1*`). Must be non-empty without spaces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Package(String);

impl Package {
    /// A package from a name given in code (the `image!` macro checks literal names at compile
    /// time and calls this for `{expr}` names too). The name is checked by
    /// [`Image::validate`](super::Image::validate), which reports it with every other problem
    /// rather than panicking in the middle of building the model; parse user input with
    /// `str::parse` to fail at once.
    pub fn new(name: impl Into<String>) -> Self {
        Package(name.into())
    }

    /// Whether the name can name a package: non-empty, without whitespace.
    pub fn is_valid(&self) -> bool {
        valid_package_name(&self.0)
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Package {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !valid_package_name(s) {
            return Err(Error::BadKeyword {
                what: "package name",
                value: s.to_owned(),
                allowed: "a package name or FMRI without spaces",
            });
        }
        Ok(Package(s.to_owned()))
    }
}

fn valid_package_name(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_whitespace)
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Package {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Package {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A `packages` block: names installed together, optionally only under a profile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Builder)]
pub struct PackageSet {
    /// The profile (`if="build"`) under which the block counts; always when `None`.
    #[builder(into)]
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The packages, in order.
    #[builder(default)]
    #[serde(default)]
    pub packages: Vec<Package>,
}

impl PackageSet {
    /// An unconditional block of packages. Panics on an invalid name (use `str::parse` for
    /// user input).
    pub fn of<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        PackageSet {
            profile: None,
            packages: names
                .into_iter()
                .map(|n| {
                    n.as_ref()
                        .parse()
                        .expect("package names given in code are valid")
                })
                .collect(),
        }
    }
}
