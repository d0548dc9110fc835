//! Objects: `dnode_phys_t` encoding, the block tree of an object (L0 blocks plus 128 KiB
//! indirect blocks, built bottom-up while the L0 blocks stream past), and the objset builder
//! that packs dnodes 32 to a 16 KiB block and ends with a 2 KiB `objset_phys_t`.

use super::Error;
use super::blkptr::BlockPtr;
use super::vdev::BlockWriter;

/// log2 of the indirect block size.
pub(crate) const INDIRECT_SHIFT: u8 = 17;
/// Block pointers per indirect block.
const PER_INDIRECT: usize = 1 << (INDIRECT_SHIFT - 7);
/// Bytes of the meta-dnode's data blocks.
const DNODE_BLOCK: usize = 16 << 10;
/// Dnodes per meta-dnode block.
pub(crate) const DNODES_PER_BLOCK: u64 = (DNODE_BLOCK / 512) as u64;
/// `DNODE_FLAG_USED_BYTES`.
const FLAG_USED_BYTES: u8 = 1;
/// `DMU_OT_DNODE`.
const OT_DNODE: u64 = 10;
/// `DMU_OT_OBJSET`.
const OT_OBJSET: u64 = 11;

/// One object's dnode.
#[derive(Debug, Clone, Default)]
pub struct Dnode {
    /// DMU object type.
    pub dtype: u8,
    /// Levels of the block tree (1 = the blkptrs point at data).
    pub nlevels: u8,
    /// Number of block pointers in the dnode (1..=3).
    pub nblkptr: u8,
    /// DMU type of the bonus buffer.
    pub bonustype: u8,
    /// Data block size in bytes (a multiple of 512).
    pub blksz: u64,
    /// Last level-0 block id.
    pub maxblkid: u64,
    /// Bytes allocated for the object's blocks.
    pub used: u64,
    /// Top-level block pointers (`nblkptr` of them).
    pub blkptr: Vec<BlockPtr>,
    /// Bonus buffer contents.
    pub bonus: Vec<u8>,
}

impl Dnode {
    /// A dnode with no data blocks.
    pub fn empty(dtype: u8, blksz: u64, nblkptr: u8, bonustype: u8, bonus: Vec<u8>) -> Self {
        Dnode {
            dtype,
            nlevels: 1,
            nblkptr,
            bonustype,
            blksz,
            maxblkid: 0,
            used: 0,
            blkptr: vec![BlockPtr::default(); nblkptr as usize],
            bonus,
        }
    }

    /// The 512 on-disk bytes.
    pub fn encode(&self) -> [u8; 512] {
        let mut d = [0u8; 512];
        d[0] = self.dtype;
        d[1] = INDIRECT_SHIFT;
        d[2] = self.nlevels;
        d[3] = self.nblkptr;
        d[4] = self.bonustype;
        d[7] = FLAG_USED_BYTES;
        d[8..10].copy_from_slice(&((self.blksz >> 9) as u16).to_le_bytes());
        d[10..12].copy_from_slice(&(self.bonus.len() as u16).to_le_bytes());
        d[16..24].copy_from_slice(&self.maxblkid.to_le_bytes());
        d[24..32].copy_from_slice(&self.used.to_le_bytes());
        for (i, bp) in self.blkptr.iter().enumerate() {
            d[64 + 128 * i..192 + 128 * i].copy_from_slice(&bp.encode());
        }
        let b = 64 + 128 * self.nblkptr as usize;
        d[b..b + self.bonus.len()].copy_from_slice(&self.bonus);
        d
    }
}

/// The block tree of one object, built while its level-0 blocks are pushed in order.
pub struct BlockTree {
    dtype: u64,
    nblkptr: usize,
    nlevels: usize,
    pending: Vec<Vec<BlockPtr>>,
    used: u64,
    pushed: u64,
}

impl BlockTree {
    /// A tree for `nblocks` level-0 blocks of type `dtype` under `nblkptr` top pointers.
    pub fn new(dtype: u64, nblkptr: u8, nblocks: u64) -> Self {
        let mut nlevels = 1;
        let mut span = nblkptr as u64;
        while span < nblocks {
            span *= PER_INDIRECT as u64;
            nlevels += 1;
        }
        BlockTree {
            dtype,
            nblkptr: nblkptr as usize,
            nlevels,
            pending: vec![Vec::new(); nlevels],
            used: 0,
            pushed: 0,
        }
    }

    /// Adds the next level-0 block (a hole is `BlockPtr::default()`).
    pub fn push(&mut self, w: &mut BlockWriter, bp: BlockPtr) -> Result<(), Error> {
        self.used += bp.asize;
        self.pushed += 1;
        self.pending[0].push(bp);
        for level in 0..self.nlevels - 1 {
            if self.pending[level].len() < PER_INDIRECT {
                break;
            }
            self.close(w, level)?;
        }
        Ok(())
    }

    fn close(&mut self, w: &mut BlockWriter, level: usize) -> Result<(), Error> {
        let children = std::mem::take(&mut self.pending[level]);
        let fill: u64 = children.iter().map(|c| c.fill).sum();
        let bp = if children.iter().all(BlockPtr::is_hole) {
            BlockPtr::default()
        } else {
            let mut buf = Vec::with_capacity(children.len() * 128);
            for c in &children {
                buf.extend_from_slice(&c.encode());
            }
            let bp = w.write_block(
                &buf,
                1 << INDIRECT_SHIFT,
                self.dtype,
                level as u64 + 1,
                fill,
            )?;
            self.used += bp.asize;
            bp
        };
        self.pending[level + 1].push(bp);
        Ok(())
    }

    /// Writes the remaining partial indirect blocks and fills `dn`'s tree fields.
    pub fn finish(mut self, w: &mut BlockWriter, dn: &mut Dnode) -> Result<(), Error> {
        for level in 0..self.nlevels - 1 {
            if !self.pending[level].is_empty() {
                self.close(w, level)?;
            }
        }
        let mut top = std::mem::take(&mut self.pending[self.nlevels - 1]);
        debug_assert!(top.len() <= self.nblkptr);
        top.resize(self.nblkptr, BlockPtr::default());
        dn.blkptr = top;
        dn.nblkptr = self.nblkptr as u8;
        dn.nlevels = self.nlevels as u8;
        dn.used = self.used;
        dn.maxblkid = self.pushed.saturating_sub(1);
        Ok(())
    }
}

/// Writes `blocks` (each `blksz` bytes) as the data of `dn` with fill 1 per block.
pub fn write_object_blocks(
    w: &mut BlockWriter,
    dn: &mut Dnode,
    blocks: &[Vec<u8>],
) -> Result<(), Error> {
    let mut tree = BlockTree::new(dn.dtype as u64, dn.nblkptr, blocks.len() as u64);
    for b in blocks {
        let bp = w.write_block(b, dn.blksz, dn.dtype as u64, 0, 1)?;
        tree.push(w, bp)?;
    }
    tree.finish(w, dn)
}

/// Builds an objset: dnodes are added in increasing object order and their 16 KiB blocks
/// are written as soon as they are complete.
pub struct ObjsetBuilder {
    block: Vec<u8>,
    block_id: u64,
    block_fill: u64,
    total: u64,
    tree: BlockTree,
    os_type: u64,
}

impl ObjsetBuilder {
    /// An objset of type `os_type` (1 META, 2 ZFS) whose largest object number is `max_obj`.
    pub fn new(os_type: u64, max_obj: u64) -> Self {
        let nblocks = (max_obj + 1).div_ceil(DNODES_PER_BLOCK);
        ObjsetBuilder {
            block: vec![0u8; DNODE_BLOCK],
            block_id: 0,
            block_fill: 0,
            total: 0,
            tree: BlockTree::new(OT_DNODE, 3, nblocks),
            os_type,
        }
    }

    /// Stores the dnode of object `obj` (objects must come in increasing order).
    pub fn add(&mut self, w: &mut BlockWriter, obj: u64, dn: &Dnode) -> Result<(), Error> {
        let blk = obj / DNODES_PER_BLOCK;
        while self.block_id < blk {
            self.flush_block(w)?;
        }
        let slot = (obj % DNODES_PER_BLOCK) as usize * 512;
        self.block[slot..slot + 512].copy_from_slice(&dn.encode());
        self.block_fill += 1;
        self.total += 1;
        Ok(())
    }

    fn flush_block(&mut self, w: &mut BlockWriter) -> Result<(), Error> {
        let bp = if self.block_fill == 0 {
            BlockPtr::default()
        } else {
            w.write_block(
                &self.block,
                DNODE_BLOCK as u64,
                OT_DNODE,
                0,
                self.block_fill,
            )?
        };
        self.tree.push(w, bp)?;
        self.block.fill(0);
        self.block_fill = 0;
        self.block_id += 1;
        Ok(())
    }

    /// Writes the last dnode block, the indirect blocks and the `objset_phys_t`; returns the
    /// objset's block pointer.
    pub fn finish(mut self, w: &mut BlockWriter) -> Result<BlockPtr, Error> {
        if self.block_fill > 0 {
            self.flush_block(w)?;
        }
        let mut meta = Dnode {
            dtype: OT_DNODE as u8,
            blksz: DNODE_BLOCK as u64,
            ..Dnode::default()
        };
        let tree = std::mem::replace(&mut self.tree, BlockTree::new(OT_DNODE, 3, 0));
        tree.finish(w, &mut meta)?;
        let mut os = vec![0u8; 2048];
        os[..512].copy_from_slice(&meta.encode());
        os[704..712].copy_from_slice(&self.os_type.to_le_bytes());
        w.write_block(&os, 2048, OT_OBJSET, 0, self.total)
    }
}
