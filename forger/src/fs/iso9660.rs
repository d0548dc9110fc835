//! An ISO 9660 image writer with Rock Ridge (RRIP 1.10 over SUSP 1.10), our own: it lays the
//! whole image out from metadata first, then writes it front to back into any [`Write`], so file
//! bytes are streamed from their host files and the output never needs to be seekable or held in
//! memory. Every date comes from the caller, so the same input gives the same bytes.
//!
//! Layout (ECMA-119 §6, §8, §9): 16 zero sectors of system area, the primary volume descriptor
//! (sector 16), the set terminator, the type-L then type-M path tables, every directory extent in
//! path-table order, one sector per Rock Ridge continuation area, then the file data.
//!
//! What the readers need, and why the writer does it this way:
//! - The illumos kernel's early-boot reader (`usr/src/common/fs/hsfs.c`, used on the boot
//!   archive) matches names byte-exactly against the Rock Ridge `NM` entry and ignores the ISO
//!   name, so every record carries `NM`. It follows `CE` continuation areas but ignores their
//!   offset field, so each continuation area starts at offset 0 of a sector of its own. It takes a
//!   record's extent block as its inode number and treats 0 as "not found", so empty files point at
//!   a non-zero block.
//! - `isoinfo -R`, xorriso and Linux find Rock Ridge through the `SP` entry of the root's `.`
//!   record and the `ER` entry naming `RRIP_1991A`.
//!
//! Not done: Joliet, El Torito, multi-extent files (a file is at most 4 GiB − 1), relocation of
//! directories deeper than 8 levels (written in place, as `mkisofs -D` does), symlinks and device
//! nodes (`SL`/`PN`), which the illumos boot archive does not hold.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// Bytes per logical sector (the only block size written).
pub const SECTOR: usize = 2048;
/// Sector of the primary volume descriptor.
const PVD_LBA: u32 = 16;
/// Longest name a single Rock Ridge `NM` entry holds (its length byte covers the 5-byte header).
pub const MAX_NAME: usize = 250;
/// The `ER` identifier of RRIP 1.10 (the one mkisofs writes and every reader knows).
const RRIP_ID: &str = "RRIP_1991A";
const RRIP_DESCRIPTOR: &str =
    "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const RRIP_SOURCE: &str = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER \
                           IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";

/// A failure while laying out or writing an ISO 9660 image.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// A source file could not be read.
    #[error("cannot read `{}` for the ISO image", path.display())]
    #[diagnostic(
        code(forger::iso9660::read),
        help("check that the staged file exists and is readable")
    )]
    Read {
        /// The host file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The output could not be written.
    #[error("writing the ISO image failed at byte {offset}")]
    #[diagnostic(
        code(forger::iso9660::write),
        help("check free space and permissions of the output directory")
    )]
    Write {
        /// Byte offset in the image where the write failed.
        offset: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A name longer than one Rock Ridge `NM` entry can hold.
    #[error("name of `{path}` is {len} bytes; at most {MAX_NAME} fit an ISO 9660 Rock Ridge name")]
    #[diagnostic(
        code(forger::iso9660::name_too_long),
        help("shorten the file name; illumos itself allows at most 255 bytes")
    )]
    NameTooLong {
        /// Image path of the entry.
        path: String,
        /// Name length in bytes.
        len: usize,
    },
    /// A file too large for a single ISO 9660 extent.
    #[error("`{path}` is {size} bytes; a single-extent ISO 9660 file holds less than 4 GiB")]
    #[diagnostic(
        code(forger::iso9660::file_too_large),
        help("leave the file out of the image")
    )]
    FileTooLarge {
        /// Image path of the file.
        path: String,
        /// Its size in bytes.
        size: u64,
    },
    /// An entry whose parent was not added as a directory first.
    #[error("`{path}` has no parent directory in the ISO image")]
    #[diagnostic(
        code(forger::iso9660::no_parent),
        help("add directories before their contents")
    )]
    NoParent {
        /// Image path of the entry.
        path: String,
    },
    /// The same path was added twice.
    #[error("`{path}` was added to the ISO image twice")]
    #[diagnostic(code(forger::iso9660::duplicate), help("add each path once"))]
    Duplicate {
        /// Image path of the entry.
        path: String,
    },
    /// A source file changed size between layout and writing.
    #[error("`{}` was {expected} bytes at layout but {actual} when written", path.display())]
    #[diagnostic(
        code(forger::iso9660::source_changed),
        help("nothing may modify the staging tree while an image is written")
    )]
    SourceChanged {
        /// The host file.
        path: PathBuf,
        /// Size seen at layout.
        expected: u64,
        /// Bytes actually read.
        actual: u64,
    },
    /// More directories than a path table can number.
    #[error("{count} directories exceed the 65535 an ISO 9660 path table can number")]
    #[diagnostic(
        code(forger::iso9660::too_many_directories),
        help("put fewer directories into the image")
    )]
    TooManyDirectories {
        /// Number of directories.
        count: usize,
    },
}

/// Owner, permissions and time of one entry, written as Rock Ridge `PX` and `TF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Permission bits (`0o7777` at most); the file-type bits are added by the writer.
    pub mode: u32,
    /// Modification time, seconds since the epoch (also written as access and change time).
    pub mtime: i64,
}

/// Volume-level settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Volume identifier (d-characters; other characters become `_`, at most 32).
    pub volume_id: String,
    /// System identifier (a-characters, at most 32).
    pub system_id: String,
    /// Creation and modification time of the volume, seconds since the epoch.
    pub epoch: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            volume_id: "CDROM".to_owned(),
            system_id: String::new(),
            epoch: 0,
        }
    }
}

#[derive(Debug)]
enum Node {
    Dir {
        meta: Meta,
        children: BTreeMap<String, Node>,
    },
    File {
        meta: Meta,
        source: PathBuf,
        size: u64,
    },
}

/// The content of an image: a directory tree whose files are host files, described (not read)
/// until [`Image::write_to`] streams them.
#[derive(Debug)]
pub struct Image {
    root: Node,
}

impl Image {
    /// An image holding only the root directory, with `root` as its metadata.
    pub fn new(root: Meta) -> Self {
        Image {
            root: Node::Dir {
                meta: root,
                children: BTreeMap::new(),
            },
        }
    }

    /// Adds a directory at `path` (`/`-separated, relative to the root); its parent must exist.
    pub fn add_dir(&mut self, path: &str, meta: Meta) -> Result<(), Error> {
        self.insert(
            path,
            Node::Dir {
                meta,
                children: BTreeMap::new(),
            },
        )
    }

    /// Adds a file whose `size` bytes are read from `source` when the image is written. Files
    /// added with the same `source` share one extent (hard links).
    pub fn add_file(
        &mut self,
        path: &str,
        source: PathBuf,
        size: u64,
        meta: Meta,
    ) -> Result<(), Error> {
        if size > u64::from(u32::MAX) {
            return Err(Error::FileTooLarge {
                path: path.to_owned(),
                size,
            });
        }
        self.insert(path, Node::File { meta, source, size })
    }

    fn insert(&mut self, path: &str, node: Node) -> Result<(), Error> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let Some((name, parents)) = parts.split_last() else {
            return Err(Error::Duplicate {
                path: path.to_owned(),
            });
        };
        if name.len() > MAX_NAME {
            return Err(Error::NameTooLong {
                path: path.to_owned(),
                len: name.len(),
            });
        }
        let mut dir = &mut self.root;
        for part in parents {
            dir = match dir {
                Node::Dir { children, .. } => match children.get_mut(*part) {
                    Some(n @ Node::Dir { .. }) => n,
                    _ => {
                        return Err(Error::NoParent {
                            path: path.to_owned(),
                        });
                    }
                },
                Node::File { .. } => unreachable!("the walk only descends into directories"),
            };
        }
        let Node::Dir { children, .. } = dir else {
            unreachable!("the walk only descends into directories")
        };
        if children.contains_key(*name) {
            return Err(Error::Duplicate {
                path: path.to_owned(),
            });
        }
        children.insert((*name).to_owned(), node);
        Ok(())
    }

    /// Lays the image out and writes it to `out` front to back. Returns the image size in bytes.
    pub fn write_to(&self, opts: &Options, out: &mut dyn Write) -> Result<u64, Error> {
        let layout = Layout::build(self)?;
        let mut w = Sink { out, offset: 0 };
        layout.emit(opts, &mut w)?;
        Ok(w.offset)
    }
}

/// What a directory record points at.
#[derive(Debug, Clone, Copy)]
enum Target {
    Dir(usize),
    File(usize),
    Empty,
}

/// One directory record before block numbers are known.
#[derive(Debug)]
struct Record {
    /// The ISO file identifier bytes (`\0` for `.`, `\x01` for `..`).
    ident: Vec<u8>,
    target: Target,
    is_dir: bool,
    meta: Meta,
    /// Rock Ridge `NM` name, when the record has one.
    rr_name: Option<Vec<u8>>,
    /// Root `.` record: carries `SP` and the `ER` (through a continuation area).
    root_dot: bool,
    nlink: u32,
    /// Continuation area index, when the system-use entries overflow the record.
    ce: Option<usize>,
    /// Entries written in the record itself (the `CE` entry is appended at emit time).
    inline: Vec<u8>,
    /// Entries written in the continuation area.
    spill: Vec<u8>,
}

impl Record {
    fn len(&self) -> usize {
        let base = 33 + self.ident.len() + (self.ident.len() + 1) % 2;
        let su = self.inline.len() + if self.ce.is_some() { 28 } else { 0 };
        let n = base + su;
        n + n % 2
    }
}

#[derive(Debug)]
struct DirInfo {
    parent: usize,
    ident: Vec<u8>,
    records: Vec<Record>,
    sectors: u32,
    lba: u32,
}

#[derive(Debug)]
struct FileData {
    source: PathBuf,
    size: u64,
    lba: u32,
}

#[derive(Debug)]
struct Layout {
    dirs: Vec<DirInfo>,
    files: Vec<FileData>,
    /// First sector of the continuation areas (one sector each, in record order).
    spill_lba: u32,
    path_table_size: u32,
    l_table_lba: u32,
    m_table_lba: u32,
    data_lba: u32,
    volume_sectors: u32,
}

impl Layout {
    fn build(image: &Image) -> Result<Self, Error> {
        let Node::Dir {
            meta: root_meta, ..
        } = &image.root
        else {
            unreachable!("the image root is a directory")
        };
        // Breadth-first over directories, children in ISO identifier order: this is the path
        // table order (ECMA-119 §9.4.4: by level, then parent number, then identifier).
        let mut queue: Vec<(&Node, usize, Vec<u8>, Meta)> =
            vec![(&image.root, 0, vec![0], *root_meta)];
        let mut dirs: Vec<DirInfo> = Vec::new();
        let mut files: Vec<FileData> = Vec::new();
        let mut by_source: HashMap<PathBuf, usize> = HashMap::new();
        let mut links: HashMap<usize, u32> = HashMap::new();
        let mut spills: Vec<usize> = Vec::new();
        let mut i = 0;
        while i < queue.len() {
            let (node, parent, ident, meta) =
                (queue[i].0, queue[i].1, queue[i].2.clone(), queue[i].3);
            let Node::Dir { children, .. } = node else {
                unreachable!("only directories are queued")
            };
            let parent_meta = if i == 0 { meta } else { queue[parent].3 };
            let mut records = vec![
                dot_record(vec![0], Target::Dir(i), meta, i == 0),
                dot_record(vec![1], Target::Dir(parent), parent_meta, false),
            ];
            let names = iso_names(children);
            let mut kids: Vec<(&String, &Node, Vec<u8>)> = children
                .iter()
                .map(|(n, c)| (n, c, names[n.as_str()].clone()))
                .collect();
            kids.sort_by(|a, b| compare_idents(&a.2, &b.2));
            for (name, child, iso) in kids {
                match child {
                    Node::Dir { meta, .. } => {
                        let index = queue.len();
                        queue.push((child, i, iso.clone(), *meta));
                        records.push(named_record(iso, Target::Dir(index), true, *meta, name, 2));
                    }
                    Node::File { meta, source, size } => {
                        let target = if *size == 0 {
                            Target::Empty
                        } else {
                            let idx = *by_source.entry(source.clone()).or_insert_with(|| {
                                files.push(FileData {
                                    source: source.clone(),
                                    size: *size,
                                    lba: 0,
                                });
                                files.len() - 1
                            });
                            *links.entry(idx).or_insert(0) += 1;
                            Target::File(idx)
                        };
                        records.push(named_record(iso, target, false, *meta, name, 1));
                    }
                }
            }
            dirs.push(DirInfo {
                parent,
                ident,
                records,
                sectors: 0,
                lba: 0,
            });
            i += 1;
        }
        if dirs.len() > usize::from(u16::MAX) {
            return Err(Error::TooManyDirectories { count: dirs.len() });
        }
        // Hard-linked names report their link count; then the system-use entries are final
        // and can be split between records and continuation areas (in emit order).
        for d in &mut dirs {
            for r in &mut d.records {
                if let Target::File(f) = r.target {
                    r.nlink = links[&f];
                }
                r.fit(&mut spills);
            }
        }
        let path_table_size: usize = dirs
            .iter()
            .map(|d| 8 + d.ident.len() + d.ident.len() % 2)
            .sum();
        let pt_sectors = sectors_for(path_table_size as u64);
        let l_table_lba = PVD_LBA + 2;
        let m_table_lba = l_table_lba + pt_sectors;
        let mut lba = m_table_lba + pt_sectors;
        for d in &mut dirs {
            d.sectors = dir_sectors(&d.records);
            d.lba = lba;
            lba += d.sectors;
        }
        let spill_lba = lba;
        lba += spills.len() as u32;
        let data_lba = lba;
        for f in &mut files {
            f.lba = lba;
            lba += sectors_for(f.size);
        }
        Ok(Layout {
            dirs,
            files,
            spill_lba,
            path_table_size: path_table_size as u32,
            l_table_lba,
            m_table_lba,
            data_lba,
            volume_sectors: lba,
        })
    }

    fn target(&self, t: Target) -> (u32, u32) {
        match t {
            Target::Dir(d) => (self.dirs[d].lba, self.dirs[d].sectors * SECTOR as u32),
            Target::File(f) => (self.files[f].lba, self.files[f].size as u32),
            // A non-zero block: the illumos boot reader treats block 0 as "no such file".
            Target::Empty => (self.data_lba, 0),
        }
    }

    fn record_bytes(&self, r: &Record) -> Vec<u8> {
        let (lba, size) = self.target(r.target);
        let mut b = Vec::with_capacity(r.len());
        b.push(0); // length, patched below
        b.push(0); // extended attribute record length
        b.extend_from_slice(&both32(lba));
        b.extend_from_slice(&both32(size));
        b.extend_from_slice(&dir_date(r.meta.mtime));
        b.push(if r.is_dir { 2 } else { 0 });
        b.push(0); // file unit size
        b.push(0); // interleave gap
        b.extend_from_slice(&both16(1)); // volume sequence number
        b.push(r.ident.len() as u8);
        b.extend_from_slice(&r.ident);
        if r.ident.len().is_multiple_of(2) {
            b.push(0);
        }
        b.extend_from_slice(&r.inline);
        if let Some(ce) = r.ce {
            b.extend_from_slice(b"CE");
            b.push(28);
            b.push(1);
            b.extend_from_slice(&both32(self.spill_lba + ce as u32));
            b.extend_from_slice(&both32(0));
            b.extend_from_slice(&both32(r.spill.len() as u32));
        }
        if b.len() % 2 == 1 {
            b.push(0);
        }
        debug_assert_eq!(b.len(), r.len(), "record length matches its layout");
        b[0] = b.len() as u8;
        b
    }

    fn emit(&self, opts: &Options, w: &mut Sink<'_>) -> Result<(), Error> {
        w.zeros(PVD_LBA as u64 * SECTOR as u64)?;
        w.put(&self.pvd(opts))?;
        let mut term = vec![0u8; SECTOR];
        term[0] = 255;
        term[1..6].copy_from_slice(b"CD001");
        term[6] = 1;
        w.put(&term)?;
        for big_endian in [false, true] {
            let mut t = Vec::with_capacity(self.path_table_size as usize);
            for (n, d) in self.dirs.iter().enumerate() {
                let parent = if n == 0 { 1 } else { d.parent as u16 + 1 };
                t.push(d.ident.len() as u8);
                t.push(0);
                let lba = if big_endian {
                    d.lba.to_be_bytes()
                } else {
                    d.lba.to_le_bytes()
                };
                t.extend_from_slice(&lba);
                let p = if big_endian {
                    parent.to_be_bytes()
                } else {
                    parent.to_le_bytes()
                };
                t.extend_from_slice(&p);
                t.extend_from_slice(&d.ident);
                if d.ident.len() % 2 == 1 {
                    t.push(0);
                }
            }
            w.put_padded(&t)?;
        }
        for d in &self.dirs {
            let mut sector = Vec::with_capacity(SECTOR);
            let mut written = 0u32;
            for r in &d.records {
                let b = self.record_bytes(r);
                if sector.len() + b.len() > SECTOR {
                    w.put_padded(&sector)?;
                    written += 1;
                    sector.clear();
                }
                sector.extend_from_slice(&b);
            }
            w.put_padded(&sector)?;
            written += 1;
            debug_assert_eq!(
                written, d.sectors,
                "directory extent size matches its layout"
            );
        }
        for d in &self.dirs {
            for r in d.records.iter().filter(|r| r.ce.is_some()) {
                w.put_padded(&r.spill)?;
            }
        }
        debug_assert_eq!(
            w.offset,
            u64::from(self.data_lba) * SECTOR as u64,
            "file data starts where the layout put it"
        );
        let mut buf = vec![0u8; 64 * 1024];
        for f in &self.files {
            let mut src = File::open(&f.source).map_err(|source| Error::Read {
                path: f.source.clone(),
                source,
            })?;
            let mut left = f.size;
            while left > 0 {
                let want = buf.len().min(left as usize);
                let n = src.read(&mut buf[..want]).map_err(|source| Error::Read {
                    path: f.source.clone(),
                    source,
                })?;
                if n == 0 {
                    return Err(Error::SourceChanged {
                        path: f.source.clone(),
                        expected: f.size,
                        actual: f.size - left,
                    });
                }
                w.put(&buf[..n])?;
                left -= n as u64;
            }
            let tail = (SECTOR as u64 - f.size % SECTOR as u64) % SECTOR as u64;
            w.zeros(tail)?;
        }
        Ok(())
    }

    fn pvd(&self, opts: &Options) -> Vec<u8> {
        let mut v = vec![0u8; SECTOR];
        v[0] = 1;
        v[1..6].copy_from_slice(b"CD001");
        v[6] = 1;
        v[8..40].copy_from_slice(&padded(&a_chars(&opts.system_id), 32));
        v[40..72].copy_from_slice(&padded(&d_chars(&opts.volume_id), 32));
        v[80..88].copy_from_slice(&both32(self.volume_sectors));
        v[120..124].copy_from_slice(&both16(1));
        v[124..128].copy_from_slice(&both16(1));
        v[128..132].copy_from_slice(&both16(SECTOR as u16));
        v[132..140].copy_from_slice(&both32(self.path_table_size));
        v[140..144].copy_from_slice(&self.l_table_lba.to_le_bytes());
        v[148..152].copy_from_slice(&self.m_table_lba.to_be_bytes());
        // The root record in the descriptor is the root's `.` without system-use entries.
        let root = &self.dirs[0];
        let mut rec = Vec::with_capacity(34);
        rec.push(34);
        rec.push(0);
        rec.extend_from_slice(&both32(root.lba));
        rec.extend_from_slice(&both32(root.sectors * SECTOR as u32));
        rec.extend_from_slice(&dir_date(root.records[0].meta.mtime));
        rec.push(2);
        rec.extend_from_slice(&[0, 0]);
        rec.extend_from_slice(&both16(1));
        rec.push(1);
        rec.push(0);
        v[156..190].copy_from_slice(&rec);
        for range in [
            190..318,
            318..446,
            446..574,
            574..702,
            702..739,
            739..776,
            776..813,
        ] {
            v[range].fill(b' ');
        }
        let date = volume_date(opts.epoch);
        v[813..830].copy_from_slice(&date);
        v[830..847].copy_from_slice(&date);
        let mut unset = [b'0'; 17];
        unset[16] = 0;
        v[847..864].copy_from_slice(&unset);
        v[864..881].copy_from_slice(&unset);
        v[881] = 1;
        v
    }
}

impl Record {
    /// Splits the system-use entries between the record (at most 255 bytes in all) and a
    /// continuation area.
    fn fit(&mut self, spills: &mut Vec<usize>) {
        let base = 33 + self.ident.len() + (self.ident.len() + 1) % 2;
        let room = 254 - base; // keep the record length even and within a byte
        let entries = self.entries();
        let total: usize = entries.iter().map(Vec::len).sum();
        self.inline.clear();
        self.spill.clear();
        if total <= room {
            entries
                .iter()
                .for_each(|e| self.inline.extend_from_slice(e));
            self.ce = None;
            return;
        }
        let mut spilling = false;
        for e in entries {
            if !spilling && self.inline.len() + e.len() + 28 <= room {
                self.inline.extend_from_slice(&e);
            } else {
                spilling = true;
                self.spill.extend_from_slice(&e);
            }
        }
        spills.push(self.spill.len());
        self.ce = Some(spills.len() - 1);
        debug_assert!(
            self.spill.len() <= SECTOR,
            "a continuation area fits one sector"
        );
    }

    /// The SUSP/RRIP entries of this record in order: `SP`, `PX`, `TF`, `NM`, `ER`.
    fn entries(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if self.root_dot {
            out.push(vec![b'S', b'P', 7, 1, 0xBE, 0xEF, 0]);
        }
        let kind = if self.is_dir { 0o040000 } else { 0o100000 };
        let mut px = vec![b'P', b'X', 36, 1];
        px.extend_from_slice(&both32(kind | (self.meta.mode & 0o7777)));
        px.extend_from_slice(&both32(self.nlink));
        px.extend_from_slice(&both32(self.meta.uid));
        px.extend_from_slice(&both32(self.meta.gid));
        out.push(px);
        let date = dir_date(self.meta.mtime);
        let mut tf = vec![b'T', b'F', 26, 1, 0x02 | 0x04 | 0x08];
        for _ in 0..3 {
            tf.extend_from_slice(&date);
        }
        out.push(tf);
        if let Some(name) = &self.rr_name {
            let mut nm = vec![b'N', b'M', (5 + name.len()) as u8, 1, 0];
            nm.extend_from_slice(name);
            out.push(nm);
        }
        if self.root_dot {
            let mut er = vec![
                b'E',
                b'R',
                (8 + RRIP_ID.len() + RRIP_DESCRIPTOR.len() + RRIP_SOURCE.len()) as u8,
                1,
                RRIP_ID.len() as u8,
                RRIP_DESCRIPTOR.len() as u8,
                RRIP_SOURCE.len() as u8,
                1,
            ];
            er.extend_from_slice(RRIP_ID.as_bytes());
            er.extend_from_slice(RRIP_DESCRIPTOR.as_bytes());
            er.extend_from_slice(RRIP_SOURCE.as_bytes());
            out.push(er);
        }
        out
    }
}

fn dot_record(ident: Vec<u8>, target: Target, meta: Meta, root_dot: bool) -> Record {
    Record {
        ident,
        target,
        is_dir: true,
        meta,
        rr_name: None,
        root_dot,
        nlink: 2,
        ce: None,
        inline: Vec::new(),
        spill: Vec::new(),
    }
}

fn named_record(
    ident: Vec<u8>,
    target: Target,
    is_dir: bool,
    meta: Meta,
    name: &str,
    nlink: u32,
) -> Record {
    Record {
        ident,
        target,
        is_dir,
        meta,
        rr_name: Some(name.as_bytes().to_vec()),
        root_dot: false,
        nlink,
        ce: None,
        inline: Vec::new(),
        spill: Vec::new(),
    }
}

/// Sectors a directory's records take; a record never crosses a sector boundary (§6.8.1.1).
fn dir_sectors(records: &[Record]) -> u32 {
    let (mut sectors, mut used) = (1u32, 0usize);
    for r in records {
        if used + r.len() > SECTOR {
            sectors += 1;
            used = 0;
        }
        used += r.len();
    }
    sectors
}

fn sectors_for(bytes: u64) -> u32 {
    bytes.div_ceil(SECTOR as u64) as u32
}

/// Unique ISO 9660 level-2 identifiers for the children of one directory: d-characters,
/// files as `NAME.EXT;1` (name and extension together at most 30), directories at most 31
/// characters without a dot. Collisions get a `~N` suffix.
fn iso_names(children: &BTreeMap<String, Node>) -> HashMap<&str, Vec<u8>> {
    let mut used: HashSet<Vec<u8>> = HashSet::new();
    let mut out = HashMap::new();
    for (name, node) in children {
        let is_dir = matches!(node, Node::Dir { .. });
        let (base, ext) = if is_dir {
            (d_chars(name), String::new())
        } else {
            match name.rfind('.') {
                Some(i) => (d_chars(&name[..i]), d_chars(&name[i + 1..])),
                None => (d_chars(name), String::new()),
            }
        };
        let ext: String = ext.chars().take(8).collect();
        let max_base = if is_dir { 31 } else { 30 - ext.len() };
        let mut n = 0u32;
        let ident = loop {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("~{n}")
            };
            let keep = max_base.saturating_sub(suffix.len());
            let b: String = base.chars().take(keep).collect::<String>() + &suffix;
            let id = if is_dir {
                b.into_bytes()
            } else {
                format!("{b}.{ext};1").into_bytes()
            };
            if used.insert(id.clone()) {
                break id;
            }
            n += 1;
        };
        out.insert(name.as_str(), ident);
    }
    out
}

/// ECMA-119 §9.3 order: name part, then extension, each compared padded with spaces.
fn compare_idents(a: &[u8], b: &[u8]) -> Ordering {
    fn split(id: &[u8]) -> (&[u8], &[u8]) {
        let id = match id.iter().position(|&c| c == b';') {
            Some(i) => &id[..i],
            None => id,
        };
        match id.iter().position(|&c| c == b'.') {
            Some(i) => (&id[..i], &id[i + 1..]),
            None => (id, &[]),
        }
    }
    fn padded_cmp(a: &[u8], b: &[u8]) -> Ordering {
        let n = a.len().max(b.len());
        (0..n)
            .map(|i| (*a.get(i).unwrap_or(&b' '), *b.get(i).unwrap_or(&b' ')))
            .map(|(x, y)| x.cmp(&y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
    let (an, ae) = split(a);
    let (bn, be) = split(b);
    padded_cmp(an, bn).then_with(|| padded_cmp(ae, be))
}

fn d_chars(s: &str) -> String {
    s.chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| {
            if c.is_ascii_uppercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn a_chars(s: &str) -> String {
    const EXTRA: &str = " !\"%&'()*+,-./:;<=>?_";
    s.chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| {
            if c.is_ascii_uppercase() || c.is_ascii_digit() || EXTRA.contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn padded(s: &str, n: usize) -> Vec<u8> {
    let mut v: Vec<u8> = s.bytes().take(n).collect();
    v.resize(n, b' ');
    v
}

fn both16(v: u16) -> [u8; 4] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], b[0], b[1]]
}

fn both32(v: u32) -> [u8; 8] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

/// UTC civil date of `secs` since the epoch: (year, month, day, hour, minute, second).
fn civil(secs: i64) -> (i64, u8, u8, u8, u8, u8) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to civil date (proleptic Gregorian), after H. Hinnant's public-domain algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u8,
        (rem % 3600 / 60) as u8,
        (rem % 60) as u8,
    )
}

/// The 7-byte date of directory records and `TF` (§9.1.5), clamped to 1900..=2155, UTC.
fn dir_date(secs: i64) -> [u8; 7] {
    let (y, mo, d, h, mi, s) = civil(secs);
    if y < 1900 {
        return [0, 1, 1, 0, 0, 0, 0];
    }
    if y > 2155 {
        return [255, 12, 31, 23, 59, 59, 0];
    }
    [(y - 1900) as u8, mo, d, h, mi, s, 0]
}

/// The 17-byte volume date (§8.4.26.1): `YYYYMMDDHHMMSScc` digits and a zero UTC offset.
fn volume_date(secs: i64) -> [u8; 17] {
    let (y, mo, d, h, mi, s) = civil(secs);
    let y = y.clamp(1, 9999);
    let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}00");
    let mut out = [0u8; 17];
    out[..16].copy_from_slice(text.as_bytes());
    out
}

/// The output with a running byte offset, for error reports and layout checks.
struct Sink<'a> {
    out: &'a mut dyn Write,
    offset: u64,
}

impl Sink<'_> {
    fn put(&mut self, b: &[u8]) -> Result<(), Error> {
        self.out.write_all(b).map_err(|source| Error::Write {
            offset: self.offset,
            source,
        })?;
        self.offset += b.len() as u64;
        Ok(())
    }

    /// Writes `b` followed by zeros up to the next sector boundary.
    fn put_padded(&mut self, b: &[u8]) -> Result<(), Error> {
        self.put(b)?;
        let tail = (SECTOR - b.len() % SECTOR) % SECTOR;
        self.zeros(tail as u64)
    }

    fn zeros(&mut self, mut n: u64) -> Result<(), Error> {
        let z = [0u8; SECTOR];
        while n > 0 {
            let k = n.min(SECTOR as u64) as usize;
            self.put(&z[..k])?;
            n -= k as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_values() {
        // 2023-11-14 22:13:20 UTC (`date -u -d @1700000000`).
        assert_eq!(civil(1_700_000_000), (2023, 11, 14, 22, 13, 20));
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        // 2000-02-29 (leap day), `date -u -d @951782400`.
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(&volume_date(0)[..16], b"1970010100000000");
        assert_eq!(dir_date(0), [70, 1, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn iso_names_are_unique_level2_identifiers() {
        let mut c = BTreeMap::new();
        let f = || Node::File {
            meta: Meta {
                uid: 0,
                gid: 0,
                mode: 0o644,
                mtime: 0,
            },
            source: PathBuf::new(),
            size: 0,
        };
        c.insert("Foo.conf".to_owned(), f());
        c.insert("foo.conf".to_owned(), f());
        c.insert("a-very-long-driver-configuration-name.conf".to_owned(), f());
        c.insert("noext".to_owned(), f());
        let n = iso_names(&c);
        assert_eq!(n["Foo.conf"], b"FOO.CONF;1");
        assert_eq!(n["foo.conf"], b"FOO~1.CONF;1");
        assert_eq!(n["noext"], b"NOEXT.;1");
        let long = &n["a-very-long-driver-configuration-name.conf"];
        assert!(long.len() <= 33, "{}", String::from_utf8_lossy(long));
    }

    #[test]
    fn identifiers_sort_by_name_then_extension() {
        let mut v: Vec<&[u8]> = vec![b"B.A;1", b"A.Z;1", b"AB.;1", b"A.B;1"];
        v.sort_by(|a, b| compare_idents(a, b));
        assert_eq!(v, [&b"A.B;1"[..], b"A.Z;1", b"AB.;1", b"B.A;1"]);
    }
}
