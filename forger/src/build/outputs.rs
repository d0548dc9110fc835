//! Dispatch from a target to the writer of its output, and from a distribution to its
//! package installer.

use std::path::{Path, PathBuf};

use super::Error;
use crate::model::{Image, Target, TargetKind};
use crate::payload::{self, Payload};
use crate::plan::Plan;
use crate::stage::StagingTree;

/// The package installer for the image's distribution.
pub(crate) fn package_payload(image: &Image) -> crate::Result<Payload> {
    Err(payload::Error::NoInstaller {
        distro: image.distro().to_string(),
        help: "build from a prepared root file system with --rootfs DIR|TARBALL".to_owned(),
    }
    .into())
}

/// Writes `target`'s output for `tree` into `out_dir` (named from `stem`) and returns its path.
pub(crate) fn write(
    plan: &Plan,
    target: &Target,
    tree: &StagingTree,
    out_dir: &Path,
    stem: &str,
    work: &Path,
) -> crate::Result<PathBuf> {
    let _ = (plan, tree, out_dir, stem, work);
    let kind = target.kind.keyword();
    Err(Error::UnsupportedTarget {
        target: target.name.clone(),
        kind,
        help: match target.kind {
            TargetKind::Artifact(_) => "artifact",
            _ => "disk",
        },
    }
    .into())
}
