//! `devfsadm` offline: the part of `/dev` a non-illumos build host can make.
//!
//! devfsadm cannot run here (it needs the illumos kernel's device tree), so the image boots with
//! a `/dev` skeleton and `/reconfigure`, and devfsadm builds the rest on the first boot. What the
//! boot needs before devfsadm runs is the links to pseudo devices, whose `/devices` paths are
//! the same on every machine: `init` starts svc.startd with `>/dev/msglog </dev/console`, and
//! the OmniOS installers create `/dev/msglog` by hand for that reason (kayak `BE_LinkMsglog`).
//! The link targets are the ones devfsadm makes (`../devices/pseudo/<driver>@0:<minor>`).
//!
//! Hardware links copied from a build machine are stale on the target, so the contents of
//! `/dev/dsk`, `/dev/rdsk`, `/dev/cfg` and `/dev/usb` are removed, as the OmniOS installer does
//! after `devfsadm -r`.

use super::{Error, Warning};
use crate::stage::{Entry, EntryKind, StagePath, StagingTree};

/// The pseudo-device links created when missing: (name under `/dev`, target).
pub const PSEUDO_LINKS: &[(&str, &str)] = &[
    ("conslog", "../devices/pseudo/log@0:conslog"),
    ("console", "../devices/pseudo/cn@0:console"),
    ("ksyms", "../devices/pseudo/ksyms@0:ksyms"),
    ("kstat", "../devices/pseudo/kstat@0:kstat"),
    ("log", "../devices/pseudo/log@0:log"),
    ("msglog", "../devices/pseudo/sysmsg@0:msglog"),
    ("null", "../devices/pseudo/mm@0:null"),
    ("ptmx", "../devices/pseudo/clone@0:ptm"),
    ("random", "../devices/pseudo/random@0:random"),
    ("syscon", "../devices/pseudo/cn@0:syscon"),
    ("sysmsg", "../devices/pseudo/sysmsg@0:sysmsg"),
    ("systty", "../devices/pseudo/cn@0:systty"),
    ("tty", "../devices/pseudo/sy@0:tty"),
    ("urandom", "../devices/pseudo/random@0:urandom"),
    ("zero", "../devices/pseudo/mm@0:zero"),
    ("zfs", "../devices/pseudo/zfs@0:zfs"),
    ("stdin", "./fd/0"),
    ("stdout", "./fd/1"),
    ("stderr", "./fd/2"),
];

/// Directories whose contents are hardware links of the build machine.
pub const STALE_DIRS: &[&str] = &["/dev/dsk", "/dev/rdsk", "/dev/cfg", "/dev/usb"];

/// illumos group id of `sys`.
const GID_SYS: u32 = 3;

/// What [`populate_dev`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevReport {
    /// Links created (`/dev/msglog`, …).
    pub created: Vec<String>,
    /// Stale hardware entries removed.
    pub removed: Vec<String>,
}

/// Creates the missing pseudo-device links (`root:root 0777`, mtime `epoch`; existing entries
/// are kept), makes `/dev` (`root:sys 0755`) if absent, and empties the stale hardware-link
/// directories.
pub fn populate_dev(tree: &mut StagingTree, epoch: i64) -> Result<DevReport, Error> {
    let dev = StagePath::new("/dev")?;
    if tree.manifest.get(&dev).is_none() {
        tree.ensure_dir(&dev, 0, GID_SYS, 0o755)?;
    }
    let mut report = DevReport::default();
    for (name, target) in PSEUDO_LINKS {
        let path = dev.join(name)?;
        if tree.manifest.get(&path).is_some() {
            continue;
        }
        let mut e = Entry::new(
            EntryKind::Symlink {
                target: (*target).to_owned(),
            },
            0,
            0,
            0o777,
        );
        e.mtime = epoch;
        tree.add_special(&path, e)?;
        report.created.push(path.to_string());
    }
    for dir in STALE_DIRS {
        let dir = StagePath::new(dir)?;
        if !tree.manifest.get(&dir).is_some_and(Entry::is_dir) {
            continue;
        }
        let children: Vec<String> = tree
            .manifest
            .children(&dir)
            .map(|(p, _)| p.to_string())
            .collect();
        if !children.is_empty() {
            tree.clear_dir(&dir)?;
            report.removed.extend(children);
        }
    }
    Ok(report)
}

/// The warning that says what is left for devfsadm on the first boot.
pub fn first_boot_warning(report: &DevReport) -> Warning {
    let mut message = String::from(
        "devfsadm cannot run on this build host. Made offline: /dev links to pseudo devices \
         (console, msglog, null, zero, tty, random, zfs, ...)",
    );
    if !report.created.is_empty() {
        message.push_str(&format!(", {} of them new", report.created.len()));
    }
    if !report.removed.is_empty() {
        message.push_str(&format!(
            "; removed {} stale hardware links of the build machine",
            report.removed.len()
        ));
    }
    message.push_str(
        ". Left for the first (reconfiguration) boot: disk links (/dev/dsk, /dev/rdsk), \
         attachment points (/dev/cfg), serial ports (/dev/term, /dev/cua), network links \
         (/dev/net), USB and other hardware links, and the instance numbers in \
         /etc/path_to_inst; /reconfigure is in the image so this happens.",
    );
    Warning {
        code: "devfsadm-offline",
        message,
    }
}
