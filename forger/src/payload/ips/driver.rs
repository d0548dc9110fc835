//! `driver` actions on a non-illumos builder: what `add_drv -n -b <root>` (plus `update_drv
//! -a -m … clone` for `clone_perms` and pkg's own `devlink.tab` edit) does to the image's
//! files, emulated (`shared/docs/ips.md` §4.3; illumos `usr/src/cmd/modload/add_drv.c`,
//! `addrem.h`): `etc/name_to_major`, `etc/driver_aliases`, `etc/driver_classes`,
//! `etc/minor_perm`, `etc/security/device_policy`, `etc/security/extra_privs`,
//! `etc/devlink.tab`, and `/reconfigure` so the first boot rebuilds `/devices`.

use super::Error;
use super::action::Action;
use super::textfile::{OwnerNames, read_lines, write_lines};
use crate::stage::StagingTree;

/// Owner, group and mode of the driver database files when pkg would have to create them.
const SYS_FILE: (&str, &str, u32) = ("root", "sys", 0o644);

/// Applies one `driver` action. Returns the major number given to the driver.
pub fn add_driver(
    tree: &mut StagingTree,
    owners: &mut OwnerNames,
    a: &Action,
    mtime: i64,
) -> Result<Option<u32>, Error> {
    let Some(name) = a.attr("name") else {
        return Ok(None);
    };
    let mut n2m = read_lines(tree, "etc/name_to_major")?.unwrap_or_default();
    let major = match n2m.iter().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(name)).then(|| it.next()?.parse::<u32>().ok())?
    }) {
        Some(m) => m,
        None => {
            let removed = read_lines(tree, "etc/rem_name_to_major")?.unwrap_or_default();
            let max = n2m
                .iter()
                .chain(&removed)
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u32>().ok())
                .max();
            let m = max.map_or(1, |m| m + 1);
            n2m.push(format!("{name} {m}"));
            write_lines(tree, owners, "etc/name_to_major", &n2m, SYS_FILE, mtime)?;
            m
        }
    };

    let aliases: Vec<String> = a
        .values("alias")
        .iter()
        .map(|al| format!("{name} \"{}\"", al.trim_matches('"')))
        .collect();
    append_new(tree, owners, "etc/driver_aliases", aliases, mtime)?;
    let classes = a
        .values("class")
        .iter()
        .map(|c| format!("{name}\t{c}"))
        .collect();
    append_new(tree, owners, "etc/driver_classes", classes, mtime)?;

    let mut perms: Vec<String> = a
        .values("perms")
        .iter()
        .map(|p| {
            format!(
                "{name}:{}",
                p.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        })
        .collect();
    perms.extend(a.values("clone_perms").iter().map(|p| {
        format!(
            "clone:{}",
            p.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    }));
    append_new(tree, owners, "etc/minor_perm", perms, mtime)?;

    let policies = a
        .values("policy")
        .iter()
        .map(|p| {
            let mut toks: Vec<&str> = p.split_whitespace().collect();
            let minor = match toks.first() {
                Some(t) if !t.contains('=') => Some(toks.remove(0)),
                _ => None,
            };
            match minor {
                Some(m) => format!("{name}:{m}\t{}", toks.join(" ")),
                None => format!("{name}\t{}", toks.join(" ")),
            }
        })
        .collect();
    append_new(tree, owners, "etc/security/device_policy", policies, mtime)?;
    let privs = a
        .values("privs")
        .iter()
        .flat_map(|p| {
            p.split(',')
                .map(|one| format!("{name}:{one}"))
                .collect::<Vec<_>>()
        })
        .collect();
    append_new(tree, owners, "etc/security/extra_privs", privs, mtime)?;
    let links = a
        .values("devlink")
        .iter()
        .map(|d| d.replace("\\t", "\t"))
        .collect();
    append_new(tree, owners, "etc/devlink.tab", links, mtime)?;

    write_lines(
        tree,
        owners,
        "reconfigure",
        &[],
        ("root", "root", 0o644),
        mtime,
    )?;
    Ok(Some(major))
}

/// Appends the lines not already present (by exact text) to `path`.
fn append_new(
    tree: &mut StagingTree,
    owners: &mut OwnerNames,
    path: &str,
    new: Vec<String>,
    mtime: i64,
) -> Result<(), Error> {
    if new.is_empty() {
        return Ok(());
    }
    let mut lines = read_lines(tree, path)?.unwrap_or_default();
    for l in new {
        if !lines.contains(&l) {
            lines.push(l);
        }
    }
    write_lines(tree, owners, path, &lines, SYS_FILE, mtime)
}

/// The major number `etc/name_to_major` gives `driver`, for checks.
pub fn major_of(tree: &StagingTree, driver: &str) -> Result<Option<u32>, Error> {
    Ok(read_lines(tree, "etc/name_to_major")?
        .unwrap_or_default()
        .iter()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(driver)).then(|| it.next()?.parse().ok())?
        }))
}
