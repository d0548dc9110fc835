//! `user` and `group` actions: editing the image's own `etc/passwd`, `etc/shadow`,
//! `etc/group` and `etc/ftpd/ftpusers` as pkg's `UserAction`/`GroupAction` do
//! (`shared/docs/ips.md` §4.3). Missing uids/gids take the first free number in 100–499.
//! NIS-style `+`/`-` lines are left alone.

use super::Error;
use super::action::Action;
use super::textfile::{OwnerNames, read_lines, write_lines};
use crate::stage::StagingTree;

/// First and last automatically assigned uid/gid.
const AUTO_ID: std::ops::RangeInclusive<u32> = 100..=499;

/// Applies one `group` action.
pub fn add_group(
    tree: &mut StagingTree,
    owners: &mut OwnerNames,
    a: &Action,
    mtime: i64,
) -> Result<(), Error> {
    let Some(name) = a.attr("groupname") else {
        return Ok(());
    };
    let mut lines = read_lines(tree, "etc/group")?.unwrap_or_default();
    let used: Vec<u32> = lines
        .iter()
        .filter_map(|l| field(l, 2)?.parse().ok())
        .collect();
    let gid = match a.attr("gid").and_then(|g| g.parse().ok()) {
        Some(g) => g,
        None => match lines.iter().find(|l| field(l, 0) == Some(name)) {
            Some(l) => field(l, 2).and_then(|g| g.parse().ok()).unwrap_or(0),
            None => first_free(&used),
        },
    };
    match lines.iter_mut().find(|l| field(l, 0) == Some(name)) {
        Some(l) => {
            let members = field(l, 3).unwrap_or("").to_owned();
            *l = format!("{name}::{gid}:{members}");
        }
        None => lines.push(format!("{name}::{gid}:")),
    }
    write_lines(
        tree,
        owners,
        "etc/group",
        &lines,
        ("root", "sys", 0o644),
        mtime,
    )
}

/// Applies one `user` action.
pub fn add_user(
    tree: &mut StagingTree,
    owners: &mut OwnerNames,
    a: &Action,
    mtime: i64,
) -> Result<(), Error> {
    let Some(name) = a.attr("username") else {
        return Ok(());
    };
    let mut passwd = read_lines(tree, "etc/passwd")?.unwrap_or_default();
    let mut groups = read_lines(tree, "etc/group")?.unwrap_or_default();
    let used: Vec<u32> = passwd
        .iter()
        .filter_map(|l| field(l, 2)?.parse().ok())
        .collect();
    let existing = passwd.iter().position(|l| field(l, 0) == Some(name));
    let uid = match a.attr("uid").and_then(|u| u.parse().ok()) {
        Some(u) => u,
        None => existing
            .and_then(|i| field(&passwd[i], 2)?.parse().ok())
            .unwrap_or_else(|| first_free(&used)),
    };
    let gid = match a.attr("group") {
        Some(g) => g.parse::<u32>().ok().or_else(|| {
            groups
                .iter()
                .find(|l| field(l, 0) == Some(g))
                .and_then(|l| field(l, 2)?.parse().ok())
        }),
        None => None,
    }
    .unwrap_or(1);
    let gcos = a.attr("gcos-field").unwrap_or("& User");
    let home = a.attr("home-dir").unwrap_or("/");
    let shell = a.attr("login-shell").unwrap_or("");
    let line = format!("{name}:x:{uid}:{gid}:{gcos}:{home}:{shell}");
    match existing {
        Some(i) => passwd[i] = line,
        None => passwd.push(line),
    }
    write_lines(
        tree,
        owners,
        "etc/passwd",
        &passwd,
        ("root", "sys", 0o644),
        mtime,
    )?;

    let mut shadow = read_lines(tree, "etc/shadow")?.unwrap_or_default();
    let f = |k: &str| a.attr(k).unwrap_or("").to_owned();
    let lastchg = a
        .attr("lastchg")
        .map(str::to_owned)
        .unwrap_or_else(|| (mtime.max(0) / 86_400).to_string());
    let sline = format!(
        "{name}:{}:{lastchg}:{}:{}:{}:{}:{}:{}",
        a.attr("password").unwrap_or("*LK*"),
        f("min"),
        f("max"),
        f("warn"),
        f("inactive"),
        f("expire"),
        f("flag"),
    );
    match shadow.iter().position(|l| field(l, 0) == Some(name)) {
        Some(i) => shadow[i] = sline,
        None => shadow.push(sline),
    }
    write_lines(
        tree,
        owners,
        "etc/shadow",
        &shadow,
        ("root", "sys", 0o400),
        mtime,
    )?;

    let extra = a.values("group-list");
    if !extra.is_empty() {
        for l in groups.iter_mut() {
            let Some(g) = field(l, 0) else { continue };
            if !extra.iter().any(|e| e == g) {
                continue;
            }
            let mut parts: Vec<String> = l.splitn(4, ':').map(str::to_owned).collect();
            parts.resize(4, String::new());
            let mut members: Vec<&str> = parts[3].split(',').filter(|m| !m.is_empty()).collect();
            if !members.contains(&name) {
                members.push(name);
            }
            parts[3] = members.join(",");
            *l = parts.join(":");
        }
        write_lines(
            tree,
            owners,
            "etc/group",
            &groups,
            ("root", "sys", 0o644),
            mtime,
        )?;
    }

    if let Some(mut ftp) = read_lines(tree, "etc/ftpd/ftpusers")? {
        let listed = ftp.iter().position(|l| l.trim() == name);
        match (a.attr("ftpuser"), listed) {
            (Some("false"), None) => ftp.push(name.to_owned()),
            (Some("true"), Some(i)) => {
                ftp.remove(i);
            }
            _ => {}
        }
        write_lines(
            tree,
            owners,
            "etc/ftpd/ftpusers",
            &ftp,
            ("root", "sys", 0o644),
            mtime,
        )?;
    }
    Ok(())
}

/// Field `i` of a colon-separated line, ignoring NIS `+`/`-` lines.
pub fn field(line: &str, i: usize) -> Option<&str> {
    if line.starts_with('+') || line.starts_with('-') {
        return None;
    }
    line.split(':').nth(i)
}

fn first_free(used: &[u32]) -> u32 {
    AUTO_ID
        .clone()
        .find(|id| !used.contains(id))
        .unwrap_or(*AUTO_ID.end() + 1)
}

/// Names to numeric ids.
pub type IdMap = std::collections::BTreeMap<String, u32>;

/// Name → id maps from the image's `etc/passwd` and `etc/group`.
pub fn id_maps(tree: &StagingTree) -> Result<(IdMap, IdMap), Error> {
    let load = |path: &str| -> Result<IdMap, Error> {
        Ok(read_lines(tree, path)?
            .unwrap_or_default()
            .iter()
            .filter_map(|l| Some((field(l, 0)?.to_owned(), field(l, 2)?.parse().ok()?)))
            .collect())
    };
    Ok((load("etc/passwd")?, load("etc/group")?))
}
