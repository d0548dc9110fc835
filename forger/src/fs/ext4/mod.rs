//! The ext4 writer: `mkfs.ext4 -d` builds the filesystem from a host tree, then one
//! `debugfs -w` script makes every inode match the ownership manifest.
//!
//! Why two steps: `mkfs.ext4 -d` copies owners, modes and times from the host `lstat`, and a
//! builder that is not root cannot make host files owned by `0:0` or create device nodes.
//! So the writer materialises a *shadow* tree next to the staging tree (directories, hard
//! links to the staged file bytes — no data is copied —, symlinks), lets `mkfs.ext4` lay out
//! the data, and then sets uid, gid, mode and times of every inode, creates device nodes,
//! FIFOs and sockets, and adds xattrs with `debugfs`. The manifest is the only source of
//! metadata, whoever runs the build.
//!
//! A writer with an [`Ext4Base`] builds the image of the base tree (the installed payload)
//! first, or takes it from an [`ImageStore`], and turns it into this tree's image with a
//! second `debugfs` script that removes, creates and re-describes only what differs (see
//! `delta`). An overlay edit then costs a copy of the kept image and a few commands instead of
//! laying out every file again. The result depends only on the two trees, never on whether the
//! store had the image.
//!
//! Reproducibility: the UUID and directory hash seed come from the image [`Seed`], all
//! superblock and inode times are the build epoch (`E2FSPROGS_FAKE_TIME`, at least 1) or the manifest's
//! mtimes, `mkfs.ext4` reads a configuration written here rather than the host's
//! `/etc/mke2fs.conf`, and it visits directories in sorted order. Two builds of the same tree
//! are byte-identical.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use miette::Diagnostic;
use thiserror::Error;

use super::{BlockDevice, Filesystem, Lent};
use crate::seed::Seed;
use crate::stage::{Entry, EntryKind, StagePath, StagingTree};

mod delta;
mod loan;

pub use delta::{Ext4Base, ImageStore, KeptImage};

/// ext4 block size used for every image (below 512 MiB `mkfs.ext4` would pick 1 KiB).
pub const BLOCK_SIZE: u64 = 4096;

/// The features of every image, independent of the host's `/etc/mke2fs.conf`: what Debian 12
/// and Ubuntu 22.04+ kernels and `e2fsck` 1.46+ all read.
const FEATURES: &str = "has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize,sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr";

/// Copy granularity when streaming a built image into a [`BlockDevice`]; all-zero chunks are
/// skipped (the device of a fresh output reads as zeros).
const CHUNK: usize = 1 << 20;

/// Inode number of the root directory on every ext2/3/4 filesystem.
const EXT4_ROOT_INO: u32 = 2;

/// Temporary directory-entry name used while creating a socket inode with debugfs.
const SOCKET_TMP: &str = ".forger-socket-tmp";

/// A failure while writing an ext4 filesystem.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// `mkfs.ext4` or `debugfs` is not installed.
    #[error("`{tool}` could not be started")]
    #[diagnostic(
        code(forger::ext4::tool_missing),
        help(
            "install e2fsprogs (`apt-get install e2fsprogs`); Forger runs its mkfs.ext4 and debugfs"
        )
    )]
    ToolMissing {
        /// The program.
        tool: &'static str,
        /// Why it could not start.
        #[source]
        source: io::Error,
    },
    /// `mkfs.ext4` or `debugfs` failed; `stderr` holds its own reason.
    #[error("`{tool}` failed ({status}): {stderr}")]
    #[diagnostic(
        code(forger::ext4::tool_failed),
        help("the tool's message above says why; rerun with the same tree to reproduce")
    )]
    ToolFailed {
        /// The program.
        tool: &'static str,
        /// Its exit status.
        status: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// The tree does not fit into the partition.
    #[error("the tree does not fit into an ext4 filesystem of {size_bytes} bytes: {stderr}")]
    #[diagnostic(
        code(forger::ext4::too_small),
        help(
            "make the root partition larger (the tree's bytes plus ~10% for metadata and journal)"
        )
    )]
    TooSmall {
        /// The partition size.
        size_bytes: u64,
        /// `mkfs.ext4`'s message.
        stderr: String,
    },
    /// The partition is smaller than a minimal ext4 filesystem.
    #[error("partition of {size_bytes} bytes is too small for ext4 (at least {min_bytes})")]
    #[diagnostic(
        code(forger::ext4::partition_too_small),
        help("give the ext4 partition at least 8 MiB")
    )]
    PartitionTooSmall {
        /// The partition size.
        size_bytes: u64,
        /// The minimum accepted.
        min_bytes: u64,
    },
    /// The volume label is longer than ext4's 16 bytes.
    #[error("ext4 label `{label}` is longer than 16 bytes")]
    #[diagnostic(code(forger::ext4::bad_label), help("use a label of at most 16 bytes"))]
    BadLabel {
        /// The label.
        label: String,
    },
    /// A file name that the `debugfs` script language cannot quote.
    #[error("image path `{path}` contains a double quote or a control character")]
    #[diagnostic(
        code(forger::ext4::unsupported_name),
        help("rename the entry; the ext4 writer passes names to debugfs in double quotes")
    )]
    UnsupportedName {
        /// The image path.
        path: String,
    },
    /// A manifest entry whose bytes are missing from the staging tree.
    #[error("ext4: I/O error on `{}`", path.display())]
    #[diagnostic(code(forger::ext4::io))]
    Io {
        /// The host path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

/// Writes an ext4 filesystem holding a [`StagingTree`], metadata from its manifest.
#[derive(Debug, Clone)]
pub struct Ext4Writer {
    /// Filesystem UUID as text (`root=UUID=…`, `/etc/fstab`).
    pub uuid: String,
    /// Volume label (at most 16 bytes).
    pub label: String,
    /// Directory-index hash seed (a UUID as text); fixed for reproducible directories.
    pub hash_seed: String,
    /// Build time in seconds since the epoch (`SOURCE_DATE_EPOCH`): superblock times and
    /// every inode's creation time.
    pub epoch: i64,
    /// The tree to build from first, when the written tree is that tree plus changes.
    pub base: Option<Ext4Base>,
}

impl Ext4Writer {
    /// A writer whose UUID and hash seed derive from `seed` and `key` (the partition's stable
    /// name, e.g. `"root"`), so two builds agree and two partitions differ.
    pub fn from_seed(seed: &Seed, key: &str, label: impl Into<String>, epoch: i64) -> Self {
        Ext4Writer {
            uuid: seed.uuid(&format!("ext4/{key}/uuid")),
            label: label.into(),
            hash_seed: seed.uuid(&format!("ext4/{key}/hash-seed")),
            epoch,
            base: None,
        }
    }

    /// Builds the filesystem directly into `image` at byte `offset`, `size_bytes` long
    /// (`mkfs.ext4 -E offset=`), leaving the rest of the file alone. This is the fast path
    /// when the disk assembler can hand out the output file's path. The range must read as
    /// zeros (a fresh output file does): `mkfs.ext4` leaves unused inode tables unwritten.
    pub fn write_at(
        &self,
        tree: &StagingTree,
        image: &Path,
        offset: u64,
        size_bytes: u64,
    ) -> Result<(), Error> {
        self.check(size_bytes)?;
        if let Some(base) = &self.base
            && let Some(delta) = delta::Delta::between(&base.tree, tree)?
        {
            let key = self.base_key(base, size_bytes);
            let kept = match &base.store {
                Some(store) => store
                    .restore(&key, image, offset, size_bytes)
                    .map_err(io_err(image))?,
                None => false,
            };
            if !kept {
                self.build(&base.tree, image, offset, size_bytes)?;
                if let Some(store) = &base.store {
                    store.keep(&key, image, offset, size_bytes);
                }
            }
            return delta.apply(tree, image, offset, self.epoch, None);
        }
        self.build(tree, image, offset, size_bytes)
    }

    /// The label fits and so does a minimal filesystem.
    fn check(&self, size_bytes: u64) -> Result<(), Error> {
        if self.label.len() > 16 {
            return Err(Error::BadLabel {
                label: self.label.clone(),
            });
        }
        let min_bytes = 8 << 20;
        if size_bytes < min_bytes {
            return Err(Error::PartitionTooSmall {
                size_bytes,
                min_bytes,
            });
        }
        Ok(())
    }

    /// What identifies the base image: the base tree's key and every setting of this writer.
    fn base_key(&self, base: &Ext4Base, size_bytes: u64) -> String {
        let text = format!(
            "ext4-base-v1\0{}\0{}\0{}\0{}\0{}\0{size_bytes}\0{FEATURES}",
            base.key, self.uuid, self.label, self.hash_seed, self.epoch
        );
        crate::archive::Digest::of(text.as_bytes()).hex()
    }

    /// `mkfs.ext4 -d` of the whole tree, then its metadata.
    fn build(
        &self,
        tree: &StagingTree,
        image: &Path,
        offset: u64,
        size_bytes: u64,
    ) -> Result<(), Error> {
        let work_parent = tree.root().parent().unwrap_or(tree.root());
        let work = tempfile::Builder::new()
            .prefix(".forger-ext4-")
            .tempdir_in(work_parent)
            .map_err(io_err(work_parent))?;
        let shadow = work.path().join("root");
        materialise(tree, &shadow)?;
        let conf = work.path().join("mke2fs.conf");
        fs::write(&conf, mke2fs_conf()).map_err(io_err(&conf))?;

        let blocks = size_bytes / BLOCK_SIZE;
        let mut mkfs = Command::new("mkfs.ext4");
        mkfs.env("MKE2FS_CONFIG", &conf)
            .env("E2FSPROGS_FAKE_TIME", fake_time(self.epoch))
            .args(["-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-L"])
            .arg(&self.label)
            .arg("-U")
            .arg(&self.uuid)
            .arg("-E")
            .arg(format!(
                "hash_seed={},root_owner=0:0,nodiscard,offset={offset}",
                self.hash_seed
            ))
            .arg("-d")
            .arg(&shadow)
            .arg(image)
            .arg(blocks.to_string());
        let out = mkfs.output().map_err(|source| Error::ToolMissing {
            tool: "mkfs.ext4",
            source,
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            if stderr.contains("No space left")
                || stderr.contains("Could not allocate")
                || stderr.contains("Could not find")
            {
                return Err(Error::TooSmall { size_bytes, stderr });
            }
            return Err(Error::ToolFailed {
                tool: "mkfs.ext4",
                status: out.status.to_string(),
                stderr,
            });
        }

        // debugfs commands that name an inode by path pay a directory lookup per command;
        // naming it `<ino>` does not (0.26 s instead of 5.5 s for 44k commands on a minbase
        // tree). One read-only pass lists every directory to learn the inode numbers.
        let mut target = image.as_os_str().to_owned();
        target.push(format!("?offset={offset}"));
        let listing = work.path().join("list.cmd");
        let dirs = tree
            .manifest
            .iter()
            .filter(|(_, e)| e.is_dir())
            .map(|(p, _)| p);
        write_listing_script(dirs, &listing)?;
        let listed = run_debugfs(&target, &listing, false, self.epoch, None)?;
        let inodes = parse_listing(&listed);
        let script = work.path().join("debugfs.cmd");
        let xattr_dir = work.path().join("xattr");
        write_script(tree.manifest.iter(), &inodes, &script, &xattr_dir)?;
        run_debugfs(&target, &script, true, self.epoch, None)?;
        Ok(())
    }

    /// Builds the filesystem in a sparse temporary file next to the staging tree and copies
    /// it into `dev`, skipping all-zero chunks (the device reads as zeros where not written).
    pub fn write_to_device(
        &self,
        dev: &mut dyn BlockDevice,
        tree: &StagingTree,
    ) -> Result<(), Error> {
        let size = dev.size_bytes();
        let dir = tree.root().parent().unwrap_or(tree.root());
        let tmp = tempfile::Builder::new()
            .prefix(".forger-ext4-img-")
            .tempfile_in(dir)
            .map_err(io_err(dir))?;
        tmp.as_file().set_len(size).map_err(io_err(tmp.path()))?;
        self.write_at(tree, tmp.path(), 0, size)?;
        let mut src = fs::File::open(tmp.path()).map_err(io_err(tmp.path()))?;
        copy_skipping_zeros(&mut src, dev, size).map_err(io_err(tmp.path()))
    }
}

impl Filesystem for Ext4Writer {
    fn name(&self) -> &'static str {
        "ext4"
    }

    /// In place when the device is a window of a host file (the disk assembler's sparse
    /// raw file): that saves writing the whole filesystem a second time.
    fn write(&self, dev: &mut dyn BlockDevice, tree: &StagingTree) -> crate::Result<()> {
        match dev.host_file() {
            Some((path, offset)) => Ok(self.write_at(tree, path, offset, dev.size_bytes())?),
            None => Ok(self.write_to_device(dev, tree)?),
        }
    }

    /// The kept base image with the changes applied in place, when the store has it.
    fn lend(&self, size: u64, tree: &StagingTree) -> crate::Result<Option<Box<dyn Lent>>> {
        Ok(self
            .lend_base(size, tree)?
            .map(|loan| Box::new(loan) as Box<dyn Lent>))
    }
}

/// Copies `len` bytes from `src` into `dev` from position 0. Only the data extents of the
/// sparse image are read (`SEEK_DATA`/`SEEK_HOLE`), and all-zero chunks inside them are
/// seeked over, so a mostly empty partition costs what its data costs.
fn copy_skipping_zeros(src: &mut fs::File, dev: &mut dyn BlockDevice, len: u64) -> io::Result<()> {
    use rustix::fs::{SeekFrom as RawSeek, seek};
    let mut buf = vec![0u8; CHUNK];
    let mut pos = 0u64;
    while pos < len {
        let data = match seek(&*src, RawSeek::Data(pos)) {
            Ok(d) => d,
            Err(rustix::io::Errno::NXIO) => break, // no data after `pos`
            Err(e) => return Err(e.into()),
        };
        let hole = seek(&*src, RawSeek::Hole(data))
            .map_err(io::Error::from)?
            .min(len);
        src.seek(SeekFrom::Start(data))?;
        let mut at = data;
        while at < hole {
            let want = (hole - at).min(CHUNK as u64) as usize;
            src.read_exact(&mut buf[..want])?;
            if buf[..want].iter().any(|&b| b != 0) {
                dev.seek(SeekFrom::Start(at))?;
                dev.write_all(&buf[..want])?;
            }
            at += want as u64;
        }
        pos = hole;
    }
    dev.flush()
}

/// The `mke2fs.conf` that replaces the host's, so the host cannot change the output.
fn mke2fs_conf() -> String {
    format!(
        "[defaults]\n\tbase_features = {FEATURES}\n\tdefault_mntopts = acl,user_xattr\n\
         \tblocksize = 4096\n\tinode_size = 256\n\tinode_ratio = 16384\n\n\
         [fs_types]\n\text4 = {{\n\t\tfeatures = {FEATURES}\n\t\tinode_size = 256\n\t}}\n"
    )
}

/// Builds the shadow tree `mkfs.ext4 -d` reads: directories, hard links to the staged bytes
/// (a copy when the staging tree is on another filesystem), and symlinks. Special files are
/// left to the `debugfs` script.
fn materialise(tree: &StagingTree, shadow: &Path) -> Result<(), Error> {
    fs::create_dir(shadow).map_err(io_err(shadow))?;
    for (path, entry) in tree.manifest.iter() {
        if path.is_root() {
            continue;
        }
        let dst = shadow.join(path.as_str());
        match &entry.kind {
            EntryKind::Directory => fs::create_dir(&dst).map_err(io_err(&dst))?,
            EntryKind::File => link_or_copy(&tree.host_path(path), &dst)?,
            EntryKind::Hardlink { target } => {
                let first = shadow.join(target.as_str());
                fs::hard_link(&first, &dst).map_err(io_err(&dst))?;
            }
            EntryKind::Symlink { target } => {
                std::os::unix::fs::symlink(target, &dst).map_err(io_err(&dst))?
            }
            EntryKind::CharDevice { .. }
            | EntryKind::BlockDevice { .. }
            | EntryKind::Fifo
            | EntryKind::Socket => {}
        }
    }
    Ok(())
}

fn link_or_copy(src: &Path, dst: &Path) -> Result<(), Error> {
    if fs::hard_link(src, dst).is_ok() {
        return Ok(());
    }
    fs::copy(src, dst).map(|_| ()).map_err(io_err(src))
}

/// Quotes an image path for the debugfs command language.
fn quoted(path: &StagePath) -> Result<String, Error> {
    quote_text(&path.to_string(), path)
}

/// Quotes `text` (a path or a name in `path`) for debugfs, which has no escape character.
fn quote_text(text: &str, path: &StagePath) -> Result<String, Error> {
    if text.chars().any(|c| c == '"' || c.is_control()) {
        return Err(Error::UnsupportedName {
            path: path.to_string(),
        });
    }
    Ok(format!("\"{text}\""))
}

/// The clock e2fsprogs is given. It takes 0 as "not set" and uses the real time, so an epoch
/// of 0 (`SOURCE_DATE_EPOCH` unset) becomes 1 second after it: still the same in every build.
fn fake_time(epoch: i64) -> String {
    epoch.max(1).to_string()
}

/// Runs a debugfs command file on `target` (`image?offset=N`) and returns its stdout.
fn run_debugfs(
    target: &std::ffi::OsStr,
    script: &Path,
    writable: bool,
    epoch: i64,
    undo: Option<&Path>,
) -> Result<String, Error> {
    let mut cmd = Command::new("debugfs");
    cmd.env("E2FSPROGS_FAKE_TIME", fake_time(epoch));
    if writable {
        cmd.arg("-w");
    }
    if let Some(undo) = undo {
        cmd.arg("-z").arg(undo);
    }
    let out = cmd
        .arg("-f")
        .arg(script)
        .arg(target)
        .output()
        .map_err(|source| Error::ToolMissing {
            tool: "debugfs",
            source,
        })?;
    // debugfs exits 0 even when a command of the script fails; its errors go to stderr,
    // where the only other line is the version banner.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("debugfs ") && !l.trim().is_empty())
        .collect();
    if !out.status.success() || !problems.is_empty() {
        return Err(Error::ToolFailed {
            tool: "debugfs",
            status: out.status.to_string(),
            stderr: problems
                .iter()
                .take(20)
                .copied()
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One `ls -p` per directory.
fn write_listing_script<'a>(
    dirs: impl Iterator<Item = &'a StagePath>,
    script: &Path,
) -> Result<(), Error> {
    let mut out = String::new();
    for dir in dirs {
        writeln!(out, "ls -p {}", quoted(dir)?).expect("writing to a String");
    }
    fs::write(script, out).map_err(io_err(script))
}

/// Path → inode number from the output of [`write_listing_script`]'s commands: debugfs
/// echoes each command (`debugfs: ls -p "/etc"`) and prints one
/// `/<ino>/<mode>/<uid>/<gid>/<name>/<size>/` line per entry.
fn parse_listing(text: &str) -> HashMap<String, u32> {
    let mut inodes = HashMap::new();
    inodes.insert("/".to_owned(), EXT4_ROOT_INO);
    let mut dir: Option<&str> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("debugfs: ls -p \"") {
            dir = rest.strip_suffix('"');
            continue;
        }
        let (Some(dir), Some(rest)) = (dir, line.strip_prefix('/')) else {
            continue;
        };
        let mut fields = rest.splitn(5, '/');
        let Some(Ok(ino)) = fields.next().map(str::parse::<u32>) else {
            continue;
        };
        let Some(name) = fields.nth(3).and_then(|r| r.split('/').next()) else {
            continue;
        };
        if name == "." || name == ".." {
            continue;
        }
        let path = if dir == "/" {
            format!("/{name}")
        } else {
            format!("{dir}/{name}")
        };
        inodes.insert(path, ino);
    }
    inodes
}

/// Writes the `debugfs` script that gives every inode of `entries` its manifest metadata
/// (and makes the device nodes, FIFOs and sockets among them).
fn write_script<'a>(
    entries: impl Iterator<Item = (&'a StagePath, &'a Entry)>,
    inodes: &HashMap<String, u32>,
    script: &Path,
    xattr_dir: &Path,
) -> Result<(), Error> {
    let mut out = String::new();
    let mut xattr_count = 0usize;
    for (path, entry) in entries {
        if matches!(entry.kind, EntryKind::Hardlink { .. }) {
            continue; // shares the inode of its target, which is set on its own line
        }
        let q = quoted(path)?;
        // Entries mkfs.ext4 made are named by inode number; device nodes, FIFOs and sockets
        // are made by this script and named by path.
        let q = match &entry.kind {
            EntryKind::CharDevice { .. }
            | EntryKind::BlockDevice { .. }
            | EntryKind::Fifo
            | EntryKind::Socket => q,
            _ => match inodes.get(&path.to_string()) {
                Some(ino) => format!("<{ino}>"),
                None => {
                    return Err(Error::ToolFailed {
                        tool: "mkfs.ext4",
                        status: "exit status: 0".into(),
                        stderr: format!("`{path}` is missing from the new filesystem"),
                    });
                }
            },
        };
        let node = match &entry.kind {
            EntryKind::CharDevice { major, minor } => Some(format!("c {major} {minor}")),
            EntryKind::BlockDevice { major, minor } => Some(format!("b {major} {minor}")),
            EntryKind::Fifo => Some("p".to_owned()),
            _ => None,
        };
        if matches!(entry.kind, EntryKind::Socket) {
            // debugfs's mknod has no socket type: make a FIFO under a temporary name, retype
            // its inode, then link the real name (`link` takes the entry's file type from the
            // inode's mode, which keeps e2fsck's pass 2 happy) and drop the temporary name.
            let parent = path.parent().unwrap_or_default();
            let name = quote_text(path.file_name(), path)?;
            let mode = entry.type_bits() | (entry.mode & 0o7777);
            writeln!(
                out,
                "cd {dir}\nmknod {SOCKET_TMP} p\nsif {SOCKET_TMP} mode 0{mode:o}\n\
                 link {SOCKET_TMP} {name}\nunlink {SOCKET_TMP}",
                dir = quoted(&parent)?
            )
            .expect("writing to a String");
        }
        if let Some(node) = node {
            let parent = path.parent().unwrap_or_default();
            let name = quote_text(path.file_name(), path)?;
            // `mknod` creates in the current directory, with the name taken literally.
            writeln!(out, "cd {}\nmknod {name} {node}", quoted(&parent)?)
                .expect("writing to a String");
        }
        let mode = entry.type_bits() | (entry.mode & 0o7777);
        let t = entry.mtime;
        writeln!(
            out,
            "sif {q} uid {}\nsif {q} gid {}\nsif {q} mode 0{mode:o}\n\
             sif {q} mtime @{t}\nsif {q} atime @{t}\nsif {q} ctime @{t}",
            entry.uid, entry.gid
        )
        .expect("writing to a String");
        for (name, value) in &entry.xattrs {
            if name.contains('"') || name.chars().any(char::is_control) {
                return Err(Error::UnsupportedName {
                    path: format!("{path} (xattr {name})"),
                });
            }
            if xattr_count == 0 {
                fs::create_dir(xattr_dir).map_err(io_err(xattr_dir))?;
            }
            let value_file = xattr_dir.join(xattr_count.to_string());
            xattr_count += 1;
            fs::write(&value_file, value).map_err(io_err(&value_file))?;
            writeln!(out, "ea_set -f \"{}\" {q} \"{name}\"", value_file.display())
                .expect("writing to a String");
        }
    }
    let mut f = io::BufWriter::new(fs::File::create(script).map_err(io_err(script))?);
    f.write_all(out.as_bytes()).map_err(io_err(script))?;
    f.flush().map_err(io_err(script))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_debugfs_cannot_quote_are_refused() {
        let bad = StagePath::new("/etc/a\"b").expect("path");
        assert!(matches!(quoted(&bad), Err(Error::UnsupportedName { .. })));
        let ok = StagePath::new("/usr/share/a b").expect("path");
        assert_eq!(quoted(&ok).expect("quotable"), "\"/usr/share/a b\"");
    }

    #[test]
    fn listing_gives_inode_numbers() {
        let text = "debugfs: ls -p \"/\"\n/2/040755/0/0/.//\n/2/040755/0/0/..//\n\
                    /12/120777/0/0/bin/7/\n/13/040755/0/0/etc//\n\
                    debugfs: ls -p \"/etc\"\n/13/040755/0/0/.//\n/2/040755/0/0/..//\n\
                    /14/100644/0/0/host name/12/\n";
        let m = parse_listing(text);
        assert_eq!(m.get("/"), Some(&2));
        assert_eq!(m.get("/bin"), Some(&12));
        assert_eq!(m.get("/etc"), Some(&13));
        assert_eq!(m.get("/etc/host name"), Some(&14));
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn ids_come_from_the_seed() {
        let seed = Seed::new("img/1/qcow2");
        let a = Ext4Writer::from_seed(&seed, "root", "root", 1);
        let b = Ext4Writer::from_seed(&seed, "root", "root", 1);
        assert_eq!((&a.uuid, &a.hash_seed), (&b.uuid, &b.hash_seed));
        assert_ne!(a.uuid, a.hash_seed);
        assert_ne!(a.uuid, Ext4Writer::from_seed(&seed, "data", "data", 1).uuid);
    }
}
