//! [`TreePayload`]: a host directory as the payload (`--rootfs DIR`).

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::{Error, PayloadSource};
use crate::stage::StagingTree;

/// A directory whose content, owners and modes become the image's base.
#[derive(Debug)]
pub(crate) struct TreePayload {
    dir: PathBuf,
}

impl TreePayload {
    pub(crate) fn new(dir: PathBuf) -> Self {
        TreePayload { dir }
    }
}

impl PayloadSource for TreePayload {
    fn describe(&self) -> String {
        format!("tree {}", self.dir.display())
    }

    /// Hashes the listing (path, type, size, mode, owner, mtime) rather than every byte:
    /// cheap on large trees, and any edit changes size or mtime.
    fn fingerprint(&self) -> Result<String, Error> {
        let mut h = Sha256::new();
        let mut stack = vec![self.dir.clone()];
        while let Some(dir) = stack.pop() {
            let io = |source| Error::Io {
                path: dir.clone(),
                source,
            };
            let mut items: Vec<_> = std::fs::read_dir(&dir)
                .map_err(io)?
                .collect::<Result<_, _>>()
                .map_err(io)?;
            items.sort_by_key(|e| e.file_name());
            for item in items {
                let m = std::fs::symlink_metadata(item.path()).map_err(io)?;
                let rel = item.path();
                let rel = rel.strip_prefix(&self.dir).unwrap_or(&rel);
                h.update(
                    format!(
                        "{}\0{:o}\0{}\0{}:{}\0{}\0{}\n",
                        rel.display(),
                        m.mode(),
                        m.size(),
                        m.uid(),
                        m.gid(),
                        m.mtime(),
                        m.mtime_nsec()
                    )
                    .as_bytes(),
                );
                if m.is_dir() {
                    stack.push(item.path());
                }
            }
        }
        Ok(format!("tree:sha256:{}", hex::encode(h.finalize())))
    }

    fn install(&self, tree: &mut StagingTree) -> Result<(), Error> {
        tree.import_dir(&self.dir)?;
        Ok(())
    }
}
