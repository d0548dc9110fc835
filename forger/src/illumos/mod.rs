//! OmniOS/illumos finishing steps: what happens to a staged illumos tree (from IPS, a tarball
//! or a `--rootfs` tree) between the overlays and the disk writers, so that the disk boots.
//! [`finish`] runs them all in this order:
//!
//! 1. `/dev` skeleton ([`devices`]): pseudo-device links such as `/dev/msglog`, stale hardware
//!    links removed; a `devfsadm-offline` warning lists what the first boot still does.
//! 2. `/reconfigure` and, when asked, the first-boot `zpool reguid` service ([`first_boot`]);
//!    the SMF repository seeded from `/lib/svc/seed/global.db` when absent; no
//!    `/etc/zfs/zpool.cache`.
//! 3. Console settings for the loader and kernel ([`loader`]).
//! 4. Last, because it packs files of the tree: the boot archive
//!    `/platform/i86pc/amd64/boot_archive` and its `.hash` ([`boot_archive`]).
//!
//! Not here: `/boot/menu.lst` in the pool's root dataset and the label state (the ZFS writer),
//! boot blocks and the ESP (the disk layer).

pub mod boot_archive;
pub mod devices;
mod error;
pub mod first_boot;
pub mod loader;

pub use boot_archive::{ArchiveReport, write_boot_archive};
pub use error::Error;
pub use loader::{Console, ConsoleOptions};

use crate::stage::StagePath;
use crate::stage::StagingTree;
pub use crate::stage::Warning;

/// Settings of [`finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishOptions {
    /// Time of every file written and upper bound of every date in the boot archive, seconds
    /// since the epoch (`SOURCE_DATE_EPOCH`).
    pub epoch: i64,
    /// Console of the loader and the kernel.
    pub console: ConsoleOptions,
    /// Install the one-shot service that runs `zpool reguid` on the root pool at first boot, so
    /// that copies of one image do not share a pool GUID.
    pub reguid_on_first_boot: bool,
}

impl Default for FinishOptions {
    fn default() -> Self {
        FinishOptions {
            epoch: 0,
            console: ConsoleOptions::default(),
            reguid_on_first_boot: true,
        }
    }
}

/// Finishes a staged illumos tree so the disk made from it boots: `/dev` skeleton,
/// `/reconfigure`, first-boot reguid, SMF seed, console settings and the boot archive.
/// Returns what was left for the first boot or changed on the way, as warnings.
pub fn finish(tree: &mut StagingTree, opts: &FinishOptions) -> Result<Vec<Warning>, Error> {
    let mut warnings = Vec::new();
    let dev = devices::populate_dev(tree, opts.epoch)?;
    warnings.push(devices::first_boot_warning(&dev));
    first_boot::add_reconfigure(tree, opts.epoch)?;
    if opts.reguid_on_first_boot {
        first_boot::add_reguid_service(tree, opts.epoch)?;
    }
    warnings.extend(first_boot::seed_smf_repository(tree, opts.epoch)?);
    warnings.extend(first_boot::remove_zpool_cache(tree)?);
    // A console configuration the image brings itself (an overlay) is kept.
    if tree
        .manifest
        .get(&StagePath::new(loader::CONSOLE_CONF)?)
        .is_none()
    {
        loader::write_console_settings(tree, &opts.console, opts.epoch)?;
    }
    let report = write_boot_archive(tree, opts.epoch)?;
    warnings.push(Warning {
        code: "boot-archive-stat-cache",
        message: format!(
            "boot archive written ({} files, {} bytes); bootadm's stat cache \
             /boot/solaris/filestat.ramdisk is not, so illumos rebuilds the archive once \
             at the first shutdown",
            report.files, report.bytes
        ),
    });
    Ok(warnings)
}
