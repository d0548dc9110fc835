//! Overlay actions: ordered changes to the staged tree after the payload is installed.

use std::path::PathBuf;

use bon::Builder;
use serde::{Deserialize, Serialize};

use super::Mode;

/// An `overlays` block: actions applied in order, optionally only under a profile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Builder)]
#[serde(rename_all = "kebab-case")]
pub struct OverlaySet {
    /// The profile under which the block counts; always when `None`.
    #[builder(into)]
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Directory that `source` paths resolve against; the declaring fragment's when `None`.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_dir: Option<PathBuf>,
    /// The actions, in order.
    #[builder(default)]
    #[serde(default)]
    pub actions: Vec<Overlay>,
}

/// One overlay action. Paths inside the image are absolute (`/etc/hosts`); owner and group
/// names resolve against the image's own `/etc/passwd` and `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Overlay {
    /// Copy a file in (or create an empty one, or one with inline content).
    File(FileOverlay),
    /// Make sure a directory exists with this ownership and mode.
    EnsureDir(EnsureDir),
    /// Replace whatever is at `path` with a symlink.
    EnsureSymlink(EnsureSymlink),
    /// Remove files, empty directories, or names matching a prefix pattern.
    RemoveFiles(RemoveFiles),
    /// Set a user's password hash in `/etc/shadow`.
    Shadow(Shadow),
    /// illumos: build the `/dev` links for the image (what can be done offline).
    Devfsadm,
}

/// `file destination=… source=… owner=… group=… mode=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[builder(start_fn = to)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileOverlay {
    /// Absolute path in the image; parents are created.
    #[builder(start_fn, into)]
    pub destination: String,
    /// Host file, relative to the block's base directory (`files/<path>` first).
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
    /// Inline content (when there is no `source`); an empty file when neither is given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Owner name; `root` when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Group name; the owner's primary group when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Permission bits; `0644` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

/// `ensure-dir "/path" owner=… group=… mode=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[builder(start_fn = at)]
#[serde(deny_unknown_fields)]
pub struct EnsureDir {
    /// Absolute path in the image; parents are created.
    #[builder(start_fn, into)]
    pub path: String,
    /// Owner name; `root` when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Group name; the owner's primary group when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Permission bits; `0755` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

/// `ensure-symlink "/path" target=… owner=… group=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[builder(start_fn = at)]
#[serde(deny_unknown_fields)]
pub struct EnsureSymlink {
    /// Absolute path of the link in the image.
    #[builder(start_fn, into)]
    pub path: String,
    /// Link target, verbatim.
    #[builder(into)]
    pub target: String,
    /// Owner name; `root` when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Group name; the owner's primary group when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// `remove-files file=… dir=… pattern=…` or positional `remove-files "/a" "/b"`.
/// Missing paths are not an error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Builder)]
#[serde(deny_unknown_fields)]
pub struct RemoveFiles {
    /// Files (or whole directories) to remove.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Directories to empty (the directory itself stays).
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<String>,
    /// `/dir/prefix*` patterns: names in `/dir` starting with `prefix` are removed.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<String>,
}

/// `shadow username=… password=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shadow {
    /// The user whose entry is set (added when missing).
    pub username: String,
    /// The password hash, verbatim.
    pub password: String,
}
