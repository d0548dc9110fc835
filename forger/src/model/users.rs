//! Users created in the image (`customization { user "ci" }` and the extensions users ask
//! for: ids, groups, shell, home, ssh keys, password hash).

use bon::Builder;
use serde::{Deserialize, Serialize};

/// A `customization` block: users to create, optionally only under a profile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Builder)]
pub struct Customization {
    /// The profile under which the block counts; always when `None`.
    #[builder(into)]
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The users, in order.
    #[builder(default)]
    #[serde(default)]
    pub users: Vec<User>,
}

/// A user account added to the image's `/etc/passwd`, `/etc/shadow` and `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[builder(start_fn = named)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct User {
    /// Login name.
    #[builder(start_fn, into)]
    pub name: String,
    /// User id; the next free id from 1000 when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Primary group id; a group named like the user is created when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Supplementary groups (by name; created when missing).
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Login shell; `/bin/sh` on illumos and `/bin/bash` on Linux when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Home directory; `/home/<name>` (Linux) or `/export/home/<name>` (illumos) when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Whether the home directory is created (owned by the user, mode 0755).
    #[builder(default = true)]
    #[serde(default = "yes")]
    pub create_home: bool,
    /// Lines for `~/.ssh/authorized_keys`.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorized_keys: Vec<String>,
    /// Password hash for `/etc/shadow` (`$6$…`); the account is locked when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// GECOS comment.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

fn yes() -> bool {
    true
}

impl User {
    /// A user with every other field at its default.
    pub fn new(name: impl Into<String>) -> Self {
        User::named(name).build()
    }
}
