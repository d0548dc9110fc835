//! Targets: what a build produces. Disk targets (QCOW2, raw) carry the filesystem, the ZFS
//! pool layout and the partition layout; OCI targets carry the image config; every target can
//! be pushed to a registry.

use std::collections::BTreeMap;
use std::str::FromStr;

use bon::Builder;
use serde::{Deserialize, Serialize};

use super::{Error, Size};

/// One output of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[builder(start_fn = named)]
#[serde(rename_all = "kebab-case")]
pub struct Target {
    /// Unique name; names the output file unless `--output-name` renames it.
    #[builder(start_fn, into)]
    pub name: String,
    /// Kind and kind-specific settings.
    #[serde(flatten)]
    pub kind: TargetKind,
    /// Registry reference pushed to after a successful build (unless `--skip-push`).
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_to: Option<String>,
}

impl Target {
    /// A QCOW2 disk target.
    pub fn qcow2(name: impl Into<String>, disk: DiskTarget) -> Self {
        Target::named(name).kind(TargetKind::Qcow2(disk)).build()
    }
    /// A raw disk target.
    pub fn raw(name: impl Into<String>, disk: DiskTarget) -> Self {
        Target::named(name).kind(TargetKind::Raw(disk)).build()
    }
    /// An OCI image target.
    pub fn oci(name: impl Into<String>, oci: OciTarget) -> Self {
        Target::named(name).kind(TargetKind::Oci(oci)).build()
    }
    /// A `.tar.gz` artifact target with default settings.
    pub fn artifact(name: impl Into<String>) -> Self {
        Target::named(name)
            .kind(TargetKind::Artifact(ArtifactTarget::default()))
            .build()
    }
}

/// The kind of a target with the settings that only it takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TargetKind {
    /// A QCOW2 v3 disk image (`<name>.qcow2`).
    Qcow2(DiskTarget),
    /// A raw, sparse disk image (`<name>.raw`).
    Raw(DiskTarget),
    /// An OCI image layout (`<name>-oci/`).
    Oci(OciTarget),
    /// A deterministic tarball of the tree (`<name>.tar.gz`).
    Artifact(ArtifactTarget),
}

impl TargetKind {
    /// The keyword as written in specs.
    pub fn keyword(&self) -> &'static str {
        match self {
            TargetKind::Qcow2(_) => "qcow2",
            TargetKind::Raw(_) => "raw",
            TargetKind::Oci(_) => "oci",
            TargetKind::Artifact(_) => "artifact",
        }
    }

    /// The disk settings of a disk target.
    pub fn disk(&self) -> Option<&DiskTarget> {
        match self {
            TargetKind::Qcow2(d) | TargetKind::Raw(d) => Some(d),
            _ => None,
        }
    }
}

/// Settings of a disk target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DiskTarget {
    /// Virtual disk size (required).
    pub disk_size: Size,
    /// Boot firmware/loader; UEFI when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootloader: Option<Bootloader>,
    /// Root filesystem; ZFS for IPS distributions and ext4 for APT ones when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<FsKind>,
    /// ZFS pool layout (used when the filesystem is ZFS).
    #[builder(default)]
    #[serde(default, skip_serializing_if = "ZfsPool::is_default")]
    pub pool: ZfsPool,
    /// Partition layout: sector size, ESP size, custom partitions.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "DiskLayout::is_default")]
    pub layout: DiskLayout,
    /// Per-cluster compression of QCOW2 output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<Compression>,
}

/// How the disk boots. On Linux (ext4) disks every GRUB variant is linked by the build
/// host's `grub-mkimage` from the image's own GRUB modules (no chroot, no NVRAM); the image
/// must install `grub-efi-amd64-bin` for UEFI GRUB and `grub-pc-bin` for BIOS GRUB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bootloader {
    /// UEFI: the distribution's EFI loader on the ESP (illumos loader, or systemd-boot from
    /// `systemd-boot-efi` on Linux).
    Uefi,
    /// Legacy BIOS only (illumos `pmbr`/`gptzfsboot`; on Linux GRUB's `boot.img` and
    /// `core.img` in a 1 MiB BIOS boot partition).
    Bios,
    /// UEFI and BIOS on one disk (on Linux: GRUB for both).
    Both,
    /// GRUB's EFI build at `EFI/BOOT/BOOTX64.EFI` (Linux only; the earlier tool's
    /// `grub`/`grub-efi-amd64-bin`).
    Grub,
}

impl FromStr for Bootloader {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "uefi" | "efi" => Ok(Bootloader::Uefi),
            "bios" | "legacy" => Ok(Bootloader::Bios),
            "both" | "uefi+bios" | "hybrid" => Ok(Bootloader::Both),
            "grub" | "grub-efi" | "grub-efi-amd64-bin" | "grub-efi-amd64" => Ok(Bootloader::Grub),
            _ => Err(Error::BadKeyword {
                what: "bootloader",
                value: s.to_owned(),
                allowed: "uefi, bios, both, grub",
            }),
        }
    }
}

/// A root filesystem kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FsKind {
    /// ZFS (pool written by Forger).
    Zfs,
    /// ext4 (`mkfs.ext4 -d`).
    Ext4,
}

impl FromStr for FsKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zfs" => Ok(FsKind::Zfs),
            "ext4" => Ok(FsKind::Ext4),
            _ => Err(Error::BadKeyword {
                what: "filesystem",
                value: s.to_owned(),
                allowed: "zfs, ext4",
            }),
        }
    }
}

/// Compression of QCOW2 clusters or of tar/OCI layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    /// Stored as is.
    None,
    /// gzip / zlib (the default for layers and tarballs).
    #[default]
    Gzip,
    /// zstd.
    Zstd,
}

impl FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "off" => Ok(Compression::None),
            "gzip" | "zlib" | "deflate" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(Error::BadKeyword {
                what: "compression",
                value: s.to_owned(),
                allowed: "none, gzip, zstd",
            }),
        }
    }
}

/// A `name=value` property (zpool or dataset property).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// Property name (`ashift`, `compression`, `atime`).
    pub name: String,
    /// Property value as text.
    pub value: String,
}

impl Property {
    /// A property `name=value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Property {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The ZFS pool of a disk target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ZfsPool {
    /// Pool name.
    #[builder(into, default = "rpool".to_owned())]
    #[serde(default = "default_pool_name")]
    pub name: String,
    /// Boot-environment name (`<pool>/ROOT/<be>`); the distribution's when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_environment: Option<String>,
    /// Pool properties (`ashift`), as `zpool create -o`.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
    /// Properties of the pool's root dataset, inherited by all (`compression`, `atime`).
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filesystem_properties: Vec<Property>,
    /// Extra datasets (`export`, `export/home`), relative to the pool.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<Dataset>,
}

fn default_pool_name() -> String {
    "rpool".to_owned()
}

impl Default for ZfsPool {
    fn default() -> Self {
        ZfsPool::builder().build()
    }
}

impl ZfsPool {
    fn is_default(&self) -> bool {
        *self == ZfsPool::default()
    }

    /// The value of pool property `name`, if set.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .rev()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }
}

/// A ZFS dataset besides the pool root and the boot environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[builder(start_fn = named)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Name relative to the pool (`export/home`).
    #[builder(start_fn, into)]
    pub name: String,
    /// Dataset properties (`mountpoint`, `compression`, …).
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// The partition layout of a disk target.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Builder)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DiskLayout {
    /// Logical sector size.
    #[builder(default)]
    #[serde(default)]
    pub sector_size: SectorSize,
    /// ESP size; 256 MiB (illumos) or 512 MiB (Linux) when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esp_size: Option<Size>,
    /// Custom partitions replacing the built-in layout, in disk order.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<PartitionSpec>,
}

impl DiskLayout {
    fn is_default(&self) -> bool {
        *self == DiskLayout::default()
    }
}

/// Logical sector size of a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SectorSize {
    /// 512-byte sectors.
    #[default]
    #[serde(rename = "512")]
    S512,
    /// 4096-byte sectors (4Kn).
    #[serde(rename = "4096")]
    S4096,
}

impl SectorSize {
    /// Bytes per sector.
    pub fn bytes(self) -> u64 {
        match self {
            SectorSize::S512 => 512,
            SectorSize::S4096 => 4096,
        }
    }
}

impl FromStr for SectorSize {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "512" => Ok(SectorSize::S512),
            "4096" | "4k" | "4K" => Ok(SectorSize::S4096),
            _ => Err(Error::BadKeyword {
                what: "sector size",
                value: s.to_owned(),
                allowed: "512, 4096",
            }),
        }
    }
}

/// One partition of a custom layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Builder)]
#[builder(start_fn = named)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PartitionSpec {
    /// GPT partition name.
    #[builder(start_fn, into)]
    pub name: String,
    /// What the partition holds.
    pub role: PartitionRole,
    /// Size; the rest of the disk when not given (only the last partition may omit it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Size>,
    /// GPT type GUID; the role's standard type when not given.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_guid: Option<String>,
}

/// What a partition of a custom layout holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionRole {
    /// The EFI system partition.
    Esp,
    /// The root filesystem (ZFS pool or ext4).
    Root,
    /// The GRUB BIOS boot partition.
    BiosBoot,
    /// Left empty (reserved).
    Empty,
}

/// Settings of an OCI image target: the image config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Builder)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OciTarget {
    /// Entrypoint as an argument vector.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    /// Default arguments.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    /// Environment, in order.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Working directory.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// User (`name`, `uid` or `uid:gid`).
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Config labels.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Exposed ports (`80/tcp`, `53/udp`).
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed_ports: Vec<String>,
    /// Manifest annotations.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Layer compression (gzip when not given).
    #[builder(default)]
    #[serde(default)]
    pub compression: Compression,
}

/// An environment variable of an OCI config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

impl EnvVar {
    /// `name=value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        EnvVar {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Settings of a tarball target.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Builder)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ArtifactTarget {
    /// Compression of the tarball (gzip when not given).
    #[builder(default)]
    #[serde(default)]
    pub compression: Compression,
}
