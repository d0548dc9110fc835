//! Dispatch from a target to the writer of its output, and from a distribution to its
//! package installer. This is where the model's settings meet the format writers' options.

use std::path::{Path, PathBuf};

use super::Error;
use crate::boot::{FstabEntry, LinuxBoot, write_fstab};
use crate::cache::Cache;
use crate::disk::{self, Format, Layout, PartitionContent, WriteOptions};
use crate::fs::ext4::Ext4Writer;
use crate::fs::fat::Esp;
use crate::model::{Bootloader, DiskTarget, Family, FsKind, Target, TargetKind};
use crate::payload::apt::{AptMirror, AptPayload};
use crate::payload::{self, Payload, PayloadSource};
use crate::plan::Plan;
use crate::seed::Seed;
use crate::stage::{StagingTree, Warning};

/// The package installer for the plan's distribution; `.deb` files are kept in the stage
/// cache's `apt-archives` directory across builds.
pub(crate) fn package_payload(plan: &Plan, cache: Option<&Cache>) -> crate::Result<Payload> {
    match plan.distro.family() {
        Family::Apt => {
            let mut apt = AptPayload::for_distro(&plan.distro.to_string())?;
            if let Some(suite) = plan.distro.apt_suite() {
                apt.suite = suite;
            }
            if !plan.repositories.apt_mirrors.is_empty() {
                apt.mirrors = plan
                    .repositories
                    .apt_mirrors
                    .iter()
                    .map(|m| {
                        let comps: Vec<&str> = m.components.iter().map(String::as_str).collect();
                        AptMirror::new(
                            &m.url,
                            &m.suite,
                            if comps.is_empty() { &["main"] } else { &comps },
                        )
                    })
                    .collect();
                apt.suite = plan.repositories.apt_mirrors[0].suite.clone();
            }
            apt.packages = plan.packages.iter().map(|p| p.to_string()).collect();
            apt.architecture = Some(plan.architecture.as_str().to_owned());
            apt.source_date_epoch = Some(plan.epoch);
            apt.cache_dir = cache.map(|c| c.dir().join("apt-archives"));
            Ok(Payload::custom(apt))
        }
        Family::Ips => Err(payload::Error::NoInstaller {
            distro: plan.distro.to_string(),
            help: "build from a prepared root file system with --rootfs DIR|TARBALL".to_owned(),
        }
        .into()),
    }
}

impl PayloadSource for AptPayload {
    fn describe(&self) -> String {
        format!(
            "mmdebstrap {} ({} packages)",
            self.suite,
            self.packages.len()
        )
    }

    /// The plan already hashes suite, mirrors and packages; this names the installer.
    fn fingerprint(&self) -> Result<String, payload::Error> {
        Ok(format!("apt:{}", self.variant.as_str()))
    }

    fn install(&self, tree: &mut StagingTree) -> Result<(), payload::Error> {
        AptPayload::install(self, tree)
            .map_err(|e| payload::Error::Installer(Box::new(e.into())))?;
        Ok(())
    }
}

/// The output file (or directory) name of `target` when its stem is `stem`.
pub(crate) fn file_name(target: &Target, stem: &str) -> String {
    match target.kind {
        TargetKind::Qcow2(_) => format!("{stem}.qcow2"),
        TargetKind::Raw(_) => format!("{stem}.raw"),
        TargetKind::Oci(_) => format!("{stem}-oci"),
        TargetKind::Artifact(ref a) => match a.compression {
            crate::model::Compression::None => format!("{stem}.tar"),
            crate::model::Compression::Gzip => format!("{stem}.tar.gz"),
            crate::model::Compression::Zstd => format!("{stem}.tar.zst"),
        },
    }
}

/// Writes `target`'s output for `tree` to `dest` (through a temporary name) and returns it
/// with any warnings. Disk targets first write the files that depend on the disk (fstab).
pub(crate) fn write(
    plan: &Plan,
    target: &Target,
    tree: &mut StagingTree,
    dest: &Path,
) -> crate::Result<(PathBuf, Vec<Warning>)> {
    let seed = Seed::for_target(&plan.metadata.name, &plan.metadata.version, &target.name);
    match &target.kind {
        TargetKind::Qcow2(d) => write_disk(plan, target, d, tree, dest, &seed, qcow2_format(d)),
        TargetKind::Raw(d) => write_disk(plan, target, d, tree, dest, &seed, Format::Raw),
        TargetKind::Oci(_) | TargetKind::Artifact(_) => Err(Error::UnsupportedTarget {
            target: target.name.clone(),
            kind: target.kind.keyword(),
            help: "this build of Forger has no writer for it",
        }
        .into()),
    }
}

fn qcow2_format(d: &DiskTarget) -> Format {
    let compression = match d.compression {
        None | Some(crate::model::Compression::None) => disk::Compression::None,
        Some(crate::model::Compression::Gzip) => disk::Compression::Zlib,
        Some(crate::model::Compression::Zstd) => disk::Compression::Zstd,
    };
    Format::Qcow2 { compression }
}

fn write_disk(
    plan: &Plan,
    target: &Target,
    d: &DiskTarget,
    tree: &mut StagingTree,
    dest: &Path,
    seed: &Seed,
    format: Format,
) -> crate::Result<(PathBuf, Vec<Warning>)> {
    let family = plan.distro.family();
    let fs = d.filesystem.unwrap_or(match family {
        Family::Ips => FsKind::Zfs,
        Family::Apt => FsKind::Ext4,
    });
    let sector = d.layout.sector_size.bytes() as u32;
    let mut warnings = Vec::new();
    match fs {
        FsKind::Ext4 => {
            let bootloader = d.bootloader.unwrap_or(Bootloader::Uefi);
            if matches!(bootloader, Bootloader::Bios | Bootloader::Both) {
                return Err(Error::UnsupportedTarget {
                    target: target.name.clone(),
                    kind: "BIOS-booting ext4",
                    help: "use bootloader \"uefi\": Linux images boot with systemd-boot on UEFI",
                }
                .into());
            }
            if bootloader == Bootloader::Grub {
                warnings.push(Warning {
                    code: "grub-as-systemd-boot",
                    message: format!(
                        "target `{}` asks for GRUB; Forger installs systemd-boot on the ESP, which \
                         needs no chroot or NVRAM and boots the same kernel and initrd",
                        target.name
                    ),
                });
            }
            let esp_size = d.layout.esp_size.map_or(512 << 20, |s| s.as_bytes());
            let layout = Layout::linux(d.disk_size.as_bytes(), esp_size, sector, false)?;
            let (esp_index, root_index) = (
                layout.index_of("esp").expect("the Linux layout has an ESP"),
                layout
                    .index_of("root")
                    .expect("the Linux layout has a root partition"),
            );
            let ext4 = Ext4Writer::from_seed(seed, "root", "root", plan.epoch);
            let entry_id = plan.distro.to_string();
            let boot = LinuxBoot::new(entry_id.split('-').next().unwrap_or("linux"), &ext4.uuid);
            let esp = Esp::new(boot.esp_files(tree)?, sector, seed)
                .with_epoch(plan.epoch)
                .with_label("ESP");
            write_fstab(
                tree,
                &[
                    FstabEntry::ext4_root(&ext4.uuid),
                    FstabEntry::esp(esp.volume_id(), "/boot/efi"),
                ],
                plan.epoch,
            )?;
            let contents = [
                PartitionContent {
                    partition: esp_index,
                    filesystem: &esp,
                },
                PartitionContent {
                    partition: root_index,
                    filesystem: &ext4,
                },
            ];
            disk::write(
                &layout,
                &contents,
                tree,
                dest,
                &WriteOptions::new(format),
                seed,
            )?;
        }
        FsKind::Zfs => {
            return Err(Error::UnsupportedTarget {
                target: target.name.clone(),
                kind: "ZFS disk",
                help: "this build of Forger has no ZFS writer",
            }
            .into());
        }
    }
    Ok((dest.to_path_buf(), warnings))
}
