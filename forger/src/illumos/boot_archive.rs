//! The illumos boot archive: `/platform/i86pc/amd64/boot_archive`, an ISO 9660 + Rock Ridge
//! image of the files named by `/boot/solaris/filelist.ramdisk` and
//! `/etc/boot/solaris/filelist.ramdisk`, plus `boot_archive.hash`. It is what `bootadm
//! update-archive` makes on illumos (`mkisofs -quiet -graft-points -dlrDJN -relaxed-filenames`
//! over its archive cache); a Linux build host has to make it itself.
//!
//! Facts it follows (illumos `usr/src/cmd/boot/bootadm/bootadm.c`, `extract_boot_filelist.ksh`,
//! `usr/src/common/fs/hsfs.c`, `dboot_startkern.c`):
//! - List entries are paths relative to `/`, files or directories (walked without following
//!   symlinks); blank lines are skipped; entries that do not exist are skipped silently (the stock
//!   list names `etc/rtc_config`, which many systems lack). The entry `platform` stands for every
//!   `platform/*/kernel`. Both lists are merged and sorted (`sort -u`).
//! - On x86 only regular files and directories go in: symlinks are skipped, and 32-bit ELF
//!   files stay out of the 64-bit archive.
//! - The kernel's early-boot reader finds files by their Rock Ridge names, so the image has Rock
//!   Ridge; it ignores Joliet, which is therefore not written.
//! - The hash file holds the lower-case hex SHA-1 of the archive bytes and a newline. The
//!   kernel (`dboot`) recomputes it over the loaded archive and panics on a mismatch.
//!
//! Not done: the per-file gzip compression bootadm applies inside its cache (optional: the
//! kernel reads plain files too), and `/boot/solaris/filestat.ramdisk` (bootadm's stat cache;
//! without it the `boot-archive` service asks for one archive rebuild at the first shutdown).

use std::fs;
use std::io::{BufWriter, Read, Write};

use sha1::{Digest, Sha1};

use super::Error;
use crate::fs::iso9660::{Image, Meta, Options};
use crate::stage::{Entry, EntryKind, StagePath, StagingTree};

/// Where the 64-bit x86 boot archive lives.
pub const ARCHIVE_PATH: &str = "/platform/i86pc/amd64/boot_archive";
/// Its SHA-1 file, read by the loader and checked by the kernel.
pub const HASH_PATH: &str = "/platform/i86pc/amd64/boot_archive.hash";
/// The system's list of archive contents.
pub const BOOT_FILELIST: &str = "/boot/solaris/filelist.ramdisk";
/// The site-local list of archive contents.
pub const ETC_FILELIST: &str = "/etc/boot/solaris/filelist.ramdisk";

/// What went into a boot archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Regular files in the archive (hard-linked names count once each).
    pub files: usize,
    /// Directories in the archive, the root included.
    pub directories: usize,
    /// Size of the archive in bytes.
    pub bytes: u64,
    /// Lower-case hex SHA-1 of the archive, as written to the hash file.
    pub sha1: String,
    /// List entries that do not exist in the tree (normal for some, like `etc/rtc_config`).
    pub missing: Vec<String>,
    /// Files left out: symlinks and 32-bit ELF objects.
    pub skipped: Vec<String>,
}

/// The merged, sorted entries of the two filelists. Fails if neither list exists.
pub fn read_filelists(tree: &StagingTree) -> Result<Vec<String>, Error> {
    let mut found = false;
    let mut entries = Vec::new();
    for list in [BOOT_FILELIST, ETC_FILELIST] {
        let path = StagePath::new(list)?;
        if !matches!(
            tree.manifest.get(&path).map(|e| &e.kind),
            Some(EntryKind::File | EntryKind::Hardlink { .. })
        ) {
            continue;
        }
        found = true;
        let host = tree.host_path(&path);
        let text = fs::read(&host).map_err(Error::io(&host))?;
        for line in String::from_utf8_lossy(&text).lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.trim_end_matches('/') == "platform" {
                // extract_boot_filelist: `platform` means every platform's kernel directory.
                let platform = StagePath::new("/platform")?;
                for (p, e) in tree.manifest.children(&platform) {
                    if e.is_dir() && tree.manifest.get(&p.join("kernel")?).is_some() {
                        entries.push(format!("{}/kernel", p.as_str()));
                    }
                }
                continue;
            }
            entries.push(line.trim_start_matches('/').to_owned());
        }
    }
    if !found {
        return Err(Error::NoFilelist);
    }
    entries.sort();
    entries.dedup();
    Ok(entries)
}

/// Builds the boot archive and its hash file from the tree's filelists and adds both to the
/// tree (`root:root 0644`, mtime `epoch`). Every date inside the archive is at most `epoch`,
/// so the same tree and epoch give the same bytes.
pub fn write_boot_archive(tree: &mut StagingTree, epoch: i64) -> Result<ArchiveReport, Error> {
    let archive = StagePath::new(ARCHIVE_PATH)?;
    let hash = StagePath::new(HASH_PATH)?;
    let lists = read_filelists(tree)?;

    let mut missing = Vec::new();
    let mut skipped = Vec::new();
    // Selected paths (files and directories) in path order; ancestors are added below.
    let mut selected: Vec<StagePath> = Vec::new();
    for item in &lists {
        let top = StagePath::new(item)?;
        let Some(entry) = tree.manifest.get(&top) else {
            missing.push(format!("/{item}"));
            continue;
        };
        if entry.is_dir() {
            let below: Vec<StagePath> = tree
                .manifest
                .iter()
                .filter(|(p, _)| p.starts_with(&top))
                .map(|(p, _)| p.clone())
                .collect();
            selected.extend(below);
        } else {
            selected.push(top);
        }
    }
    selected.sort();
    selected.dedup();
    selected.retain(|p| *p != archive && *p != hash);

    let meta = |e: &Entry| Meta {
        uid: e.uid,
        gid: e.gid,
        mode: e.mode,
        mtime: e.mtime.min(epoch),
    };
    let root_meta = tree
        .manifest
        .get(&StagePath::root())
        .map(meta)
        .expect("the manifest always holds the root");
    let mut image = Image::new(root_meta);
    let mut dirs_added: std::collections::BTreeSet<StagePath> = Default::default();
    let (mut files, mut directories) = (0usize, 1usize);
    for path in &selected {
        let entry = tree
            .manifest
            .get(path)
            .expect("selected paths come from the manifest");
        let keep = match &entry.kind {
            EntryKind::Directory => true,
            EntryKind::File | EntryKind::Hardlink { .. } => {
                let content = tree
                    .manifest
                    .content_path(path)
                    .expect("files have content")
                    .clone();
                let host = tree.host_path(&content);
                if is_elf32(&host)? {
                    skipped.push(path.to_string());
                    false
                } else {
                    true
                }
            }
            _ => {
                skipped.push(path.to_string());
                false
            }
        };
        if !keep {
            continue;
        }
        for anc in path.ancestors().into_iter().skip(1) {
            if dirs_added.insert(anc.clone()) {
                let e = tree
                    .manifest
                    .get(&anc)
                    .expect("ancestors are in the manifest");
                image.add_dir(anc.as_str(), meta(e))?;
                directories += 1;
            }
        }
        if entry.is_dir() {
            if dirs_added.insert(path.clone()) {
                image.add_dir(path.as_str(), meta(entry))?;
                directories += 1;
            }
        } else {
            let content = tree
                .manifest
                .content_path(path)
                .expect("files have content")
                .clone();
            let host = tree.host_path(&content);
            let size = fs::metadata(&host).map_err(Error::io(&host))?.len();
            image.add_file(path.as_str(), host, size, meta(entry))?;
            files += 1;
        }
    }
    if files == 0 {
        return Err(Error::EmptyArchive);
    }

    let dir = archive.parent().expect("the archive path has a parent");
    tree.ensure_dir_parents(&dir)?;
    let final_host = tree.host_path(&archive);
    let tmp = crate::build::partial_name(&final_host);
    let opts = Options {
        volume_id: "CDROM".to_owned(),
        system_id: String::new(),
        epoch,
    };
    let written = (|| {
        let file = fs::File::create(&tmp).map_err(Error::io(&tmp))?;
        let mut out = HashingWriter {
            inner: BufWriter::with_capacity(1 << 20, file),
            sha1: Sha1::new(),
        };
        let bytes = image.write_to(&opts, &mut out)?;
        out.inner.flush().map_err(Error::io(&tmp))?;
        Ok::<_, Error>((bytes, hex::encode(out.sha1.finalize())))
    })();
    let (bytes, digest) = match written {
        Ok(v) => v,
        Err(e) => {
            // Best effort: a half-written temp file must not stay in the staged tree.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    tree.remove(&archive)?;
    fs::rename(&tmp, &final_host).map_err(Error::io(&final_host))?;
    let mut entry = Entry::file(0, 0, 0o644);
    entry.mtime = epoch;
    tree.manifest.insert(archive, entry.clone())?;
    let line = format!("{digest}\n");
    tree.write_file(&hash, &mut line.as_bytes(), entry)?;

    Ok(ArchiveReport {
        files,
        directories,
        bytes,
        sha1: digest,
        missing,
        skipped,
    })
}

/// True for a 32-bit ELF object (`\x7fELF` with class 1), which the amd64 archive leaves out.
fn is_elf32(host: &std::path::Path) -> Result<bool, Error> {
    let mut head = [0u8; 5];
    let mut f = fs::File::open(host).map_err(Error::io(host))?;
    let mut got = 0;
    while got < head.len() {
        let n = f.read(&mut head[got..]).map_err(Error::io(host))?;
        if n == 0 {
            return Ok(false);
        }
        got += n;
    }
    Ok(&head[..4] == b"\x7fELF" && head[4] == 1)
}

/// Passes bytes through and hashes them, so the archive is read only once.
struct HashingWriter<W: Write> {
    inner: W,
    sha1: Sha1,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha1.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
