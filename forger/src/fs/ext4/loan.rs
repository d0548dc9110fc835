//! An ext4 filesystem lent rather than written (see [`Filesystem::lend`]): the kept image
//! of the base tree, borrowed from the [`ImageStore`](super::ImageStore) and changed in place
//! by the delta scripts, is what a QCOW2 disk reads its partition from.
//!
//! Why: the other way copies the 1.6 GB base image of a Debian payload into the disk, applies
//! the few changed blocks and reads it all back for the QCOW2 file, so most of a warm build
//! is writing one image twice. Changed in place, only the changed blocks are written, and
//! `debugfs -z` saves each block's old bytes first, so `e2undo` makes the kept image the base
//! image again when the loan ends. The store checks the image's digest before every use, so an
//! image a crash left changed is found and dropped, never used.
//!
//! [`Filesystem::lend`]: crate::fs::Filesystem::lend

use std::fs::File;
use std::process::Command;

use super::delta::{Delta, KeptImage, UNDO_FILES};
use super::{Error, Ext4Writer, io_err};
use crate::fs::Lent;
use crate::stage::StagingTree;

/// A kept base image with a tree's changes applied, and the blocks they overwrote.
pub(super) struct Loan {
    kept: Box<dyn KeptImage>,
    undo: tempfile::TempDir,
}

impl Lent for Loan {
    fn file(&self) -> &File {
        self.kept.file()
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        if let Err(e) = self.put_back() {
            tracing::warn!(image = %self.kept.path().display(), error = %e,
                "a lent base image could not be put back; it is dropped from the cache");
            self.kept.discard();
        }
    }
}

impl Loan {
    /// Replays the undo files, the last run's first.
    fn put_back(&self) -> Result<(), Error> {
        for name in UNDO_FILES.iter().rev() {
            let file = self.undo.path().join(name);
            if !file.exists() {
                continue;
            }
            let out = Command::new("e2undo")
                .arg(&file)
                .arg(self.kept.path())
                .output()
                .map_err(|source| Error::ToolMissing {
                    tool: "e2undo",
                    source,
                })?;
            if !out.status.success() {
                return Err(Error::ToolFailed {
                    tool: "e2undo",
                    status: out.status.to_string(),
                    stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                });
            }
        }
        Ok(())
    }
}

impl Ext4Writer {
    /// The base image kept by the store, changed into `tree`'s image, when the writer has a
    /// base, the store lends its image and the changes are ones the delta can make.
    pub(super) fn lend_base(&self, size: u64, tree: &StagingTree) -> Result<Option<Loan>, Error> {
        let Some(base) = &self.base else {
            return Ok(None);
        };
        let Some(store) = &base.store else {
            return Ok(None);
        };
        self.check(size)?;
        let Some(delta) = Delta::between(&base.tree, tree)? else {
            return Ok(None);
        };
        let kept = match store.lend(&self.base_key(base, size), size) {
            Ok(Some(kept)) => kept,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "a kept base image could not be lent");
                return Ok(None);
            }
        };
        let parent = tree.root().parent().unwrap_or(tree.root());
        let undo = tempfile::Builder::new()
            .prefix(".forger-ext4-undo-")
            .tempdir_in(parent)
            .map_err(io_err(parent))?;
        let loan = Loan { kept, undo };
        // On failure the loan is dropped here, which puts the image back.
        delta.apply(
            tree,
            loan.kept.path(),
            0,
            self.epoch,
            Some(loan.undo.path()),
        )?;
        Ok(Some(loan))
    }
}
