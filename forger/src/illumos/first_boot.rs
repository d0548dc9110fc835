//! What the first boot of an image must finish: `/reconfigure`, a one-shot `zpool reguid` of
//! the root pool, the SMF repository seed, and no stale `/etc/zfs/zpool.cache`.
//!
//! Why (facts from kayak, the OmniOS installers and `zfs-on-disk.md` §6.4–6.5):
//! - `/reconfigure` makes the first boot a reconfiguration boot: devfsadm builds `/dev` and
//!   `/etc/path_to_inst` for the real hardware, and the `boot-archive-update` service rebuilds
//!   the boot archive afterwards.
//! - Every copy of one image has the same pool GUID (the ZFS writer derives it from the build
//!   seed, so builds are reproducible); two such disks could not be imported on one host. kayak
//!   runs `zpool reguid rpool` at first boot. Forger installs its own transient SMF service,
//!   `svc:/system/forger/reguid:default`, instead of relying on OmniOS's `/.initialboot` hook,
//!   so it also works on trees that lack that hook. manifest-import imports and enables it on
//!   the first boot; its method reguids the pool holding `/` (read from `/etc/mnttab`) and
//!   removes the marker `/etc/forger/reguid-pending`, so later boots do nothing.
//! - Installers copy `/lib/svc/seed/global.db` to `/etc/svc/repository.db` (`root:sys 0600`)
//!   when the image has no repository; the first boot then imports every manifest.
//! - `zpool.cache` must not ship: root import does not need it and a stale one names devices of
//!   the build machine.

use std::fs;

use super::{Error, Warning};
use crate::stage::{Entry, EntryKind, StagePath, StagingTree};

/// The reconfiguration flag file.
pub const RECONFIGURE: &str = "/reconfigure";
/// SMF manifest of the first-boot reguid service.
pub const REGUID_MANIFEST: &str = "/lib/svc/manifest/system/forger-reguid.xml";
/// Its method script.
pub const REGUID_METHOD: &str = "/lib/svc/method/forger-reguid";
/// The marker whose presence asks for the reguid; the method removes it.
pub const REGUID_MARKER: &str = "/etc/forger/reguid-pending";
/// The service's FMRI.
pub const REGUID_FMRI: &str = "svc:/system/forger/reguid:default";
/// The SMF repository.
pub const SMF_REPOSITORY: &str = "/etc/svc/repository.db";
/// The seed repository SMF ships for the global zone.
pub const SMF_SEED: &str = "/lib/svc/seed/global.db";
/// The ZFS pool cache that must not ship.
pub const ZPOOL_CACHE: &str = "/etc/zfs/zpool.cache";

/// illumos group id of `sys`.
const GID_SYS: u32 = 3;
/// illumos group id of `bin`.
const GID_BIN: u32 = 2;

/// The SMF manifest of the reguid service.
pub fn reguid_manifest() -> String {
    format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE service_bundle SYSTEM "/usr/share/lib/xml/dtd/service_bundle.dtd.1">
<!--
  Written by Forger. Every copy of a Forger-built disk image starts with the same ZFS pool
  GUID; on the first boot this service gives the root pool a new one (zpool reguid), then
  removes {REGUID_MARKER} so that later boots do nothing.
-->
<service_bundle type="manifest" name="forger:reguid">
  <service name="system/forger/reguid" type="service" version="1">
    <create_default_instance enabled="true"/>
    <single_instance/>
    <dependency name="fs-local" grouping="require_all" restart_on="none" type="service">
      <service_fmri value="svc:/system/filesystem/local:default"/>
    </dependency>
    <exec_method type="method" name="start" exec="{REGUID_METHOD}" timeout_seconds="600"/>
    <exec_method type="method" name="stop" exec=":true" timeout_seconds="60"/>
    <property_group name="startd" type="framework">
      <propval name="duration" type="astring" value="transient"/>
    </property_group>
    <stability value="Unstable"/>
    <template>
      <common_name>
        <loctext xml:lang="C">first-boot root pool GUID regeneration</loctext>
      </common_name>
    </template>
  </service>
</service_bundle>
"#
    )
}

/// The method script of the reguid service (POSIX sh, run by SMF as root).
pub fn reguid_method() -> String {
    format!(
        r#"#!/sbin/sh
#
# Written by Forger. On the first boot of a copy of the image, give the pool that holds /
# its own GUID, so that disks made from one image can be imported on one host.
#
. /lib/svc/share/smf_include.sh

MARKER={REGUID_MARKER}

[ -f "$MARKER" ] || exit $SMF_EXIT_OK

pool=`/usr/bin/nawk '$2 == "/" && $3 == "zfs" {{ sub(/\/.*/, "", $1); print $1; exit }}' /etc/mnttab`
if [ -z "$pool" ]; then
	echo "forger-reguid: / is not on ZFS; nothing to do"
	/usr/bin/rm -f "$MARKER"
	exit $SMF_EXIT_OK
fi

if /usr/sbin/zpool reguid "$pool"; then
	echo "forger-reguid: pool $pool has a new GUID"
	/usr/bin/rm -f "$MARKER"
	exit $SMF_EXIT_OK
fi
echo "forger-reguid: zpool reguid $pool failed"
exit $SMF_EXIT_ERR_FATAL
"#
    )
}

/// Adds the empty `/reconfigure` (`root:root 0644`).
pub fn add_reconfigure(tree: &mut StagingTree, epoch: i64) -> Result<(), Error> {
    let mut e = Entry::file(0, 0, 0o644);
    e.mtime = epoch;
    tree.write_file(&StagePath::new(RECONFIGURE)?, &mut &b""[..], e)?;
    Ok(())
}

/// Installs the first-boot reguid service: manifest (`root:sys 0444`), method
/// (`root:bin 0555`) and marker (`root:root 0644`).
pub fn add_reguid_service(tree: &mut StagingTree, epoch: i64) -> Result<(), Error> {
    let files: [(&str, String, u32, u32); 3] = [
        (REGUID_MANIFEST, reguid_manifest(), GID_SYS, 0o444),
        (REGUID_METHOD, reguid_method(), GID_BIN, 0o555),
        (
            REGUID_MARKER,
            format!("# Present until {REGUID_FMRI} has given the root pool a new GUID.\n"),
            0,
            0o644,
        ),
    ];
    for (path, text, gid, mode) in files {
        let path = StagePath::new(path)?;
        tree.ensure_dir_parents(&path.parent().expect("has a parent"))?;
        let mut e = Entry::file(0, gid, mode);
        e.mtime = epoch;
        tree.write_file(&path, &mut text.as_bytes(), e)?;
    }
    Ok(())
}

/// Copies the seed repository into place when the image has no SMF repository yet. Returns a
/// warning saying the first boot imports the manifests, or `None` when nothing was done.
pub fn seed_smf_repository(tree: &mut StagingTree, epoch: i64) -> Result<Option<Warning>, Error> {
    let repo = StagePath::new(SMF_REPOSITORY)?;
    if tree.manifest.get(&repo).is_some() {
        return Ok(None);
    }
    let seed = StagePath::new(SMF_SEED)?;
    let Some(seed) = tree.manifest.content_path(&seed).cloned() else {
        return Ok(Some(Warning {
            code: "smf-unseeded",
            message: format!(
                "the image has neither {SMF_REPOSITORY} nor {SMF_SEED}: SMF cannot start; \
                 install the illumos base system (SUNWcs)"
            ),
        }));
    };
    let host = tree.host_path(&seed);
    let mut src = fs::File::open(&host).map_err(Error::io(&host))?;
    tree.ensure_dir_parents(&repo.parent().expect("has a parent"))?;
    let mut e = Entry::file(0, GID_SYS, 0o600);
    e.mtime = epoch;
    tree.write_file(&repo, &mut src, e)?;
    Ok(Some(Warning {
        code: "smf-import-at-first-boot",
        message: format!(
            "{SMF_REPOSITORY} was seeded from {SMF_SEED}; the first boot imports every SMF \
             manifest (svccfg cannot run on this build host), which adds a minute or so"
        ),
    }))
}

/// Removes a shipped `/etc/zfs/zpool.cache`; returns a warning when there was one.
pub fn remove_zpool_cache(tree: &mut StagingTree) -> Result<Option<Warning>, Error> {
    let cache = StagePath::new(ZPOOL_CACHE)?;
    match tree.manifest.get(&cache).map(|e| &e.kind) {
        None => Ok(None),
        Some(EntryKind::Directory) => Ok(None),
        Some(_) => {
            tree.remove(&cache)?;
            Ok(Some(Warning {
                code: "zpool-cache-removed",
                message: format!(
                    "removed {ZPOOL_CACHE} from the image: it names the build machine's devices \
                     and the root pool is found without it"
                ),
            }))
        }
    }
}
