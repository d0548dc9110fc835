//! Users and overlays applied to a staged tree, in the plan's order: users first (so overlays
//! can own files by them), then every overlay action. Owner and group names resolve against
//! the image's own account files as they are at that moment.

use std::fs::File;
use std::io::Read;

use super::accounts::{Accounts, GroupEntry, PasswdEntry};
use super::{Entry, EntryKind, Error, StagePath, StagingTree};
use crate::model::{Family, Overlay, User};
use crate::plan::{Plan, PlannedOverlay};

/// Something that was done only partly, to be shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Short code (`devfsadm-offline`).
    pub code: &'static str,
    /// What happened and what to expect.
    pub message: String,
}

/// Creates the plan's users and applies its overlays to `tree`.
pub fn apply(tree: &mut StagingTree, plan: &Plan) -> Result<Vec<Warning>, Error> {
    let family = plan.distro.family();
    let days = plan.epoch / 86_400;
    let mut accounts = Accounts::load(tree)?;
    for user in &plan.users {
        add_user(tree, &mut accounts, user, family, days)?;
    }
    if !plan.users.is_empty() {
        accounts.store(tree)?;
    }
    let mut warnings = Vec::new();
    for o in &plan.overlays {
        apply_overlay(tree, &mut accounts, o, days, plan.epoch, &mut warnings)?;
    }
    Ok(warnings)
}

fn add_user(
    tree: &mut StagingTree,
    acc: &mut Accounts,
    user: &User,
    family: Family,
    days: i64,
) -> Result<(), Error> {
    let uid = user.uid.or_else(|| {
        acc.users
            .iter()
            .find(|u| u.name == user.name)
            .map(|u| u.uid)
    });
    let uid = uid.unwrap_or_else(|| acc.next_free_id());
    let gid = match user.gid {
        Some(g) => g,
        None => match acc.groups.iter().find(|g| g.name == user.name) {
            Some(g) => g.gid,
            None => {
                let gid = if acc.groups.iter().any(|g| g.gid == uid) {
                    acc.next_free_id()
                } else {
                    uid
                };
                acc.groups.push(GroupEntry {
                    name: user.name.clone(),
                    gid,
                    members: vec![],
                });
                gid
            }
        },
    };
    for g in &user.groups {
        match acc.groups.iter_mut().find(|e| &e.name == g) {
            Some(e) => {
                if !e.members.contains(&user.name) {
                    e.members.push(user.name.clone());
                }
            }
            None => {
                let gid = acc.next_free_id();
                acc.groups.push(GroupEntry {
                    name: g.clone(),
                    gid,
                    members: vec![user.name.clone()],
                });
            }
        }
    }
    let (default_home, default_shell, locked) = match family {
        Family::Apt => (format!("/home/{}", user.name), "/bin/bash", "!"),
        Family::Ips => (format!("/export/home/{}", user.name), "/bin/sh", "*LK*"),
    };
    let home = user.home.clone().unwrap_or(default_home);
    let entry = PasswdEntry {
        name: user.name.clone(),
        uid,
        gid,
        gecos: user.comment.clone().unwrap_or_default(),
        home: home.clone(),
        shell: user
            .shell
            .clone()
            .unwrap_or_else(|| default_shell.to_owned()),
    };
    match acc.users.iter_mut().find(|u| u.name == user.name) {
        Some(u) => *u = entry,
        None => acc.users.push(entry),
    }
    acc.set_password(
        &user.name,
        user.password_hash.as_deref().unwrap_or(locked),
        days,
    );
    if user.create_home {
        let home = StagePath::new(&home)?;
        if let Some(parent) = home.parent() {
            tree.ensure_dir_parents(&parent)?;
        }
        tree.ensure_dir(&home, uid, gid, 0o755)?;
        if !user.authorized_keys.is_empty() {
            let ssh = home.join(".ssh")?;
            tree.ensure_dir(&ssh, uid, gid, 0o700)?;
            let mut keys = user.authorized_keys.join("\n");
            keys.push('\n');
            tree.write_file(
                &ssh.join("authorized_keys")?,
                &mut keys.as_bytes(),
                Entry::file(uid, gid, 0o600),
            )?;
        }
    }
    Ok(())
}

/// Owner and group of an overlay action: names resolved in the image's databases; the group
/// defaults to the owner's primary group.
fn ownership(
    acc: &Accounts,
    action: &str,
    owner: Option<&str>,
    group: Option<&str>,
) -> Result<(u32, u32), Error> {
    let uid = match owner {
        Some(name) => acc.uid(name).ok_or_else(|| Error::UnknownOwner {
            action: action.to_owned(),
            name: name.to_owned(),
        })?,
        None => 0,
    };
    let gid = match group {
        Some(name) => acc.gid(name).ok_or_else(|| Error::UnknownGroup {
            action: action.to_owned(),
            name: name.to_owned(),
        })?,
        None => acc.primary_gid(uid),
    };
    Ok((uid, gid))
}

fn apply_overlay(
    tree: &mut StagingTree,
    acc: &mut Accounts,
    planned: &PlannedOverlay,
    days: i64,
    epoch: i64,
    warnings: &mut Vec<Warning>,
) -> Result<(), Error> {
    let parents = |tree: &mut StagingTree, p: &StagePath| match p.parent() {
        Some(parent) => tree.ensure_dir_parents(&parent),
        None => Ok(()),
    };
    match &planned.action {
        Overlay::File(f) => {
            let what = format!("file {}", f.destination);
            let (uid, gid) = ownership(acc, &what, f.owner.as_deref(), f.group.as_deref())?;
            let path = StagePath::new(&f.destination)?;
            parents(tree, &path)?;
            let mut entry = Entry::file(uid, gid, f.mode.map_or(0o644, |m| m.bits()));
            entry.mtime = epoch;
            match (&planned.source_path, &f.content) {
                (Some(src), _) => {
                    let mut file = File::open(src).map_err(Error::io(src))?;
                    tree.write_file(&path, &mut file, entry)?;
                }
                (None, Some(text)) => {
                    tree.write_file(&path, &mut text.as_bytes(), entry)?;
                }
                (None, None) => {
                    tree.write_file(&path, &mut std::io::empty(), entry)?;
                }
            }
            if matches!(
                f.destination.as_str(),
                "/etc/passwd" | "/etc/group" | "/etc/shadow"
            ) {
                *acc = Accounts::load(tree)?;
            }
        }
        Overlay::EnsureDir(d) => {
            let what = format!("ensure-dir {}", d.path);
            let (uid, gid) = ownership(acc, &what, d.owner.as_deref(), d.group.as_deref())?;
            let path = StagePath::new(&d.path)?;
            parents(tree, &path)?;
            tree.ensure_dir(&path, uid, gid, d.mode.map_or(0o755, |m| m.bits()))?;
        }
        Overlay::EnsureSymlink(s) => {
            let what = format!("ensure-symlink {}", s.path);
            let (uid, gid) = ownership(acc, &what, s.owner.as_deref(), s.group.as_deref())?;
            let path = StagePath::new(&s.path)?;
            parents(tree, &path)?;
            tree.remove(&path)?;
            let mut entry = Entry::new(
                EntryKind::Symlink {
                    target: s.target.clone(),
                },
                uid,
                gid,
                0o777,
            );
            entry.mtime = epoch;
            tree.add_special(&path, entry)?;
        }
        Overlay::RemoveFiles(r) => {
            for f in &r.files {
                tree.remove(&StagePath::new(f)?)?;
            }
            for d in &r.dirs {
                let dir = StagePath::new(d)?;
                if tree.manifest.get(&dir).is_some_and(Entry::is_dir) {
                    tree.clear_dir(&dir)?;
                }
            }
            for pattern in &r.patterns {
                let p = StagePath::new(pattern)?;
                let (dir, glob) = (p.parent().unwrap_or_default(), p.file_name().to_owned());
                let hits: Vec<StagePath> = tree
                    .manifest
                    .children(&dir)
                    .filter(|(c, _)| glob_match(&glob, c.file_name()))
                    .map(|(c, _)| c.clone())
                    .collect();
                for h in hits {
                    tree.remove(&h)?;
                }
            }
        }
        Overlay::Shadow(s) => {
            acc.set_password(&s.username, &s.password, days);
            acc.store(tree)?;
        }
        Overlay::Devfsadm => warnings.push(Warning {
            code: "devfsadm-offline",
            message: "devfsadm cannot run on this build host; the image's /dev links are made \
                      at first boot (keep /reconfigure in the image)"
                .to_owned(),
        }),
    }
    Ok(())
}

/// Shell-style matching of one name: `*` any run, `?` one character, anything else literal.
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Reads a staged text file (for tests and callers that inspect results).
pub fn read_text(tree: &StagingTree, path: &str) -> Result<String, Error> {
    let p = StagePath::new(path)?;
    let mut s = String::new();
    tree.open_file(&p)?
        .read_to_string(&mut s)
        .map_err(Error::io(tree.host_path(&p)))?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_one_component() {
        assert!(glob_match("ssh_host_*", "ssh_host_rsa_key"));
        assert!(glob_match("*.pub", "a.pub"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("ssh_host_*", "sshd_config"));
        assert!(glob_match("*", ""));
    }
}
