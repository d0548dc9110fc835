//! The cache as a memo of compressed archive blocks ([`BlockMemo`]): a rebuilt tarball or
//! OCI layer takes every block whose input did not change from here instead of compressing
//! it again, which is most of a rebuild after an overlay edit.
//!
//! `blocks/<codec>/<hex of the input's sha256>` holds the sha256 of the compressed bytes
//! followed by those bytes. Files are written under a temporary name and renamed, so
//! concurrent builds never read half a block; a block whose bytes do not match is removed
//! and compressed again. Each codec's blocks are one entry for `ls` and `prune`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Cache, modified_secs, touch};
use crate::archive::{BlockMemo, Digest};

impl Cache {
    /// Where the blocks compressed with `codec` live.
    pub(super) fn blocks_dir(&self, codec: &str) -> PathBuf {
        self.dir.join("blocks").join(codec)
    }
}

impl BlockMemo for Cache {
    fn get(&self, codec: &str, input: &Digest) -> Option<Vec<u8>> {
        let path = self.blocks_dir(codec).join(input.hex());
        let mut bytes = fs::read(&path).ok()?;
        if bytes.len() < 32 || Digest::of(&bytes[32..]).as_bytes()[..] != bytes[..32] {
            tracing::warn!(path = %path.display(), "dropping a damaged compressed block");
            let _ = fs::remove_file(&path);
            return None;
        }
        // The use keeps the codec's blocks young for `prune`.
        touch(&path);
        bytes.drain(..32);
        Some(bytes)
    }

    fn put(&self, codec: &str, input: &Digest, compressed: &[u8]) {
        let dir = self.blocks_dir(codec);
        if let Err(e) = write_block(&dir, &input.hex(), compressed) {
            tracing::debug!(dir = %dir.display(), error = %e, "a compressed block was not kept");
        }
    }
}

fn write_block(dir: &Path, name: &str, compressed: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".block-")
        .tempfile_in(dir)?;
    tmp.write_all(Digest::of(compressed).as_bytes())?;
    tmp.write_all(compressed)?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}

/// The newest modification time under `dir` (seconds since the epoch), for `ls`.
pub(super) fn newest_use(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| Some(modified_secs(&e.ok()?.path())))
        .max()
        .unwrap_or(0)
}
