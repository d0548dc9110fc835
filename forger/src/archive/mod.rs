//! Deterministic tar archives of a staging tree (the `artifact` target and OCI layers).
//!
//! Everything about an entry comes from the [`Manifest`](crate::stage::Manifest), never from
//! host metadata: owners, modes, symlink targets, hard links (the second and later names are
//! links to the first name in path order), device nodes, FIFOs and xattrs. Entries are in
//! path order, mtimes are clamped to `SOURCE_DATE_EPOCH`, and compression is reproducible and
//! parallel ([`Compression`]). Digests of both the compressed and the uncompressed stream are
//! computed while writing, so an OCI layer's digest and diff_id cost no second pass, and no
//! file or layer is ever held in memory whole.

mod blocks;
mod compress;
mod digest;
mod entries;
mod error;

use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

pub use blocks::BlockMemo;
pub use compress::Compression;
pub use digest::{Digest, DigestParseError, Hasher, HashingWriter};
pub use error::Error;

use crate::stage::{EntryKind, StagingTree};

/// How to write an archive.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// Compression of the tar stream.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`: every mtime later than this is set to it (0 when unset, which
    /// gives every entry mtime 0).
    pub epoch: i64,
    /// Compression threads; 0 means one per available core.
    pub threads: usize,
    /// Compressed blocks of earlier archives to reuse (the stage cache): the output is the
    /// same with or without it, only faster when most blocks are unchanged.
    pub memo: Option<Arc<dyn BlockMemo>>,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            compression: Compression::Gzip,
            epoch: 0,
            threads: 0,
            memo: None,
        }
    }
}

impl ArchiveOptions {
    /// Options with `compression` and `epoch`, threads from the machine.
    pub fn new(compression: Compression, epoch: i64) -> Self {
        ArchiveOptions {
            compression,
            epoch,
            threads: 0,
            memo: None,
        }
    }

    fn thread_count(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
        }
    }
}

/// What was written: the digests an OCI descriptor and config need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveDigests {
    /// sha256 of the bytes on disk (the OCI layer `digest`).
    pub compressed: Digest,
    /// sha256 of the plain tar stream (the OCI `diff_id`).
    pub uncompressed: Digest,
    /// Size in bytes of the file on disk.
    pub size: u64,
    /// Size in bytes of the plain tar stream.
    pub uncompressed_size: u64,
}

/// Writes `tree` as a tar archive to `out`, through a temporary file in the same directory
/// that is renamed to `out` only when complete.
pub fn write(
    tree: &StagingTree,
    out: &Path,
    opts: &ArchiveOptions,
) -> Result<ArchiveDigests, Error> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let werr = |source| Error::Write {
        path: out.to_owned(),
        source,
    };
    let tmp = tempfile::Builder::new()
        .prefix(".forger-archive-")
        .tempfile_in(dir)
        .map_err(werr)?;
    let file = tmp.as_file().try_clone().map_err(werr)?;
    let (digests, file) = write_to(tree, BufWriter::with_capacity(1 << 20, file), opts, out)?;
    drop(file);
    tmp.persist(out).map_err(|e| werr(e.error))?;
    Ok(digests)
}

/// Streams `tree` as a tar archive into `sink` and returns the digests with the sink.
/// `label` names the output in errors.
pub fn write_to<W: Write>(
    tree: &StagingTree,
    sink: W,
    opts: &ArchiveOptions,
    label: &Path,
) -> Result<(ArchiveDigests, W), Error> {
    let werr = |source| Error::Write {
        path: label.to_owned(),
        source,
    };
    let compressor = compress::ParallelCompressor::new(
        sink,
        opts.compression,
        opts.thread_count(),
        opts.memo.clone(),
    )
    .map_err(|e| Error::Worker {
        reason: e.to_string(),
    })?;
    let mut builder = tar::Builder::new(compressor);
    for (path, entry) in tree.manifest.iter() {
        let (size, file) = match entry.kind {
            EntryKind::File => {
                let f = tree.open_file(path)?;
                let len = f
                    .metadata()
                    .map_err(|source| Error::Read {
                        path: path.to_string(),
                        host: tree.host_path(path),
                        source,
                    })?
                    .len();
                (len, Some(f))
            }
            _ => (0, None),
        };
        let Some((header, pax)) =
            entries::header_for(path, entry, size, opts.epoch).map_err(werr)?
        else {
            tracing::warn!(path = %path, "sockets cannot be stored in tar; skipped");
            continue;
        };
        if !pax.is_empty() {
            let name = entries::member_name(path, entry.is_dir());
            builder
                .append(&entries::pax_header(&name, pax.len()), pax.as_slice())
                .map_err(werr)?;
        }
        match file {
            Some(f) => {
                let mut reader = ExactReader {
                    inner: f.take(size),
                    read: 0,
                };
                let res = builder.append(&header, &mut reader);
                if let Err(source) = res {
                    return Err(
                        if source.kind() == io::ErrorKind::Other && reader.read != size {
                            Error::FileChanged {
                                path: path.to_string(),
                                expected: size,
                                actual: reader.read,
                            }
                        } else {
                            Error::Read {
                                path: path.to_string(),
                                host: tree.host_path(path),
                                source,
                            }
                        },
                    );
                }
                if reader.read != size {
                    return Err(Error::FileChanged {
                        path: path.to_string(),
                        expected: size,
                        actual: reader.read,
                    });
                }
            }
            None => builder.append(&header, io::empty()).map_err(werr)?,
        }
    }
    let compressor = builder.into_inner().map_err(werr)?;
    let (mut sink, compressed, size, uncompressed, uncompressed_size) =
        compressor.finish().map_err(werr)?;
    sink.flush().map_err(werr)?;
    Ok((
        ArchiveDigests {
            compressed,
            uncompressed,
            size,
            uncompressed_size,
        },
        sink,
    ))
}

/// Counts bytes read so a file that shrank after its size was recorded is reported instead
/// of producing a corrupt archive (the tar crate pads short data without complaint).
struct ExactReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}
