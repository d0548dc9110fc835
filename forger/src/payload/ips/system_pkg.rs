//! IPS installs through the host's own `pkg(1)`, for illumos hosts where it exists: the image
//! is made by the same code that maintains it later, so anything the native client does not
//! model (signature policies, pkg's own solver) behaves exactly as on an installed system.
//!
//! The sequence is the one kayak and the zone brand use (`shared/docs/ips.md` §3.4):
//! `pkg image-create --full` with the first publisher, the variants and the facets; further
//! publishers appended in search order with `set-publisher`; CA certificates approved per
//! publisher; the incorporation installed on its own first so that it constrains the rest;
//! then the packages. pkg installs into a scratch image beside the staging tree, whose files
//! are then moved into the tree ([`StagingTree::adopt_dir`]). Owners and modes are read back
//! from the installed manifests in the image's `/var/pkg`, resolved against the image's own
//! passwd/group — not from the host's `lstat`, which is only right when pkg ran as root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::Error;
use super::action::parse_manifest;
use super::client::{IpsPayload, Publisher};
use super::fmri::quote;
use super::install::resolve_owners;
use super::textfile::OwnerNames;
use crate::stage::{StagePath, StagingTree};

/// `pkg` exit status for "no updates necessary": installing what is already there is fine.
const EXIT_NOTHING_TO_DO: i32 = 4;

/// Which IPS client installs packages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum IpsClient {
    /// The host's `pkg(1)` on illumos, the native client everywhere else.
    #[default]
    Auto,
    /// The host's `pkg(1)` (found on `PATH`); an error when there is none.
    Pkg,
    /// Forger's native client, even where `pkg` exists.
    Native,
}

impl IpsClient {
    /// The `pkg` program to run, or `None` for the native client.
    pub fn program(self) -> Result<Option<PathBuf>, Error> {
        match self {
            IpsClient::Native => Ok(None),
            IpsClient::Auto if !cfg!(any(target_os = "illumos", target_os = "solaris")) => Ok(None),
            IpsClient::Auto => Ok(find_on_path("pkg")),
            IpsClient::Pkg => find_on_path("pkg").map(Some).ok_or(Error::PkgMissing),
        }
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// An IPS install run by `pkg(1)`: the same request as the native client's.
#[derive(Debug, Clone)]
pub struct SystemPkg {
    /// The `pkg` program.
    pub program: PathBuf,
    /// Publishers, incorporation, packages, variants and facets.
    pub request: IpsPayload,
    /// CA certificates to approve, by publisher (`pkg set-publisher --approve-ca-cert`).
    pub approve_ca_certs: Vec<(String, PathBuf)>,
}

impl SystemPkg {
    /// Runs pkg into a scratch image beside `tree`, imports it and fixes owners and modes.
    pub fn install(&self, tree: &mut StagingTree) -> Result<Vec<String>, Error> {
        let first = self.request.publishers.first().ok_or(Error::NoPublisher)?;
        if !self.request.below.is_empty() {
            // pkg installs the whole set into an image of its own, so a layer above a base
            // starts from an empty tree too.
            tree.clear_dir(&StagePath::root())?;
        }
        let parent = tree.root().parent().unwrap_or(Path::new("."));
        let scratch = tempfile::Builder::new()
            .prefix(".forger-pkg-image-")
            .tempdir_in(parent)
            .map_err(Error::io(parent))?;
        let image = scratch.path();

        let mut create = vec!["image-create".to_owned(), "--full".to_owned()];
        create.push("--publisher".to_owned());
        create.push(format!("{}={}", first.name, first.origin));
        push_client_cert(&mut create, first);
        for (k, v) in &self.request.varcets().variants {
            create.push("--variant".to_owned());
            create.push(format!("{k}={v}"));
        }
        for (k, v) in &self.request.varcets().facets {
            create.push("--facet".to_owned());
            create.push(format!("{k}={}", if *v { "True" } else { "False" }));
        }
        create.push(image.display().to_string());
        self.run(None, &create)?;

        for p in &self.request.publishers[1..] {
            let mut args = vec![
                "set-publisher".to_owned(),
                "-g".to_owned(),
                p.origin.clone(),
            ];
            push_client_cert(&mut args, p);
            args.push(p.name.clone());
            self.run(Some(image), &args)?;
        }
        for (publisher, cert) in &self.approve_ca_certs {
            let args = [
                "set-publisher".to_owned(),
                "--approve-ca-cert".to_owned(),
                cert.display().to_string(),
                publisher.clone(),
            ];
            self.run(Some(image), &args)?;
        }
        let install = ["install", "--accept", "--no-index"].map(str::to_owned);
        if let Some(inc) = &self.request.incorporation {
            let mut args = install.to_vec();
            args.push(inc.clone());
            self.run(Some(image), &args)?;
        }
        if !self.request.packages.is_empty() {
            let mut args = install.to_vec();
            args.extend(self.request.packages.iter().cloned());
            self.run(Some(image), &args)?;
        }

        let installed = installed_fmris(image)?;
        tree.adopt_dir(image)?;
        disown_builder(tree, image)?;
        let owners = apply_manifest_modes(tree, &installed, &self.request)?;
        resolve_owners(tree, &owners)?;
        Ok(installed
            .iter()
            .map(|(p, stem, v)| format!("pkg://{p}/{stem}@{v}"))
            .collect())
    }

    /// Runs `pkg [-R image] args…`; exit 4 ("nothing to do") counts as success.
    fn run(&self, image: Option<&Path>, args: &[String]) -> Result<(), Error> {
        let mut cmd = Command::new(&self.program);
        if let Some(image) = image {
            cmd.arg("-R").arg(image);
        }
        cmd.args(args);
        let shown = format!("pkg {}", args.join(" "));
        tracing::debug!(command = %shown, "running pkg");
        let out = cmd.output().map_err(|source| Error::PkgSpawn {
            program: self.program.clone(),
            source,
        })?;
        match out.status.code() {
            Some(0) | Some(EXIT_NOTHING_TO_DO) => Ok(()),
            code => Err(Error::PkgFailed {
                command: shown,
                status: code.map_or_else(|| "a signal".to_owned(), |c| format!("exit {c}")),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            }),
        }
    }
}

/// Unprivileged, pkg cannot chown: what it created is owned by the builder. Such entries
/// (the directories pkg makes implicitly, its own `/var/pkg` files) belong to root; the
/// delivered ones get their manifest owners afterwards.
fn disown_builder(tree: &mut StagingTree, image: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata(image).map_err(Error::io(image))?;
    if me.uid() == 0 {
        return Ok(());
    }
    let paths: Vec<StagePath> = tree
        .manifest
        .iter()
        .filter(|(_, e)| e.uid == me.uid())
        .map(|(p, _)| p.clone())
        .collect();
    for p in paths {
        if let Some(e) = tree.manifest.get_mut(&p) {
            e.uid = 0;
            e.gid = 0;
        }
    }
    Ok(())
}

fn push_client_cert(args: &mut Vec<String>, p: &Publisher) {
    if let Some(c) = &p.client_cert {
        args.push("-k".to_owned());
        args.push(c.key.display().to_string());
        args.push("-c".to_owned());
        args.push(c.cert.display().to_string());
    }
}

/// `(publisher, stem, version)` of every package in the image's installed state catalog.
fn installed_fmris(image: &Path) -> Result<Vec<(String, String, String)>, Error> {
    let path = image.join("var/pkg/state/installed/catalog.base.C");
    let text = std::fs::read(&path).map_err(Error::io(&path))?;
    let json: Value = serde_json::from_slice(&text).map_err(|e| Error::PkgImage {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (publisher, stems) in json.as_object().into_iter().flatten() {
        if publisher.starts_with('_') {
            continue;
        }
        for (stem, versions) in stems.as_object().into_iter().flatten() {
            for v in versions.as_array().into_iter().flatten() {
                let version = v["version"].as_str().ok_or_else(|| Error::PkgImage {
                    path: path.clone(),
                    reason: format!("entry for {stem} has no version"),
                })?;
                out.push((publisher.clone(), stem.clone(), version.to_owned()));
            }
        }
    }
    Ok(out)
}

/// Sets the mode of every `dir` and `file` the installed manifests deliver (for this image's
/// variants and facets) and returns their owner names for [`resolve_owners`]. The manifests
/// are read from the staged `/var/pkg`, where the import put them.
fn apply_manifest_modes(
    tree: &mut StagingTree,
    installed: &[(String, String, String)],
    request: &IpsPayload,
) -> Result<OwnerNames, Error> {
    let varcets = request.varcets();
    let mut owners = BTreeMap::new();
    let pkg_state = tree.root().join("var/pkg/publisher");
    for (publisher, stem, version) in installed {
        let path = pkg_state
            .join(publisher)
            .join("pkg")
            .join(quote(stem))
            .join(quote(version));
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        for a in parse_manifest(&text)? {
            if !matches!(a.kind.as_str(), "dir" | "file") || !varcets.includes(&a) {
                continue;
            }
            let (Some(p), Some(owner), Some(group)) =
                (a.attr("path"), a.attr("owner"), a.attr("group"))
            else {
                continue;
            };
            let p = StagePath::new(p)?;
            // A file that is also hard-linked keeps its metadata on its inode's first name.
            let content = tree.manifest.content_path(&p).cloned().unwrap_or(p.clone());
            if let (Some(mode), Some(e)) = (
                a.attr("mode").and_then(|m| u32::from_str_radix(m, 8).ok()),
                tree.manifest.get_mut(&content),
            ) {
                e.mode = mode & 0o7777;
            }
            owners.insert(p, (owner.to_owned(), group.to_owned()));
        }
    }
    Ok(owners)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_native_client_is_used_off_illumos_unless_pkg_is_asked_for() {
        assert_eq!(IpsClient::Native.program().unwrap(), None);
        if !cfg!(any(target_os = "illumos", target_os = "solaris")) {
            assert_eq!(IpsClient::Auto.program().unwrap(), None);
        }
    }
}
