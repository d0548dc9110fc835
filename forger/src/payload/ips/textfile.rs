//! Line-oriented image configuration files (`etc/passwd`, `etc/name_to_major`, …) read from and
//! written back into the staging tree. An existing file keeps its manifest entry (owner, mode);
//! a missing one is created with the owner and mode pkg's delivering package would give it,
//! recorded by name so it is resolved against the image's passwd/group like every action.

use std::collections::BTreeMap;
use std::io::Read;

use super::Error;
use crate::stage::{Entry, StagePath, StagingTree};

/// Owner and group names per path, resolved to ids once all users and groups exist.
pub type OwnerNames = BTreeMap<StagePath, (String, String)>;

/// The lines of `path` in the image, or `None` when it does not exist.
pub fn read_lines(tree: &StagingTree, path: &str) -> Result<Option<Vec<String>>, Error> {
    let p = StagePath::new(path)?;
    if tree.manifest.content_path(&p).is_none() {
        return Ok(None);
    }
    let mut text = String::new();
    tree.open_file(&p)?
        .read_to_string(&mut text)
        .map_err(Error::io(tree.host_path(&p)))?;
    Ok(Some(text.lines().map(str::to_owned).collect()))
}

/// Writes `lines` (each followed by `\n`) to `path`, keeping an existing entry's metadata or
/// creating the file (and its parents) as `owner:group` with `mode`.
pub fn write_lines(
    tree: &mut StagingTree,
    owners: &mut OwnerNames,
    path: &str,
    lines: &[String],
    (owner, group, mode): (&str, &str, u32),
    mtime: i64,
) -> Result<(), Error> {
    let p = StagePath::new(path)?;
    let entry = match tree.manifest.get(&p) {
        Some(e) => Entry {
            kind: crate::stage::EntryKind::File,
            ..e.clone()
        },
        None => {
            if let Some(parent) = p.parent() {
                ensure_parents(tree, owners, &parent)?;
            }
            owners.insert(p.clone(), (owner.to_owned(), group.to_owned()));
            let mut e = Entry::file(0, 0, mode);
            e.mtime = mtime;
            e
        }
    };
    let mut text = String::new();
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    tree.write_file(&p, &mut text.as_bytes(), entry)?;
    Ok(())
}

/// Creates missing directories up to `dir` as pkg does for implicit parents: `root:root`
/// (recorded by name), mode 0755.
pub fn ensure_parents(
    tree: &mut StagingTree,
    owners: &mut OwnerNames,
    dir: &StagePath,
) -> Result<(), Error> {
    let mut missing: Vec<StagePath> = dir
        .ancestors()
        .into_iter()
        .chain(std::iter::once(dir.clone()))
        .filter(|a| tree.manifest.get(a).is_none())
        .collect();
    missing.sort();
    for m in missing {
        tree.ensure_dir(&m, 0, 0, 0o755)?;
        owners.insert(m, ("root".into(), "root".into()));
    }
    Ok(())
}
