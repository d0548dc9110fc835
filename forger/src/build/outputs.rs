//! Dispatch from a target to the writer of its output, and from a distribution to its
//! package installer. This is where the model's settings meet the format writers' options.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::archive::{self, ArchiveOptions, BlockMemo};
use crate::boot::{FstabEntry, GrubBoot, LinuxBoot, write_fstab};
use crate::cache::Cache;
use crate::disk::{
    self, Format, GrubBiosBoot, IllumosBiosBoot, Layout, PartitionContent, WriteOptions,
};
use crate::fs::ext4::{Ext4Base, Ext4Writer, ImageStore};
use crate::fs::fat::{Esp, illumos_esp_files};
use crate::fs::zfs::{Compression as ZfsCompression, DatasetSpec, PoolOptions, ZfsWriter};
use crate::illumos::{self, FinishOptions};
use crate::model::{Bootloader, DiskTarget, Family, FsKind, Target, TargetKind};
use crate::oci::{self, ArtifactKind, ArtifactMeta, ImageConfig, LayoutOptions};
use crate::payload::apt::{AptMirror, AptPayload};
use crate::payload::ips::{self, IpsClient, IpsPayload, SystemPkg};
use crate::payload::{self, Payload, PayloadSource};
use crate::plan::Plan;
use crate::seed::Seed;
use crate::stage::{StagingTree, Warning};

/// The package installers for the plan's distribution, one per payload stage: the first
/// bootstraps the system with the packages of the lowest base layer (or all of them), each
/// further one adds the packages of the next layer, the last those of the image itself.
/// `.deb` files are kept in the stage cache's `apt-archives` directory across builds. An APT
/// mirror override in the plan brings its own keyrings (see [`crate::plan::AptOverride`]).
pub(crate) fn package_payloads(
    plan: &Plan,
    cache: Option<&Cache>,
    ips_client: IpsClient,
) -> crate::Result<Vec<Payload>> {
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
            if plan.apt_mirrors_overridden {
                // The distribution's default keyring does not speak for an overriding mirror:
                // use the given keyrings, or none (the host's apt keys).
                apt.keyrings = plan.apt_keyrings.iter().map(|k| k.path.clone()).collect();
            }
            apt.architecture = Some(plan.architecture.as_str().to_owned());
            apt.source_date_epoch = Some(plan.epoch);
            apt.cache_dir = cache.map(|c| c.dir().join("apt-archives"));
            let names = |from: usize, to: usize| -> Vec<String> {
                plan.packages[from..to]
                    .iter()
                    .map(|p| p.to_string())
                    .collect()
            };
            let mut ends: Vec<usize> = plan.layers.iter().map(|l| l.packages).collect();
            ends.push(plan.packages.len());
            let mut from = 0;
            Ok(ends
                .into_iter()
                .enumerate()
                .map(|(i, to)| {
                    let layer = AptPayload {
                        packages: names(from, to),
                        onto_tree: i > 0,
                        ..apt.clone()
                    };
                    from = to;
                    Payload::custom(layer)
                })
                .collect())
        }
        Family::Ips => {
            if plan.repositories.publishers.is_empty() {
                return Err(payload::Error::NoInstaller {
                    distro: plan.distro.to_string(),
                    help: "add a publisher to repositories, or build from a prepared root file \
                           system with --rootfs DIR|TARBALL"
                        .to_owned(),
                }
                .into());
            }
            let whole = IpsPayload {
                publishers: plan
                    .repositories
                    .publishers
                    .iter()
                    .map(|p| ips::Publisher {
                        name: p.name.clone(),
                        origin: p.origin.clone(),
                        client_cert: None,
                    })
                    .collect(),
                incorporation: plan.incorporation.clone(),
                packages: plan.packages.iter().map(|p| p.to_string()).collect(),
                variants: plan
                    .variants
                    .iter()
                    .map(|v| (format!("variant.{}", v.name), v.value.clone()))
                    .collect(),
                facets: plan
                    .facets
                    .iter()
                    .map(|f| (format!("facet.{}", f.name), f.value))
                    .collect(),
                ca_certs: plan
                    .certificates
                    .iter()
                    .map(|c| c.certfile.clone())
                    .collect(),
                cache_dir: cache.map(|c| c.dir().join("ips-payloads")),
                source_date_epoch: plan.epoch,
                seed: Seed::for_target(&plan.metadata.name, &plan.metadata.version, "payload"),
                ..IpsPayload::default()
            };
            // One request per layer: a base's packages with its own ids, then the image's.
            let names = |to: usize| -> Vec<String> {
                plan.packages[..to].iter().map(|p| p.to_string()).collect()
            };
            let mut requests: Vec<IpsPayload> = plan
                .layers
                .iter()
                .map(|l| IpsPayload {
                    packages: names(l.packages),
                    seed: Seed::for_target(&l.base, &l.version, "payload"),
                    ..whole.clone()
                })
                .collect();
            requests.push(whole);
            for i in 1..requests.len() {
                requests[i].below = requests[i - 1].packages.clone();
            }
            let program = ips_client.program().map_err(payload_error)?;
            Ok(requests
                .into_iter()
                .map(|request| match &program {
                    None => Payload::custom(request),
                    Some(program) => Payload::custom(SystemPkg {
                        program: program.clone(),
                        request,
                        approve_ca_certs: plan
                            .certificates
                            .iter()
                            .map(|c| (c.publisher.clone(), c.certfile.clone()))
                            .collect(),
                    }),
                })
                .collect())
        }
    }
}

impl PayloadSource for IpsPayload {
    fn describe(&self) -> String {
        format!(
            "IPS install from {} publisher(s) ({} packages)",
            self.publishers.len(),
            self.packages.len()
        )
    }

    /// The plan hashes publishers, incorporation, variants, facets and packages; this adds
    /// the catalogs' state ([`crate::cache::snapshot::ips`]).
    fn fingerprint(&self) -> Result<String, payload::Error> {
        let snapshot =
            crate::cache::snapshot::ips(&self.publishers, &self.ca_certs).map_err(payload_error)?;
        Ok(format!("ips:native\n{snapshot}"))
    }

    fn install(&self, tree: &mut StagingTree) -> Result<(), payload::Error> {
        IpsPayload::install(self, tree).map_err(payload_error)?;
        Ok(())
    }
}

impl PayloadSource for SystemPkg {
    fn describe(&self) -> String {
        format!(
            "pkg install from {} publisher(s) ({} packages)",
            self.request.publishers.len(),
            self.request.packages.len()
        )
    }

    /// The same request as the native client's, installed by another program.
    fn fingerprint(&self) -> Result<String, payload::Error> {
        Ok(format!(
            "pkg({})",
            PayloadSource::fingerprint(&self.request)?
        ))
    }

    fn install(&self, tree: &mut StagingTree) -> Result<(), payload::Error> {
        SystemPkg::install(self, tree).map_err(payload_error)?;
        Ok(())
    }
}

/// An installer's or a snapshot's failure, as the payload error the pipeline reports.
fn payload_error(e: impl Into<crate::Error>) -> payload::Error {
    payload::Error::Installer(Box::new(e.into()))
}

impl PayloadSource for AptPayload {
    fn describe(&self) -> String {
        let how = if self.onto_tree { "adds" } else { "installs" };
        format!(
            "mmdebstrap {} ({how} {} packages)",
            self.suite,
            self.packages.len()
        )
    }

    /// The plan hashes suite, mirrors and packages; this names the installer and adds the
    /// mirrors' state ([`crate::cache::snapshot::apt`]).
    fn fingerprint(&self) -> Result<String, payload::Error> {
        let snapshot = crate::cache::snapshot::apt(&self.mirrors).map_err(payload_error)?;
        Ok(format!("apt:{}\n{snapshot}", self.variant.as_str()))
    }

    fn install(&self, tree: &mut StagingTree) -> Result<(), payload::Error> {
        AptPayload::install(self, tree).map_err(payload_error)?;
        Ok(())
    }
}

/// The installed payload before overlays, which ext4 disks are built on (see
/// [`crate::fs::ext4::Ext4Base`]), and its stage hash.
pub(crate) struct Base {
    pub(crate) tree: Arc<StagingTree>,
    pub(crate) key: String,
}

/// True when `target` is a disk whose root file system is built as the payload's image plus
/// the overlays' changes: ext4.
pub(crate) fn builds_on_payload(plan: &Plan, target: &Target) -> bool {
    match &target.kind {
        TargetKind::Qcow2(d) | TargetKind::Raw(d) => root_fs(plan, d) == FsKind::Ext4,
        TargetKind::Oci(_) | TargetKind::Artifact(_) => false,
    }
}

/// The disk's root file system: as asked, else the distribution's own.
fn root_fs(plan: &Plan, d: &DiskTarget) -> FsKind {
    d.filesystem.unwrap_or(match plan.distro.family() {
        Family::Ips => FsKind::Zfs,
        Family::Apt => FsKind::Ext4,
    })
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
/// with any warnings. `tree` is only read, so several targets can be written at once.
/// A disk target adds the files that belong to that one disk (fstab with its UUIDs, the
/// illumos boot archive) to its own hard-linked copy of the tree, made in `scratch`: no
/// other target sees them, so each output is the same whatever ran or hit before it.
/// Archives and OCI layers reuse the compressed blocks `cache` kept from earlier builds; ext4
/// disks build on `base` and its image kept in `cache`.
pub(crate) fn write(
    plan: &Plan,
    target: &Target,
    tree: &StagingTree,
    base: Option<&Base>,
    scratch: &Path,
    dest: &Path,
    cache: Option<&Cache>,
) -> crate::Result<(PathBuf, Vec<Warning>)> {
    let memo = cache.map(|c| Arc::new(c.clone()) as Arc<dyn BlockMemo>);
    let seed = Seed::for_target(&plan.metadata.name, &plan.metadata.version, &target.name);
    let on_own_copy = |d: &DiskTarget, format: Format| {
        let mut own = tree.link_clone(scratch)?;
        let base = base.map(|b| Ext4Base {
            tree: Arc::clone(&b.tree),
            key: b.key.clone(),
            store: cache.map(|c| Arc::new(c.clone()) as Arc<dyn ImageStore>),
        });
        let written = write_disk(plan, d, &mut own, base, dest, &seed, format);
        fs::remove_dir_all(scratch).map_err(crate::build::Error::io(scratch))?;
        written
    };
    match &target.kind {
        TargetKind::Qcow2(d) => on_own_copy(d, qcow2_format(d)),
        TargetKind::Raw(d) => on_own_copy(d, Format::Raw),
        TargetKind::Artifact(a) => {
            let options = ArchiveOptions {
                memo,
                ..ArchiveOptions::new(archive_compression(a.compression), plan.epoch)
            };
            archive::write(tree, dest, &options)?;
            Ok((dest.to_path_buf(), Vec::new()))
        }
        TargetKind::Oci(o) => {
            let config = ImageConfig {
                os: plan.distro.oci_os().to_owned(),
                architecture: plan.architecture.as_str().to_owned(),
                entrypoint: o.entrypoint.clone(),
                cmd: o.cmd.clone(),
                env: o
                    .env
                    .iter()
                    .map(|e| (e.name.clone(), e.value.clone()))
                    .collect(),
                working_dir: o.working_dir.clone(),
                user: o.user.clone(),
                labels: o.labels.clone(),
                exposed_ports: o.exposed_ports.clone(),
                annotations: o.annotations.clone(),
                created: plan.epoch,
                history: vec![format!(
                    "forger: {} {}",
                    plan.metadata.name, plan.metadata.version
                )],
            };
            let options = LayoutOptions {
                compression: archive_compression(o.compression),
                epoch: plan.epoch,
                tag: plan.metadata.version.clone(),
                threads: 0,
                memo,
            };
            let (out_dir, name) = split_layout_dest(dest);
            let report = oci::write_layout(tree, out_dir, name, &config, &options)?;
            Ok((report.dir, Vec::new()))
        }
    }
}

/// `<out>/<stem>-oci` → (`<out>`, `<stem>`), as the layout writer names its directory.
fn split_layout_dest(dest: &Path) -> (&Path, &str) {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix("-oci"))
        .unwrap_or("image");
    (dir, name)
}

fn archive_compression(c: crate::model::Compression) -> archive::Compression {
    match c {
        crate::model::Compression::None => archive::Compression::None,
        crate::model::Compression::Gzip => archive::Compression::Gzip,
        crate::model::Compression::Zstd => archive::Compression::Zstd,
    }
}

/// Pushes a finished output to `reference`: OCI layouts as images, QCOW2 files and tarballs
/// as artifacts whose config comes from the image's metadata.
pub(crate) fn push(
    plan: &Plan,
    target: &Target,
    path: &Path,
    reference: &str,
    options: &oci::PushOptions,
) -> crate::Result<oci::PushReport> {
    let kind = match target.kind {
        TargetKind::Oci(_) => return Ok(oci::push_layout(path, reference, options)?),
        TargetKind::Qcow2(_) => ArtifactKind::Qcow2,
        TargetKind::Raw(_) | TargetKind::Artifact(_) => ArtifactKind::Tarball,
    };
    let meta = ArtifactMeta {
        name: plan.metadata.name.clone(),
        version: plan.metadata.version.clone(),
        architecture: plan.architecture.as_str().to_owned(),
        os: plan.distro.oci_os().to_owned(),
        description: plan.metadata.description.clone().unwrap_or_default(),
        kind,
    };
    Ok(oci::push_artifact(path, reference, &meta, options)?)
}

/// The model's pool settings as the ZFS writer's options: `ashift` from the pool
/// properties, `compression` from the root dataset's properties (lz4 or off), every other
/// root property on the pool's root dataset, and the extra datasets.
fn pool_options(plan: &Plan, d: &DiskTarget, seed: &Seed) -> crate::Result<PoolOptions> {
    let mut pool = PoolOptions::new(seed.clone());
    pool.pool_name = d.pool.name.clone();
    pool.be_name = d
        .pool
        .boot_environment
        .clone()
        .unwrap_or_else(|| plan.distro.default_boot_environment().to_owned());
    pool.timestamp = plan.epoch.max(0) as u64;
    for p in &d.pool.properties {
        match p.name.as_str() {
            "ashift" => pool.ashift = p.value.parse().unwrap_or(12),
            _ => {
                pool.pool_properties.insert(p.name.clone(), p.value.clone());
            }
        }
    }
    let mut root = std::collections::BTreeMap::new();
    for p in &d.pool.filesystem_properties {
        match (p.name.as_str(), p.value.as_str()) {
            ("compression", "lz4" | "on") => pool.compression = ZfsCompression::Lz4,
            ("compression", "off") => pool.compression = ZfsCompression::Off,
            _ => {
                root.insert(p.name.clone(), p.value.clone());
            }
        }
    }
    if !root.is_empty() {
        pool.datasets.push(DatasetSpec {
            name: String::new(),
            properties: root,
        });
    }
    for ds in &d.pool.datasets {
        pool.datasets.push(DatasetSpec {
            name: ds.name.clone(),
            properties: ds
                .properties
                .iter()
                .map(|p| (p.name.clone(), p.value.clone()))
                .collect(),
        });
    }
    Ok(pool)
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
    d: &DiskTarget,
    tree: &mut StagingTree,
    base: Option<Ext4Base>,
    dest: &Path,
    seed: &Seed,
    format: Format,
) -> crate::Result<(PathBuf, Vec<Warning>)> {
    let fs = root_fs(plan, d);
    let sector = d.layout.sector_size.bytes() as u32;
    let mut warnings = Vec::new();
    match fs {
        FsKind::Ext4 => {
            // `uefi`: systemd-boot; `grub`: GRUB on UEFI; `bios`: GRUB on BIOS; `both`: GRUB
            // on both, from one disk (see `boot::grub` for how GRUB is made without a chroot).
            let bootloader = d.bootloader.unwrap_or(Bootloader::Uefi);
            let grub_efi = matches!(bootloader, Bootloader::Grub | Bootloader::Both);
            let bios = matches!(bootloader, Bootloader::Bios | Bootloader::Both);
            let esp_size = d.layout.esp_size.map_or(512 << 20, |s| s.as_bytes());
            let layout = Layout::linux(d.disk_size.as_bytes(), esp_size, sector, bios)?;
            let (esp_index, root_index) = (
                layout.index_of("esp").expect("the Linux layout has an ESP"),
                layout
                    .index_of("root")
                    .expect("the Linux layout has a root partition"),
            );
            let ext4 = Ext4Writer {
                base,
                ..Ext4Writer::from_seed(seed, "root", "root", plan.epoch)
            };
            let entry_id = plan.distro.to_string();
            let linux = LinuxBoot::new(entry_id.split('-').next().unwrap_or("linux"), &ext4.uuid);
            let grub = GrubBoot::new(linux.clone());
            let esp_files = if grub_efi {
                grub.esp_files(tree)?
            } else if bios {
                Vec::new()
            } else {
                linux.esp_files(tree)?
            };
            let mut options = WriteOptions::new(format);
            if bios {
                let images =
                    grub.bios_images(tree, layout.partitions()[root_index].number, plan.epoch)?;
                options.grub_bios = Some(GrubBiosBoot {
                    partition: layout
                        .index_of("bios")
                        .expect("the Linux layout with BIOS boot has a BIOS boot partition"),
                    boot_img: images.boot_img,
                    core_img: images.core_img,
                });
            }
            let esp = Esp::new(esp_files, sector, seed)
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
            disk::write(&layout, &contents, tree, dest, &options, seed)?;
        }
        FsKind::Zfs => {
            warnings.extend(illumos::finish(
                tree,
                &FinishOptions {
                    epoch: plan.epoch,
                    ..FinishOptions::default()
                },
            )?);
            let esp_size = d.layout.esp_size.map_or(256 << 20, |s| s.as_bytes());
            let layout = Layout::illumos(d.disk_size.as_bytes(), esp_size, sector)?;
            let (esp_index, zfs_index) = (
                layout
                    .index_of("loader")
                    .expect("the illumos layout has an ESP"),
                layout
                    .index_of("zfs")
                    .expect("the illumos layout has a ZFS partition"),
            );
            let esp = Esp::new(illumos_esp_files(tree)?, sector, seed).with_epoch(plan.epoch);
            esp.plan(layout.byte_range(esp_index).map_or(0, |(a, b)| b - a))?;
            let zfs = ZfsWriter::new(pool_options(plan, d, seed)?);
            let mut options = WriteOptions::new(format);
            if matches!(d.bootloader, Some(Bootloader::Bios | Bootloader::Both)) {
                options.illumos_bios = Some(IllumosBiosBoot::new(zfs_index));
            }
            let contents = [
                PartitionContent {
                    partition: esp_index,
                    filesystem: &esp,
                },
                PartitionContent {
                    partition: zfs_index,
                    filesystem: &zfs,
                },
            ];
            disk::write(&layout, &contents, tree, dest, &options, seed)?;
        }
    }
    Ok((dest.to_path_buf(), warnings))
}
