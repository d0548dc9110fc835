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

/// The output file (or directory) name of `target` when its stem is `stem`.
pub(crate) fn file_name(target: &Target, stem: &str) -> String {
    match target.kind {
        TargetKind::Qcow2(_) => format!("{stem}.qcow2"),
        TargetKind::Raw(_) => format!("{stem}.raw"),
        TargetKind::Oci(_) => format!("{stem}-oci"),
        TargetKind::Artifact(ref a) => match a.compression {
            crate::model::Compression::None => format!("{stem}.tar"),
            crate::model::Compression::Gzip => format!("{stem}.tar.gz"),
            crate::model::Compression::Zstd => format!("{stem}.tar.zst"),
        },
    }
}

/// Writes `target`'s output for `tree` to `dest` (through a temporary name) and returns it.
pub(crate) fn write(
    plan: &Plan,
    target: &Target,
    tree: &StagingTree,
    dest: &Path,
    work: &Path,
) -> crate::Result<PathBuf> {
    let _ = (plan, tree, dest, work);
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
