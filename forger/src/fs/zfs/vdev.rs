//! The block writer: allocates a block, writes it through a write-combining buffer (the bump
//! allocator makes consecutive blocks adjacent, so the device sees large sequential writes)
//! and returns its block pointer with the fletcher4 checksum.

use std::io::SeekFrom;

use super::Error;
use super::blkptr::{BlockPtr, COMPRESS_LZ4, COMPRESS_OFF};
use super::checksum::fletcher4;
use super::lz4;
use super::space::{Allocator, LABEL_START};
use crate::fs::BlockDevice;

/// Largest pending write kept before it is flushed to the device.
const COMBINE_LIMIT: usize = 8 << 20;

/// Writes blocks into the allocatable area of a vdev.
pub struct BlockWriter<'a> {
    dev: &'a mut dyn BlockDevice,
    pending: Vec<u8>,
    pending_at: u64,
    /// The allocator; the MOS writer snapshots and restores it while planning.
    pub alloc: Allocator,
    /// Birth txg of every block.
    pub txg: u64,
    /// Planning mode: allocate but write nothing and skip checksums.
    pub dry: bool,
    /// Compress file data blocks with lz4.
    pub lz4: bool,
    /// Running totals of every block written: (allocated, logical, physical) bytes.
    pub totals: SpaceTotals,
}

/// Byte totals of a set of blocks, as the DSL accounts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpaceTotals {
    /// Sum of DVA asizes (`used`/`referenced`).
    pub asize: u64,
    /// Sum of logical sizes (`uncompressed`).
    pub lsize: u64,
    /// Sum of physical sizes (`compressed`).
    pub psize: u64,
}

impl SpaceTotals {
    /// The totals accumulated since `earlier`.
    pub fn since(self, earlier: SpaceTotals) -> SpaceTotals {
        SpaceTotals {
            asize: self.asize - earlier.asize,
            lsize: self.lsize - earlier.lsize,
            psize: self.psize - earlier.psize,
        }
    }
}

impl<'a> BlockWriter<'a> {
    /// A writer over `dev` allocating from `alloc`.
    pub fn new(dev: &'a mut dyn BlockDevice, alloc: Allocator, txg: u64) -> Self {
        BlockWriter {
            dev,
            pending: Vec::with_capacity(COMBINE_LIMIT),
            pending_at: 0,
            alloc,
            txg,
            dry: false,
            lz4: false,
            totals: SpaceTotals::default(),
        }
    }

    /// Allocates and writes one uncompressed block. `data` is padded with zeros to `lsize`
    /// (a multiple of 512).
    pub fn write_block(
        &mut self,
        data: &[u8],
        lsize: u64,
        dtype: u64,
        level: u64,
        fill: u64,
    ) -> Result<BlockPtr, Error> {
        debug_assert!(lsize.is_multiple_of(512) && data.len() as u64 <= lsize);
        let padded;
        let block: &[u8] = if data.len() as u64 == lsize {
            data
        } else {
            let mut p = data.to_vec();
            p.resize(lsize as usize, 0);
            padded = p;
            &padded
        };
        self.write_physical(block, lsize, COMPRESS_OFF, dtype, level, fill, None)
    }

    /// The allocation unit in bytes.
    pub fn unit(&self) -> u64 {
        self.alloc.asize(1)
    }

    /// Allocates and writes a block prepared by [`prepare_data_block`]; a hole allocates
    /// nothing.
    pub fn write_prepared(&mut self, p: PreparedBlock, dtype: u64) -> Result<BlockPtr, Error> {
        if p.hole {
            return Ok(BlockPtr::default());
        }
        let (block, lsize, compress, checksum) = (p.block, p.lsize, p.compress, p.checksum);
        self.write_physical(&block, lsize, compress, dtype, 0, 1, Some(checksum))
    }

    #[allow(clippy::too_many_arguments)]
    fn write_physical(
        &mut self,
        block: &[u8],
        lsize: u64,
        compress: u64,
        dtype: u64,
        level: u64,
        fill: u64,
        checksum: Option<[u64; 4]>,
    ) -> Result<BlockPtr, Error> {
        let psize = block.len() as u64;
        let asize = self.alloc.asize(psize);
        let offset = self.alloc.alloc(asize)?;
        let checksum = match checksum {
            Some(c) => c,
            None if self.dry => [0; 4],
            None => fletcher4(block),
        };
        self.write_at(LABEL_START + offset, block)?;
        self.totals.asize += asize;
        self.totals.lsize += lsize;
        self.totals.psize += psize;
        Ok(BlockPtr {
            offset,
            asize,
            lsize,
            psize,
            compress,
            dtype,
            level,
            fill,
            birth: self.txg,
            checksum,
        })
    }

    /// Writes raw bytes at a device byte offset (zero padding of blocks is implied: the
    /// device reads as zeros where nothing was written).
    pub fn write_at(&mut self, dev_offset: u64, data: &[u8]) -> Result<(), Error> {
        if self.dry {
            return Ok(());
        }
        let contiguous = dev_offset == self.pending_at + self.pending.len() as u64;
        if !contiguous || self.pending.len() + data.len() > COMBINE_LIMIT {
            self.flush()?;
            self.pending_at = dev_offset;
        }
        if data.len() >= COMBINE_LIMIT {
            self.raw_write(dev_offset, data)?;
            self.pending_at = dev_offset + data.len() as u64;
        } else {
            self.pending.extend_from_slice(data);
        }
        Ok(())
    }

    /// Writes out the pending buffer.
    pub fn flush(&mut self) -> Result<(), Error> {
        if !self.pending.is_empty() {
            let buf = std::mem::take(&mut self.pending);
            self.raw_write(self.pending_at, &buf)?;
            self.pending_at += buf.len() as u64;
            self.pending = buf;
            self.pending.clear();
        }
        Ok(())
    }

    /// Writes out the pending buffer and flushes the device.
    pub fn finish(&mut self) -> Result<(), Error> {
        self.flush()?;
        let at = self.pending_at;
        self.dev
            .flush()
            .map_err(|source| Error::DeviceIo { offset: at, source })
    }

    fn raw_write(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        let io = |source| Error::DeviceIo { offset, source };
        self.dev.seek(SeekFrom::Start(offset)).map_err(io)?;
        self.dev.write_all(data).map_err(io)
    }
}

/// A file data block with its compression decided and checksum computed, ready to be
/// allocated; preparing is pure, so it runs on worker threads.
pub struct PreparedBlock {
    block: Vec<u8>,
    lsize: u64,
    compress: u64,
    checksum: [u64; 4],
    hole: bool,
}

/// Prepares a data block of logical size `lsize` from `data` (zero-padded): an all-zero
/// block becomes a hole; with `lz4`, the block is compressed when that saves at least an
/// eighth and one allocation unit of `unit` bytes (the rule OpenZFS applies).
pub fn prepare_data_block(data: &[u8], lsize: u64, lz4: bool, unit: u64) -> PreparedBlock {
    if data.iter().all(|&b| b == 0) {
        return PreparedBlock {
            block: Vec::new(),
            lsize,
            compress: COMPRESS_OFF,
            checksum: [0; 4],
            hole: true,
        };
    }
    let mut block = data.to_vec();
    block.resize(lsize as usize, 0);
    let mut compress = COMPRESS_OFF;
    if lz4 {
        let limit = (lsize - lsize / 8) as usize;
        if let Some(mut c) = lz4::compress_zfs(&block, limit) {
            let psize = (c.len() as u64).div_ceil(unit) * unit;
            if psize < lsize {
                c.resize(psize as usize, 0);
                block = c;
                compress = COMPRESS_LZ4;
            }
        }
    }
    let checksum = fletcher4(&block);
    PreparedBlock {
        block,
        lsize,
        compress,
        checksum,
        hole: false,
    }
}
