//! The cache as a keeper of base filesystem images ([`ImageStore`]): the ext4 image of an
//! installed payload, which a disk build after an overlay edit copies instead of laying out
//! the payload's files again.
//!
//! `images/<key>/image` is the partition's bytes as a sparse file, `images/<key>/digest` the
//! sha256 over every non-zero 64 KiB chunk and its offset, so the digest does not depend on
//! where the file system of the cache put holes. An entry is checked in full before any byte
//! of it is copied out; a damaged one is removed and the image is built again.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Cache, publish, remove_entry, temp_sibling, touch};
use crate::fs::ext4::ImageStore;

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
        let checked = File::open(&kept).and_then(|src| {
            let size = src.metadata()?.len();
            Ok(size == len && copy_chunks(&src, 0, None, len)? == expected.trim())
        });
        if !matches!(checked, Ok(true)) {
            tracing::warn!(entry = %entry.display(), "dropping a damaged base image");
            let _ = remove_entry(&entry);
            return Ok(false);
        }
        let dst = File::options().write(true).open(image)?;
        let copied =
            File::open(&kept).and_then(|src| copy_chunks(&src, 0, Some((&dst, offset)), len));
        match copied {
            Ok(_) => {
                touch(&entry);
                Ok(true)
            }
            Err(e) => {
                // Half a copy: make the range read as zeros again, as the builder needs.
                tracing::warn!(entry = %entry.display(), error = %e, "a base image could not be copied");
                use rustix::fs::{FallocateFlags, fallocate};
                fallocate(
                    &dst,
                    FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
                    offset,
                    len,
                )?;
                Ok(false)
            }
        }
    }

    fn keep(&self, key: &str, image: &Path, offset: u64, len: u64) {
        let entry = self.image_dir(key);
        if entry.join("digest").is_file() {
            return;
        }
        let kept = (|| -> Result<(), super::Error> {
            let tmp = temp_sibling(&entry)?;
            let io = |e| super::Error::io(&tmp)(e);
            let dst = File::create(tmp.join("image")).map_err(io)?;
            dst.set_len(len).map_err(io)?;
            let src = File::open(image).map_err(io)?;
            let digest = copy_chunks(&src, offset, Some((&dst, 0)), len).map_err(io)?;
            fs::write(tmp.join("digest"), digest).map_err(io)?;
            publish(&tmp, &entry)
        })();
        if let Err(e) = kept {
            tracing::debug!(entry = %entry.display(), error = %e, "a base image was not kept");
        }
    }
}

/// Reads `len` bytes of `src` from `from` (only its data extents), writes every non-zero
/// chunk to `to` (a file and the offset that `from` maps to) when given, and returns the
/// digest over the non-zero chunks and their offsets relative to `from`.
fn copy_chunks(
    src: &File,
    from: u64,
    to: Option<(&File, u64)>,
    len: u64,
) -> std::io::Result<String> {
    use rustix::fs::{SeekFrom, seek};
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let end = from + len;
    let mut pos = from;
    while pos < end {
        let data = match seek(src, SeekFrom::Data(pos)) {
            Ok(d) => d.min(end),
            Err(rustix::io::Errno::NXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let hole = seek(src, SeekFrom::Hole(data))
            .map_err(std::io::Error::from)?
            .min(end);
        // Chunks are aligned to `from`, so the digest does not depend on extent boundaries.
        let mut at = data - (data - from) % CHUNK as u64;
        while at < hole {
            let n = (end - at).min(CHUNK as u64) as usize;
            src.read_exact_at(&mut buf[..n], at)?;
            if buf[..n].iter().any(|&b| b != 0) {
                h.update((at - from).to_le_bytes());
                h.update(&buf[..n]);
                if let Some((dst, base)) = to {
                    dst.write_all_at(&buf[..n], base + (at - from))?;
                }
            }
            at += n as u64;
        }
        pos = at.max(hole);
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}
