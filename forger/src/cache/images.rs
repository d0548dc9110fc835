//! The cache as a keeper of base filesystem images ([`ImageStore`]): the ext4 image of an
//! installed payload, which a disk build after an overlay edit copies instead of laying out
//! the payload's files again.
//!
//! `images/<key>/image` is the partition's bytes as a sparse file, `images/<key>/digest` the
//! sha256 over every non-zero 64 KiB chunk and its offset, so the digest does not depend on
//! where the file system of the cache put holes. An entry is copied out first and the copy
//! is hashed; a copy that does not match is punched back to zeros before anything reads it,
//! the damaged entry is removed and the image is built again.
//!
//! An entry can also be lent, for a QCOW2 disk that reads the image where it is: the lender
//! holds an exclusive `flock` on the image, hashes it in place and changes it, and puts it back
//! before unlocking; copies take a shared lock, so they never see it changed. A lender that
//! dies leaves bytes that fail the next check, and the entry is dropped then.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};
use sha2::{Digest, Sha256};

use super::{Cache, publish, remove_entry, temp_sibling, touch};
use crate::disk::data_extents;
use crate::fs::ext4::{ImageStore, KeptImage};

/// Copy and digest granularity.
const CHUNK: usize = 64 << 10;

impl Cache {
    fn image_dir(&self, key: &str) -> PathBuf {
        self.dir.join("images").join(key)
    }
}

impl ImageStore for Cache {
    fn restore(&self, key: &str, image: &Path, offset: u64, len: u64) -> std::io::Result<bool> {
        let entry = self.image_dir(key);
        let kept = entry.join("image");
        let Ok(expected) = fs::read_to_string(entry.join("digest")) else {
            return Ok(false);
        };
        let dst = File::options().read(true).write(true).open(image)?;
        // The kernel copies the data extents, then the copy itself is hashed: what is checked
        // is exactly what the builder will read, and a mismatch is taken back before it does.
        let copied = File::open(&kept).and_then(|src| {
            if src.metadata()?.len() != len {
                return Ok(false);
            }
            // Waits while another build has the image on loan, changed.
            flock(&src, FlockOperation::LockShared)?;
            copy_extents(&src, 0, &dst, offset, len)?;
            Ok(digest(&dst, offset, len)? == expected.trim())
        });
        if matches!(copied, Ok(true)) {
            touch(&entry);
            return Ok(true);
        }
        match copied {
            Ok(_) => {
                tracing::warn!(entry = %entry.display(), "dropping a damaged base image");
                let _ = remove_entry(&entry);
            }
            Err(e) => {
                tracing::warn!(entry = %entry.display(), error = %e, "a base image could not be copied")
            }
        }
        // Make the range read as zeros again, as the builder needs.
        use rustix::fs::{FallocateFlags, fallocate};
        fallocate(
            &dst,
            FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
            offset,
            len,
        )?;
        Ok(false)
    }

    fn lend(&self, key: &str, len: u64) -> std::io::Result<Option<Box<dyn KeptImage>>> {
        let entry = self.image_dir(key);
        let Ok(expected) = fs::read_to_string(entry.join("digest")) else {
            return Ok(None);
        };
        let path = entry.join("image");
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if file.metadata()?.len() != len {
            return Ok(None);
        }
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        if digest(&file, 0, len)? != expected.trim() {
            tracing::warn!(entry = %entry.display(), "dropping a damaged base image");
            let _ = remove_entry(&entry);
            return Ok(None);
        }
        touch(&entry);
        Ok(Some(Box::new(Loan { entry, path, file })))
    }

    fn keep(&self, key: &str, image: &Path, offset: u64, len: u64) {
        let entry = self.image_dir(key);
        if entry.join("digest").is_file() {
            return;
        }
        let kept = (|| -> Result<(), super::Error> {
            let tmp = temp_sibling(&entry)?;
            let io = |e| super::Error::io(&tmp)(e);
            let path = tmp.join("image");
            let dst = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(io)?;
            dst.set_len(len).map_err(io)?;
            let src = File::open(image).map_err(io)?;
            copy_extents(&src, offset, &dst, 0, len).map_err(io)?;
            let digest = digest(&dst, 0, len).map_err(io)?;
            fs::write(tmp.join("digest"), digest).map_err(io)?;
            publish(&tmp, &entry)
        })();
        if let Err(e) = kept {
            tracing::debug!(entry = %entry.display(), error = %e, "a base image was not kept");
        }
    }
}

/// A kept image on loan, locked exclusively until dropped (closing the file unlocks it).
struct Loan {
    entry: PathBuf,
    path: PathBuf,
    file: File,
}

impl KeptImage for Loan {
    fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self) -> &File {
        &self.file
    }

    fn discard(&self) {
        let _ = remove_entry(&self.entry);
    }
}

/// Copies the data extents of `len` bytes of `src` at `from` to `dst` at `to`; holes stay
/// holes. `copy_file_range` keeps the bytes in the kernel (1.6 GB in 0.6 s here, against
/// 1.2 s reading and writing a megabyte at a time); where the kernel cannot (another file
/// system type), the bytes go through a buffer.
fn copy_extents(src: &File, from: u64, dst: &File, to: u64, len: u64) -> std::io::Result<()> {
    use rustix::io::Errno;
    let mut buf = Vec::new();
    for (start, end) in data_extents(src, from, len)? {
        let mut off_in = start;
        let mut off_out = to + (start - from);
        while off_in < end {
            let want = usize::try_from(end - off_in)
                .unwrap_or(usize::MAX)
                .min(1 << 30);
            if buf.is_empty() {
                match rustix::fs::copy_file_range(
                    src,
                    Some(&mut off_in),
                    dst,
                    Some(&mut off_out),
                    want,
                ) {
                    Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                    Ok(_) => continue,
                    Err(Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP | Errno::INVAL) => {
                        buf = vec![0u8; 1 << 20];
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let n = want.min(buf.len());
            src.read_exact_at(&mut buf[..n], off_in)?;
            dst.write_all_at(&buf[..n], off_out)?;
            off_in += n as u64;
            off_out += n as u64;
        }
    }
    Ok(())
}

/// The sha256 over every non-zero [`CHUNK`] of `len` bytes of `src` from `from` and its
/// offset relative to `from`; chunks are aligned to `from`, so extent boundaries do not
/// change it. Reads a megabyte at a time.
fn digest(src: &File, from: u64, len: u64) -> std::io::Result<String> {
    const READ: u64 = 16 * CHUNK as u64;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; READ as usize];
    let end = from + len;
    let mut next = from;
    for (data, hole) in data_extents(src, from, len)? {
        let mut at = (data - (data - from) % CHUNK as u64).max(next);
        while at < hole {
            // Up to the end of the chunk that holds the extent's last byte, so every read
            // but the last is whole chunks.
            let chunk_end = from + (hole - from).next_multiple_of(CHUNK as u64);
            let n = (end - at).min(READ).min(chunk_end - at) as usize;
            src.read_exact_at(&mut buf[..n], at)?;
            for (i, chunk) in buf[..n].chunks(CHUNK).enumerate() {
                if chunk.iter().any(|&b| b != 0) {
                    h.update((at + (i * CHUNK) as u64 - from).to_le_bytes());
                    h.update(chunk);
                }
            }
            at += n as u64;
        }
        next = at;
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}
