//! The EFI system partition: [`Esp`], a [`Filesystem`] that formats FAT32 (FAT16 when the
//! partition is too small for FAT32 at its sector size) with `hadris-fat` and copies a list of
//! [`EspFile`]s into it, streaming each file in 64 KiB pieces. Timestamps are fixed
//! (`SOURCE_DATE_EPOCH`) and the volume id comes from the build seed, so the bytes are
//! reproducible. [`illumos_esp_files`] maps the illumos loaders to their UEFI names.
//!
//! Errors are [`crate::disk::Error`] variants (`forger::disk::esp_*`, `forger::disk::fat`):
//! the ESP is part of the disk layer.

use std::io::{self, Read, SeekFrom};
use std::sync::{Mutex, OnceLock};

use hadris_fat::sync::FatFs;
use hadris_fat::{FatKind, FatOptions, VolumeLabel};
use hadris_fs::sync::Volume;
use hadris_fs::{Clock, DateTime, MountOptions, OpenOptions};
use hadris_storage::{BlockIndex, BlockSize};

use super::{BlockDevice, EspFile, EspSource, Filesystem};
use crate::disk::Error;
use crate::seed::Seed;
use crate::stage::{StagePath, StagingTree};

/// FAT32 needs at least this many clusters.
const FAT32_MIN_CLUSTERS: u64 = 65_525;
/// FAT16 needs at least this many clusters.
const FAT16_MIN_CLUSTERS: u64 = 4_085;
/// The earliest time FAT stores (1980-01-01T00:00:00Z).
const FAT_EPOCH: i64 = 315_532_800;
/// The latest whole day FAT stores (2107-12-31).
const FAT_LAST: i64 = 4_354_819_199;
/// Copy buffer size.
const CHUNK: usize = 64 * 1024;

/// Which FAT variant an [`Esp`] may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EspKind {
    /// FAT32 when the partition holds 65 525 sector-sized clusters, else FAT16.
    #[default]
    Auto,
    /// FAT32 or an error.
    Fat32,
}

/// An EFI system partition writer.
#[derive(Debug, Clone)]
pub struct Esp {
    files: Vec<EspFile>,
    sector_size: u32,
    volume_id: u32,
    label: String,
    epoch: i64,
    kind: EspKind,
    partition_offset: u64,
}

impl Esp {
    /// An ESP holding `files` on a disk with `sector_size`-byte sectors. The volume id comes
    /// from `seed`; timestamps from `SOURCE_DATE_EPOCH` (1980-01-01 when unset); label `EFI`.
    pub fn new(files: Vec<EspFile>, sector_size: u32, seed: &Seed) -> Self {
        let epoch = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(FAT_EPOCH);
        Esp {
            files,
            sector_size,
            volume_id: seed.u32("fs/fat/esp/volume-id"),
            label: "EFI".into(),
            epoch,
            kind: EspKind::Auto,
            partition_offset: 0,
        }
    }

    /// Sets the timestamp of every entry (clamped to FAT's 1980–2107 range).
    pub fn with_epoch(mut self, epoch: i64) -> Self {
        self.epoch = epoch;
        self
    }

    /// Sets the volume label (at most 11 characters of the FAT short-name set).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Requires FAT32 (an error when the partition is too small) or allows FAT16.
    pub fn with_kind(mut self, kind: EspKind) -> Self {
        self.kind = kind;
        self
    }

    /// Records the partition's byte offset on the disk in the boot sector's hidden-sectors
    /// field (`Layout::byte_range(i).0`); 0 when not set.
    pub fn with_partition_offset(mut self, bytes: u64) -> Self {
        self.partition_offset = bytes;
        self
    }

    /// The volume id (serial number) written to the boot sector.
    pub fn volume_id(&self) -> u32 {
        self.volume_id
    }

    /// The FAT variant a partition of `size` bytes gets: `"FAT32"` or `"FAT16"`, or
    /// [`Error::EspTooSmall`]. Call it before writing to report a bad layout early.
    pub fn plan(&self, size: u64) -> Result<&'static str, Error> {
        let ss = u64::from(self.sector_size);
        // Reserved sectors, two FATs and the clusters, with one-sector clusters.
        let fat32 = (32 + 2 * (FAT32_MIN_CLUSTERS * 4).div_ceil(ss) + FAT32_MIN_CLUSTERS) * ss;
        if size >= fat32 {
            return Ok("FAT32");
        }
        if self.kind == EspKind::Fat32 {
            return Err(Error::EspTooSmall {
                size,
                kind: "FAT32",
                sector_size: self.sector_size,
                needed: fat32,
            });
        }
        let fat16 = (1 + 2 * (FAT16_MIN_CLUSTERS * 2).div_ceil(ss) + 32 + FAT16_MIN_CLUSTERS) * ss;
        if size >= fat16 {
            return Ok("FAT16");
        }
        Err(Error::EspTooSmall {
            size,
            kind: "FAT16",
            sector_size: self.sector_size,
            needed: fat16,
        })
    }

    fn write_fat(&self, dev: &mut dyn BlockDevice, tree: &StagingTree) -> Result<(), Error> {
        let size = dev.size_bytes();
        let kind = match self.plan(size)? {
            "FAT32" => FatKind::Fat32,
            _ => FatKind::Fat16,
        };
        let mut files = Vec::with_capacity(self.files.len());
        for f in &self.files {
            files.push((esp_path(&f.path)?, f));
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = files
            .windows(2)
            .find(|w| w[0].0.eq_ignore_ascii_case(&w[1].0))
        {
            return Err(Error::BadEspPath {
                path: w[1].0.clone(),
                reason: "two files have the same (case-insensitive) path",
            });
        }
        // Open every source first: a missing loader is an error before the ESP is touched.
        let mut sources = Vec::with_capacity(files.len());
        for (_, f) in &files {
            sources.push(open_source(&f.source, tree)?);
        }

        let fat_err = |op: &'static str, path: &str| {
            let path = path.to_string();
            move |e: hadris_fs::Error<io::Error>| Error::Fat {
                op,
                path,
                message: e.to_string(),
            }
        };
        let time =
            DateTime::from_unix_seconds(self.epoch.clamp(FAT_EPOCH, FAT_LAST)).map_err(|e| {
                Error::Fat {
                    op: "set time",
                    path: "/".into(),
                    message: e.to_string(),
                }
            })?;
        let label = VolumeLabel::new(&self.label).map_err(|e| Error::Fat {
            op: "label",
            path: self.label.clone(),
            message: e.to_string(),
        })?;
        let options = FatOptions::new()
            .with_kind(kind)
            .with_sector_size(self.sector_size)
            .with_serial(self.volume_id)
            .with_time(time)
            .with_label(label)
            .with_oem_name(*b"MSWIN4.1")
            .with_partition_offset(self.partition_offset)
            .with_size(size);
        let block = BlockSize::new(self.sector_size).ok_or(Error::BadSectorSize {
            size: self.sector_size,
        })?;
        let mut hdev = HadrisDevice {
            inner: dev,
            block,
            blocks: size / u64::from(self.sector_size),
        };
        hadris_fat::sync::format(&mut hdev, &options).map_err(fat_err("format", "/"))?;
        let fs = FatFs::mount(
            hdev,
            MountOptions::new().with_clock(fixed_clock(self.epoch.clamp(FAT_EPOCH, FAT_LAST))),
        )
        .map_err(|e| Error::Fat {
            op: "mount",
            path: "/".into(),
            message: e.to_string(),
        })?;
        let vol = Volume::new(fs);
        let mut buf = vec![0u8; CHUNK];
        for ((path, _), mut src) in files.iter().zip(sources) {
            let abs = format!("/{path}");
            if let Some((dir, _)) = abs.rsplit_once('/')
                && !dir.is_empty()
            {
                vol.create_dir_all(dir).map_err(fat_err("mkdir", dir))?;
            }
            let mut file = vol
                .open(&abs, OpenOptions::new().write().create())
                .map_err(fat_err("create", &abs))?;
            loop {
                let n = src.read(&mut buf).map_err(|e| Error::Fat {
                    op: "read source of",
                    path: abs.clone(),
                    message: e.to_string(),
                })?;
                if n == 0 {
                    break;
                }
                let mut done = 0;
                while done < n {
                    let w = file.write(&buf[done..n]).map_err(fat_err("write", &abs))?;
                    if w == 0 {
                        return Err(Error::Fat {
                            op: "write",
                            path: abs,
                            message: "no space left on the ESP".into(),
                        });
                    }
                    done += w;
                }
            }
            file.close().map_err(fat_err("close", &abs))?;
        }
        let fs = vol.into_inner().map_err(|_| Error::Fat {
            op: "unmount",
            path: "/".into(),
            message: "the volume is still in use".into(),
        })?;
        fs.unmount().map_err(|e| Error::Fat {
            op: "unmount",
            path: "/".into(),
            message: e.to_string(),
        })?;
        Ok(())
    }
}

impl Filesystem for Esp {
    fn name(&self) -> &'static str {
        "fat"
    }

    fn write(&self, dev: &mut dyn BlockDevice, tree: &StagingTree) -> crate::Result<()> {
        Ok(self.write_fat(dev, tree)?)
    }
}

/// The illumos loaders as ESP files: `/boot/loader64.efi` → `EFI/BOOT/BOOTX64.EFI` and
/// `/boot/loader32.efi` → `EFI/BOOT/BOOTIA32.EFI`. A missing loader is
/// [`Error::MissingBootFile`] naming its path.
pub fn illumos_esp_files(tree: &StagingTree) -> Result<Vec<EspFile>, Error> {
    let mut out = Vec::new();
    for (from, to) in [
        ("/boot/loader64.efi", "EFI/BOOT/BOOTX64.EFI"),
        ("/boot/loader32.efi", "EFI/BOOT/BOOTIA32.EFI"),
    ] {
        let sp = StagePath::new(from).map_err(|_| Error::MissingBootFile {
            path: from.to_string(),
        })?;
        if tree.manifest.content_path(&sp).is_none() {
            return Err(Error::MissingBootFile {
                path: from.to_string(),
            });
        }
        out.push(EspFile {
            path: to.to_string(),
            source: EspSource::Staged(sp),
        });
    }
    Ok(out)
}

/// Checks and normalises an ESP path (`EFI/BOOT/X.EFI`, no leading `/`).
fn esp_path(path: &str) -> Result<String, Error> {
    let bad = |reason| Error::BadEspPath {
        path: path.to_string(),
        reason,
    };
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        return Err(bad("the path is empty"));
    }
    for part in trimmed.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(bad("empty, `.` or `..` component"));
        }
        if part.len() > 255 || part.chars().any(|c| "\\:*?\"<>|".contains(c) || c < ' ') {
            return Err(bad("a component has a character FAT cannot store"));
        }
    }
    Ok(trimmed.to_string())
}

/// Opens the bytes of one ESP file.
fn open_source(source: &EspSource, tree: &StagingTree) -> Result<Box<dyn Read>, Error> {
    match source {
        EspSource::Staged(p) => {
            let missing = || Error::MissingBootFile {
                path: p.to_string(),
            };
            let content = tree.manifest.content_path(p).ok_or_else(missing)?.clone();
            let f = tree.open_file(&content).map_err(|_| missing())?;
            Ok(Box::new(f))
        }
        EspSource::Host(path) => {
            let f = std::fs::File::open(path).map_err(|_| Error::MissingBootFile {
                path: path.display().to_string(),
            })?;
            Ok(Box::new(f))
        }
        EspSource::Bytes(b) => Ok(Box::new(io::Cursor::new(b.clone()))),
    }
}

/// A clock stuck at one instant. `MountOptions` wants `&'static`, so one clock per distinct
/// epoch is leaked and reused.
#[derive(Debug)]
struct FixedClock(DateTime);

impl Clock for FixedClock {
    fn now(&self) -> DateTime {
        self.0
    }
}

fn fixed_clock(epoch: i64) -> &'static FixedClock {
    static CLOCKS: OnceLock<Mutex<Vec<&'static FixedClock>>> = OnceLock::new();
    let clocks = CLOCKS.get_or_init(|| Mutex::new(Vec::new()));
    let mut list = clocks.lock().unwrap_or_else(|p| p.into_inner());
    let t = DateTime::from_unix_seconds(epoch).expect("epoch clamped to FAT's range");
    if let Some(c) = list.iter().find(|c| c.0 == t) {
        return c;
    }
    let c: &'static FixedClock = Box::leak(Box::new(FixedClock(t)));
    list.push(c);
    c
}

/// `hadris-storage`'s block-device contract over our [`BlockDevice`].
struct HadrisDevice<'a> {
    inner: &'a mut dyn BlockDevice,
    block: BlockSize,
    blocks: u64,
}

impl HadrisDevice<'_> {
    fn at(&mut self, first: BlockIndex, len: usize) -> Result<(), hadris_fs::Error<io::Error>> {
        let bs = u64::from(self.block.get());
        let end = first.get() + (len as u64).div_ceil(bs);
        if end > self.blocks {
            return Err(hadris_fs::Error::new(
                hadris_fs::ErrorKind::InvalidInput,
                "block range past the end of the partition",
            ));
        }
        self.inner
            .seek(SeekFrom::Start(first.get() * bs))
            .map_err(|e| hadris_fs::Error::device(e, "seek"))?;
        Ok(())
    }
}

impl hadris_io::ErrorType for HadrisDevice<'_> {
    type Error = io::Error;
}

impl hadris_storage::sync::BlockDevice for HadrisDevice<'_> {
    fn block_size(&self) -> BlockSize {
        self.block
    }

    fn block_count(&self) -> u64 {
        self.blocks
    }

    fn writable(&self) -> bool {
        true
    }

    fn read_blocks(
        &mut self,
        first: BlockIndex,
        buf: &mut [u8],
    ) -> Result<(), hadris_fs::Error<io::Error>> {
        self.at(first, buf.len())?;
        self.inner
            .read_exact(buf)
            .map_err(|e| hadris_fs::Error::device(e, "read"))
    }

    fn write_blocks(
        &mut self,
        first: BlockIndex,
        buf: &[u8],
    ) -> Result<(), hadris_fs::Error<io::Error>> {
        self.at(first, buf.len())?;
        self.inner
            .write_all(buf)
            .map_err(|e| hadris_fs::Error::device(e, "write"))
    }

    fn flush(&mut self) -> Result<(), hadris_fs::Error<io::Error>> {
        self.inner
            .flush()
            .map_err(|e| hadris_fs::Error::device(e, "flush"))
    }
}
