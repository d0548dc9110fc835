//! The plan: an image plus active profiles → a resolved, ordered build plan. Composition is
//! merged in book order ([`merge`]), profiles filter blocks, referenced files are found and
//! hashed, and each stage (payload, overlays, each target) gets a content hash over every
//! input that affects it. Planning reads referenced files but writes nothing.

mod apt_override;
mod error;
mod hash;
mod layers;
mod merge;
mod sources;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

pub use apt_override::{AptOverride, PlannedKeyring};
pub use error::Error;
pub use hash::FORMAT_VERSION;
pub use layers::PayloadLayer;

use crate::model::{
    Architecture, BuilderVm, Distro, Facet, Family, Image, Metadata, Overlay, Package,
    Repositories, Target, User, Variant,
};

/// What the caller chooses for one build.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Active profiles (`-p`); each must be used by some block of the image.
    pub profiles: Vec<String>,
    /// Targets to build (`-t`); all when empty.
    pub targets: Vec<String>,
    /// `SOURCE_DATE_EPOCH` (0 when unset): timestamps of everything written.
    pub epoch: i64,
    /// Fingerprint of a payload given from outside the model (`--rootfs`).
    pub payload_fingerprint: Option<String>,
    /// APT mirrors replacing the image's (`--apt-mirror` …); empty keeps the image's.
    pub apt_override: AptOverride,
}

/// A resolved build plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    /// Image identity.
    pub metadata: Metadata,
    /// Distribution (inherited through the base chain).
    pub distro: Distro,
    /// Architecture.
    pub architecture: Architecture,
    /// Active profiles.
    pub profiles: Vec<String>,
    /// `SOURCE_DATE_EPOCH` of this build.
    pub epoch: i64,
    /// Kept from `build-host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_host: Option<String>,
    /// IPS incorporation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incorporation: Option<String>,
    /// Merged repositories (with the APT mirrors of an override, when one was given).
    pub repositories: Repositories,
    /// True when the APT mirrors come from the command line, not from the image.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub apt_mirrors_overridden: bool,
    /// Keyrings that verify the overriding APT mirrors (`--apt-keyring`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apt_keyrings: Vec<PlannedKeyring>,
    /// CA certificates with their resolved files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<PlannedCertificate>,
    /// Merged variants.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// Merged facets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facets: Vec<Facet>,
    /// Packages in install order (duplicates dropped, first position kept).
    pub packages: Vec<Package>,
    /// Bases whose packages are installed, and cached, as stages of their own before the
    /// rest (`base:<name>` stages): children of one base share its installed tree.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<PayloadLayer>,
    /// Users in creation order.
    pub users: Vec<User>,
    /// Overlay actions in order, with resolved sources.
    pub overlays: Vec<PlannedOverlay>,
    /// Selected targets.
    pub targets: Vec<Target>,
    /// Builder-VM settings.
    #[serde(rename = "builder", skip_serializing_if = "Option::is_none")]
    pub builder_vm: Option<BuilderVm>,
    /// Stages in order with their content hashes.
    pub stages: Vec<Stage>,
    /// The payload fingerprint the stage hashes were computed with.
    #[serde(skip)]
    payload_fingerprint: Option<String>,
}

/// A certificate with its file found.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedCertificate {
    /// Publisher.
    pub publisher: String,
    /// Resolved host path.
    pub certfile: PathBuf,
    /// `sha256:` of its bytes.
    pub sha256: String,
}

/// An overlay action with its source file found.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedOverlay {
    /// The action as written.
    #[serde(flatten)]
    pub action: Overlay,
    /// The resolved host path of a `file` action's `source`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_path: Option<PathBuf>,
    /// `sha256:` of the source's bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
}

/// One stage of the build.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Stage {
    /// `base:<name>`, `payload`, `overlays` or `target:<name>`.
    pub name: String,
    /// `sha256:` over every input of the stage and of the stages before it.
    pub hash: String,
}

impl Plan {
    /// Plans `image` (which should have passed [`Image::validate`]) under `options`. Every
    /// problem found (unknown profile or target, missing or escaping file) is reported at once.
    pub fn new(image: &Image, options: &PlanOptions) -> Result<Plan, Error> {
        Self::resolve(image, options, true)
    }

    /// Like [`Plan::new`], but referenced files that cannot be found are left unresolved
    /// instead of failing, so a spec can be inspected before its files exist.
    pub fn inspect(image: &Image, options: &PlanOptions) -> Result<Plan, Error> {
        Self::resolve(image, options, false)
    }

    fn resolve(image: &Image, options: &PlanOptions, strict: bool) -> Result<Plan, Error> {
        let merged = merge::merge(image);
        let mut problems = Vec::new();

        let known: BTreeSet<&str> = merged
            .packages
            .iter()
            .map(|b| b.profile.as_deref())
            .chain(merged.customizations.iter().map(|b| b.profile.as_deref()))
            .chain(merged.overlays.iter().map(|b| b.profile.as_deref()))
            .flatten()
            .collect();
        for p in &options.profiles {
            if !known.contains(p.as_str()) {
                let hint = if known.is_empty() {
                    "this image has no profiles (no block uses `if`)".to_owned()
                } else {
                    format!(
                        "the image's profiles are: {}",
                        known.iter().copied().collect::<Vec<_>>().join(", ")
                    )
                };
                problems.push(Error::UnknownProfile {
                    name: p.clone(),
                    hint,
                });
            }
        }
        let active = |profile: &Option<String>| {
            profile
                .as_ref()
                .is_none_or(|p| options.profiles.iter().any(|a| a == p))
        };

        let packages = layers::active_packages(&merged, &active);
        let layers = layers::payload_layers(image, &merged, &packages, &active);
        let users: Vec<User> = merged
            .customizations
            .iter()
            .filter(|b| active(&b.profile))
            .flat_map(|b| b.users.iter().cloned())
            .collect();

        let mut overlays = Vec::new();
        for block in merged.overlays.iter().filter(|b| active(&b.profile)) {
            for action in &block.actions {
                let mut planned = PlannedOverlay {
                    action: action.clone(),
                    source_path: None,
                    source_sha256: None,
                };
                if let Overlay::File(f) = action
                    && let Some(src) = &f.source
                {
                    match sources::resolve("overlay source", src, block.base_dir.as_deref())
                        .and_then(|path| {
                            let sha = hash::file_hash(&path).map_err(|source| Error::Io {
                                path: path.clone(),
                                source,
                            })?;
                            Ok((path, sha))
                        }) {
                        Ok((path, sha)) => {
                            planned.source_path = Some(path);
                            planned.source_sha256 = Some(sha);
                        }
                        Err(e) if strict => problems.push(e),
                        Err(_) => {}
                    }
                }
                overlays.push(planned);
            }
        }

        let mut certificates = Vec::new();
        for (c, dir) in &merged.certificates {
            match sources::resolve("certificate", &c.certfile, dir.as_deref()).and_then(|path| {
                let sha = hash::file_hash(&path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                Ok((path, sha))
            }) {
                Ok((certfile, sha256)) => certificates.push(PlannedCertificate {
                    publisher: c.publisher.clone(),
                    certfile,
                    sha256,
                }),
                Err(e) if strict => problems.push(e),
                Err(_) => certificates.push(PlannedCertificate {
                    publisher: c.publisher.clone(),
                    certfile: c.certfile.clone(),
                    sha256: String::new(),
                }),
            }
        }

        let targets: Vec<Target> = if options.targets.is_empty() {
            image.targets.clone()
        } else {
            let mut chosen = Vec::new();
            for name in &options.targets {
                match image.targets.iter().find(|t| &t.name == name) {
                    Some(t) => chosen.push(t.clone()),
                    None => problems.push(Error::UnknownTarget {
                        name: name.clone(),
                        known: image
                            .targets
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }),
                }
            }
            chosen
        };

        let mut repositories = merged.repositories;
        let mut apt_keyrings = Vec::new();
        let overridden = !options.apt_override.is_empty();
        if overridden {
            let distro = image.distro();
            if distro.family() != Family::Apt {
                problems.push(Error::AptOverride {
                    reason: format!(
                        "the image's distribution `{distro}` does not install with APT"
                    ),
                });
            }
            problems.extend(options.apt_override.check());
            let default_suite = repositories
                .apt_mirrors
                .first()
                .map(|m| m.suite.clone())
                .or_else(|| distro.apt_suite())
                .unwrap_or_default();
            repositories.apt_mirrors = options.apt_override.apt_mirrors(&default_suite);
            match options.apt_override.planned_keyrings() {
                Ok(k) => apt_keyrings = k,
                Err(e) => problems.push(e),
            }
        }

        match problems.len() {
            0 => {}
            1 => return Err(problems.remove(0)),
            _ => return Err(Error::Invalid { problems }),
        }

        let mut plan = Plan {
            metadata: image.metadata.clone(),
            distro: image.distro(),
            architecture: image.architecture(),
            profiles: options.profiles.clone(),
            epoch: options.epoch,
            build_host: merged.build_host,
            incorporation: merged.incorporation,
            repositories,
            apt_mirrors_overridden: overridden,
            apt_keyrings,
            certificates,
            variants: merged.variants,
            facets: merged.facets,
            packages,
            layers,
            users,
            overlays,
            targets,
            builder_vm: image.builder_vm.clone().or(merged.builder_vm),
            stages: Vec::new(),
            payload_fingerprint: options.payload_fingerprint.clone(),
        };
        plan.stages = plan.stage_hashes();
        Ok(plan)
    }

    /// The same plan with the stage hashes recomputed for a payload given from outside the
    /// model (its fingerprint is part of the payload stage's inputs).
    pub fn with_payload_fingerprint(mut self, fingerprint: &str) -> Plan {
        self.payload_fingerprint = Some(fingerprint.to_owned());
        self.stages = self.stage_hashes();
        self
    }

    /// The same plan with the whole payload as one stage, for a payload that does not come
    /// from the packages (`--rootfs`) and so has no base layers.
    pub fn without_layers(mut self) -> Plan {
        self.layers.clear();
        self.stages = self.stage_hashes();
        self
    }

    /// The hash of stage `name`.
    pub fn stage_hash(&self, name: &str) -> Option<&str> {
        self.stages
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.hash.as_str())
    }

    fn stage_hashes(&self) -> Vec<Stage> {
        #[derive(Serialize)]
        struct PayloadInputs<'a> {
            distro: &'a Distro,
            architecture: Architecture,
            epoch: i64,
            incorporation: &'a Option<String>,
            repositories: &'a Repositories,
            // Absent unless overridden, so hashes of builds without an override keep their
            // values (and their cache entries).
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            apt_mirrors_overridden: bool,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            apt_keyrings: Vec<&'a str>,
            certificates: Vec<(&'a str, &'a str)>,
            variants: &'a [Variant],
            facets: &'a [Facet],
            packages: &'a [Package],
            external: Option<&'a str>,
            // The base layers under this payload: a layered install differs from a flat one
            // (apt's auto-installed marks), so they are an input. Absent without layers, so
            // flat payloads keep their hashes.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            layers: Vec<String>,
        }
        #[derive(Serialize)]
        struct OverlayInputs<'a> {
            users: &'a [User],
            actions: Vec<(&'a Overlay, &'a Option<String>)>,
        }
        #[derive(Serialize)]
        struct TargetInputs<'a> {
            metadata: &'a Metadata,
            target: &'a Target,
        }
        // A layer's hash is the payload hash its base would have when planned alone, so a
        // base built on its own and every child of it share the entry.
        let payload_hash = |packages: &[Package], layers: Vec<String>| {
            hash::stage_hash(
                "payload",
                None,
                &PayloadInputs {
                    distro: &self.distro,
                    architecture: self.architecture,
                    epoch: self.epoch,
                    incorporation: &self.incorporation,
                    repositories: &self.repositories,
                    apt_mirrors_overridden: self.apt_mirrors_overridden,
                    apt_keyrings: self
                        .apt_keyrings
                        .iter()
                        .map(|k| k.sha256.as_str())
                        .collect(),
                    certificates: self
                        .certificates
                        .iter()
                        .map(|c| (c.publisher.as_str(), c.sha256.as_str()))
                        .collect(),
                    variants: &self.variants,
                    facets: &self.facets,
                    packages,
                    external: self.payload_fingerprint.as_deref(),
                    layers,
                },
            )
        };
        let mut stages = Vec::new();
        let mut below = Vec::new();
        for layer in &self.layers {
            let hash = payload_hash(&self.packages[..layer.packages], below.clone());
            stages.push(Stage {
                name: format!("base:{}", layer.base),
                hash: hash.clone(),
            });
            below.push(hash);
        }
        let payload = payload_hash(&self.packages, below);
        let overlays = hash::stage_hash(
            "overlays",
            Some(&payload),
            &OverlayInputs {
                users: &self.users,
                actions: self
                    .overlays
                    .iter()
                    .map(|o| (&o.action, &o.source_sha256))
                    .collect(),
            },
        );
        stages.push(Stage {
            name: "payload".into(),
            hash: payload,
        });
        stages.push(Stage {
            name: "overlays".into(),
            hash: overlays.clone(),
        });
        for t in &self.targets {
            stages.push(Stage {
                name: format!("target:{}", t.name),
                hash: hash::stage_hash(
                    "target",
                    Some(&overlays),
                    &TargetInputs {
                        metadata: &self.metadata,
                        target: t,
                    },
                ),
            });
        }
        stages
    }
}

#[cfg(test)]
mod tests;
