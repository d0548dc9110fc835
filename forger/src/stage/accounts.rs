//! The image's own account database: `/etc/passwd`, `/etc/group` and `/etc/shadow` read from
//! and written back to the staging tree. Owner and group names in overlays resolve here,
//! never against the build host's databases.

use std::io::Read;

use super::{Entry, Error, StagePath, StagingTree};

/// One `/etc/passwd` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// GECOS field.
    pub gecos: String,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// One `/etc/group` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u32,
    /// Supplementary members.
    pub members: Vec<String>,
}

/// The three account files of an image, parsed. Lines that do not parse are kept verbatim so
/// that writing back never loses anything.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    /// Users in file order.
    pub users: Vec<PasswdEntry>,
    /// Groups in file order.
    pub groups: Vec<GroupEntry>,
    /// `/etc/shadow` lines split into fields.
    pub shadow: Vec<Vec<String>>,
    passwd_extra: Vec<String>,
    group_extra: Vec<String>,
}

const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";
const SHADOW: &str = "/etc/shadow";

impl Accounts {
    /// Reads the account files of `tree`; missing files read as empty.
    pub fn load(tree: &StagingTree) -> Result<Self, Error> {
        let mut acc = Accounts::default();
        for line in read_lines(tree, PASSWD)? {
            let f: Vec<&str> = line.split(':').collect();
            match (
                f.len(),
                f.get(2).and_then(|v| v.parse().ok()),
                f.get(3).and_then(|v| v.parse().ok()),
            ) {
                (7, Some(uid), Some(gid)) => acc.users.push(PasswdEntry {
                    name: f[0].into(),
                    uid,
                    gid,
                    gecos: f[4].into(),
                    home: f[5].into(),
                    shell: f[6].into(),
                }),
                _ => acc.passwd_extra.push(line),
            }
        }
        for line in read_lines(tree, GROUP)? {
            let f: Vec<&str> = line.split(':').collect();
            match (f.len(), f.get(2).and_then(|v| v.parse().ok())) {
                (4, Some(gid)) => acc.groups.push(GroupEntry {
                    name: f[0].into(),
                    gid,
                    members: f[3]
                        .split(',')
                        .filter(|m| !m.is_empty())
                        .map(str::to_owned)
                        .collect(),
                }),
                _ => acc.group_extra.push(line),
            }
        }
        acc.shadow = read_lines(tree, SHADOW)?
            .into_iter()
            .map(|l| l.split(':').map(str::to_owned).collect())
            .collect();
        Ok(acc)
    }

    /// The uid of user `name` (`root` is 0 even without a passwd file; numbers are taken as
    /// they are).
    pub fn uid(&self, name: &str) -> Option<u32> {
        self.users
            .iter()
            .find(|u| u.name == name)
            .map(|u| u.uid)
            .or_else(|| (name == "root").then_some(0))
            .or_else(|| name.parse().ok())
    }

    /// The gid of group `name` (`root` is 0 even without a group file; numbers are taken as
    /// they are).
    pub fn gid(&self, name: &str) -> Option<u32> {
        self.groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.gid)
            .or_else(|| (name == "root").then_some(0))
            .or_else(|| name.parse().ok())
    }

    /// The primary gid of the user with `uid` (0 for unknown users).
    pub fn primary_gid(&self, uid: u32) -> u32 {
        self.users
            .iter()
            .find(|u| u.uid == uid)
            .map_or(0, |u| u.gid)
    }

    /// The lowest id ≥ 1000 that neither a user nor a group uses.
    pub fn next_free_id(&self) -> u32 {
        (1000..)
            .find(|id| {
                !self.users.iter().any(|u| u.uid == *id)
                    && !self.groups.iter().any(|g| g.gid == *id)
            })
            .expect("ids run out only after u32::MAX")
    }

    /// Sets the password field of `user` in shadow, adding an entry when missing.
    /// `days` is the last-change day count written for a new entry.
    pub fn set_password(&mut self, user: &str, hash: &str, days: i64) {
        match self
            .shadow
            .iter_mut()
            .find(|f| f.first().is_some_and(|n| n == user))
        {
            Some(fields) => {
                if fields.len() < 2 {
                    fields.resize(2, String::new());
                }
                fields[1] = hash.to_owned();
            }
            None => self.shadow.push(
                [user, hash, &days.to_string(), "", "", "", "", "", ""]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
        }
    }

    /// Writes the three files back into `tree`, keeping each existing file's owner and mode
    /// (new files: `0644`, shadow `0600`, all `root:root`).
    pub fn store(&self, tree: &mut StagingTree) -> Result<(), Error> {
        let passwd: Vec<String> = self
            .users
            .iter()
            .map(|u| {
                format!(
                    "{}:x:{}:{}:{}:{}:{}",
                    u.name, u.uid, u.gid, u.gecos, u.home, u.shell
                )
            })
            .chain(self.passwd_extra.iter().cloned())
            .collect();
        let group: Vec<String> = self
            .groups
            .iter()
            .map(|g| format!("{}:x:{}:{}", g.name, g.gid, g.members.join(",")))
            .chain(self.group_extra.iter().cloned())
            .collect();
        let shadow: Vec<String> = self.shadow.iter().map(|f| f.join(":")).collect();
        write_lines(tree, PASSWD, &passwd, 0o644)?;
        write_lines(tree, GROUP, &group, 0o644)?;
        write_lines(tree, SHADOW, &shadow, 0o600)
    }
}

fn read_lines(tree: &StagingTree, path: &str) -> Result<Vec<String>, Error> {
    let p = StagePath::new(path)?;
    if tree.manifest.get(&p).is_none() {
        return Ok(Vec::new());
    }
    let mut text = String::new();
    tree.open_file(&p)?
        .read_to_string(&mut text)
        .map_err(Error::io(tree.host_path(&p)))?;
    Ok(text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

fn write_lines(
    tree: &mut StagingTree,
    path: &str,
    lines: &[String],
    new_mode: u32,
) -> Result<(), Error> {
    let p = StagePath::new(path)?;
    let entry = match tree.manifest.get(&p) {
        Some(e) if matches!(e.kind, super::EntryKind::File) => e.clone(),
        _ => Entry::file(0, 0, new_mode),
    };
    if let Some(parent) = p.parent() {
        tree.ensure_dir_parents(&parent)?;
    }
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    tree.write_file(&p, &mut text.as_bytes(), entry)?;
    Ok(())
}
