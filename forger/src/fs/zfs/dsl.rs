//! The meta-objset (MOS): object directory, pool configuration, feature ZAPs, the DSL (dirs,
//! head datasets as clones of `$ORIGIN@$ORIGIN`, `$MOS`, `$FREE`, `$ORIGIN`, property ZAPs,
//! exact space accounting), the metaslab array and one space map per used metaslab.

use super::Error;
use super::blkptr::BlockPtr;
use super::dnode::{Dnode, ObjsetBuilder, write_object_blocks};
use super::nvlist::{NvList, NvValue};
use super::space::{Allocator, Geometry};
use super::vdev::{BlockWriter, SpaceTotals};
use super::zap::{self, ZapValue};

const OT_OBJECT_DIRECTORY: u8 = 1;
const OT_OBJECT_ARRAY: u8 = 2;
const OT_PACKED_NVLIST: u8 = 3;
const OT_PACKED_NVLIST_SIZE: u8 = 4;
const OT_BPOBJ: u8 = 5;
const OT_BPOBJ_HDR: u8 = 6;
const OT_SPACE_MAP_HEADER: u8 = 7;
const OT_SPACE_MAP: u8 = 8;
const OT_DSL_DIR: u8 = 12;
const OT_DSL_DIR_CHILD_MAP: u8 = 13;
const OT_DSL_DS_SNAP_MAP: u8 = 14;
const OT_DSL_PROPS: u8 = 15;
const OT_DSL_DATASET: u8 = 16;
const OT_POOL_PROPS: u8 = 31;
const OT_NEXT_CLONES: u8 = 37;
const OT_DEADLIST: u8 = 50;
const OT_DEADLIST_HDR: u8 = 51;
const OT_DSL_CLONES: u8 = 52;
/// `DMU_OTN_ZAP_METADATA`: the type the illumos loader requires for feature ZAPs.
const OT_ZAP_METADATA: u8 = 0xC4;
/// Bytes of one space map block.
const SM_BLOCK: usize = 4096;
/// `DS_FLAG_UNIQUE_ACCURATE`.
const DS_FLAG_UNIQUE_ACCURATE: u64 = 4;
/// GUID of the lz4 feature.
const LZ4_FEATURE: &str = "org.illumos:lz4_compress";
/// Creation txg of `$ORIGIN` (below every block's birth).
const ORIGIN_TXG: u64 = 1;

/// One user dataset as written: its place in the tree, properties and objset.
#[derive(Debug, Clone)]
pub struct DatasetOut {
    /// Name relative to the pool (`""` for the pool's root dataset).
    pub name: String,
    /// Index of the parent in the dataset list (`None` for the root dataset).
    pub parent: Option<usize>,
    /// Encoded properties for the props ZAP.
    pub props: Vec<(String, ZapValue)>,
    /// The ZPL objset.
    pub objset: BlockPtr,
    /// Space of every block of the objset.
    pub space: SpaceTotals,
    /// Dataset GUID.
    pub guid: u64,
    /// Filesystem id GUID (56 bits).
    pub fsid: u64,
}

/// Everything the MOS describes besides the allocations.
#[derive(Debug, Clone)]
pub struct PoolDesc {
    /// Pool name.
    pub name: String,
    /// Pool GUID.
    pub pool_guid: u64,
    /// GUID of the single disk vdev.
    pub vdev_guid: u64,
    /// Vdev geometry.
    pub geo: Geometry,
    /// `state` in the label and config (0 active, 1 exported).
    pub state: u64,
    /// Label and config txg (also the birth txg of every block).
    pub txg: u64,
    /// Creation time of every dataset (seconds).
    pub time: u64,
    /// The vdev `path` recorded in the label.
    pub vdev_path: String,
    /// Datasets, parents before children; index 0 is the pool's root dataset.
    pub datasets: Vec<DatasetOut>,
    /// Index of the dataset named by the `bootfs` pool property.
    pub bootfs: Option<usize>,
    /// Seed for the MOS ZAP salts.
    pub salt: u64,
    /// Whether `org.illumos:lz4_compress` is enabled (and active: refcount 1).
    pub lz4: bool,
}

impl PoolDesc {
    fn leaf_vdev(&self, metaslab_array: u64) -> NvList {
        NvList::new()
            .str("type", "disk")
            .u64("id", 0)
            .u64("guid", self.vdev_guid)
            .str("path", &self.vdev_path)
            .u64("whole_disk", 1)
            .u64("metaslab_array", metaslab_array)
            .u64("metaslab_shift", self.geo.ms_shift as u64)
            .u64("ashift", self.geo.ashift as u64)
            .u64("asize", self.geo.asize)
            .u64("is_log", 0)
            .u64("create_txg", self.txg)
    }

    /// The packed nvlist of the vdev labels.
    pub fn label_config(&self) -> Vec<u8> {
        NvList::new()
            .u64("version", 5000)
            .str("name", &self.name)
            .u64("state", self.state)
            .u64("txg", self.txg)
            .u64("pool_guid", self.pool_guid)
            .u64("top_guid", self.vdev_guid)
            .u64("guid", self.vdev_guid)
            .u64("vdev_children", 1)
            .with("vdev_tree", NvValue::List(self.leaf_vdev(METASLAB_ARRAY)))
            .with("features_for_read", NvValue::List(NvList::new()))
            .pack()
    }

    fn mos_config(&self) -> Vec<u8> {
        let root = NvList::new()
            .str("type", "root")
            .u64("id", 0)
            .u64("guid", self.pool_guid)
            .u64("create_txg", self.txg)
            .with(
                "children",
                NvValue::ListArray(vec![self.leaf_vdev(METASLAB_ARRAY)]),
            );
        NvList::new()
            .u64("version", 5000)
            .str("name", &self.name)
            .u64("state", self.state)
            .u64("txg", self.txg)
            .u64("pool_guid", self.pool_guid)
            .u64("vdev_children", 1)
            .with("vdev_tree", NvValue::List(root))
            .with("features_for_read", NvValue::List(NvList::new()))
            .pack()
    }
}

/// Object number of the metaslab array (fixed by the numbering in [`write_mos`]).
const METASLAB_ARRAY: u64 = 9;

struct Mos {
    objs: Vec<Option<(Dnode, Vec<Vec<u8>>)>>,
    salt: u64,
}

impl Mos {
    fn reserve(&mut self) -> u64 {
        self.objs.push(None);
        self.objs.len() as u64
    }

    fn set(&mut self, o: u64, dn: Dnode, blocks: Vec<Vec<u8>>) {
        self.objs[o as usize - 1] = Some((dn, blocks));
    }

    fn zap(
        &mut self,
        o: u64,
        ty: u8,
        entries: &[(String, ZapValue)],
        bonus: Option<(u8, Vec<u8>)>,
    ) -> Result<(), Error> {
        self.salt = self.salt.wrapping_mul(6364136223846793005).wrapping_add(o);
        let z = zap::build(entries, self.salt, "MOS object")?;
        let (bt, bonus, nblkptr) = match bonus {
            Some((t, b)) => (t, b, 1),
            None => (0, Vec::new(), 3),
        };
        self.set(
            o,
            Dnode::empty(ty, z.block_size, nblkptr, bt, bonus),
            z.blocks,
        );
        Ok(())
    }
}

fn words(n: usize, set: &[(usize, u64)]) -> Vec<u8> {
    let mut w = vec![0u64; n];
    for &(i, v) in set {
        w[i] = v;
    }
    w.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn u(name: &str, v: u64) -> (String, ZapValue) {
    (name.to_string(), ZapValue::U64(v))
}

struct DirNums {
    dir: u64,
    childmap: u64,
    props: u64,
}

/// Writes the MOS for `pool` with one space map per metaslab in `metaslabs`. `fin` is the
/// allocator's final state (known from a planning run): the space maps describe it, and
/// `mos` is the space of every MOS block. Returns the MOS objset's block pointer.
pub fn write_mos(
    w: &mut BlockWriter,
    pool: &PoolDesc,
    metaslabs: &[u64],
    fin: Option<&Allocator>,
    mos: SpaceTotals,
) -> Result<BlockPtr, Error> {
    let mut m = Mos {
        objs: Vec::new(),
        salt: pool.salt,
    };
    for _ in 0..METASLAB_ARRAY {
        m.reserve();
    }
    let nds = pool.datasets.len();
    let mut dirs = Vec::with_capacity(nds);
    let mut dss = Vec::with_capacity(nds);
    for _ in 0..nds {
        dirs.push(DirNums {
            dir: m.reserve(),
            childmap: m.reserve(),
            props: m.reserve(),
        });
        dss.push((m.reserve(), m.reserve(), m.reserve()));
    }
    let special = |m: &mut Mos| DirNums {
        dir: m.reserve(),
        childmap: m.reserve(),
        props: m.reserve(),
    };
    let mos_dir = special(&mut m);
    let free_dir = special(&mut m);
    let origin_dir = special(&mut m);
    let clones = m.reserve();
    let (ohead, ohead_snapnames, ohead_deadlist) = (m.reserve(), m.reserve(), m.reserve());
    let (osnap, osnap_next_clones, osnap_deadlist) = (m.reserve(), m.reserve(), m.reserve());
    let sm_objs: Vec<u64> = metaslabs.iter().map(|_| m.reserve()).collect();

    // Pool-level objects.
    let root_dir = dirs[0].dir;
    m.zap(
        1,
        OT_OBJECT_DIRECTORY,
        &[
            u("root_dataset", root_dir),
            u("config", 2),
            u("sync_bplist", 3),
            u("free_bpobj", 4),
            u("features_for_read", 5),
            u("features_for_write", 6),
            u("feature_descriptions", 7),
            u("pool_props", 8),
        ],
        None,
    )?;
    let config = pool.mos_config();
    let cfg_blocks: Vec<Vec<u8>> = config.chunks(16 << 10).map(<[u8]>::to_vec).collect();
    m.set(
        2,
        Dnode::empty(
            OT_PACKED_NVLIST,
            16 << 10,
            3,
            OT_PACKED_NVLIST_SIZE,
            (config.len() as u64).to_le_bytes().to_vec(),
        ),
        cfg_blocks,
    );
    for o in [3, 4] {
        m.set(
            o,
            Dnode::empty(OT_BPOBJ, 128 << 10, 3, OT_BPOBJ_HDR, vec![0; 48]),
            Vec::new(),
        );
    }
    // lz4_compress is a read feature that is active as soon as it is enabled.
    let (ffr, fdesc) = if pool.lz4 {
        (
            vec![u(LZ4_FEATURE, 1)],
            vec![(
                LZ4_FEATURE.to_string(),
                ZapValue::string("LZ4 compression algorithm support."),
            )],
        )
    } else {
        (Vec::new(), Vec::new())
    };
    m.zap(5, OT_ZAP_METADATA, &ffr, None)?;
    m.zap(6, OT_ZAP_METADATA, &[], None)?;
    m.zap(7, OT_ZAP_METADATA, &fdesc, None)?;
    let bootfs: Vec<_> = pool
        .bootfs
        .map(|i| u("bootfs", dss[i].0))
        .into_iter()
        .collect();
    m.zap(8, OT_POOL_PROPS, &bootfs, None)?;
    let mut array = vec![0u64; pool.geo.ms_count as usize];
    for (ms, o) in metaslabs.iter().zip(&sm_objs) {
        array[*ms as usize] = *o;
    }
    let bytes: Vec<u8> = array.iter().flat_map(|v| v.to_le_bytes()).collect();
    let bs = bytes.len().next_power_of_two().clamp(512, 128 << 10);
    let blocks: Vec<Vec<u8>> = bytes.chunks(bs).map(<[u8]>::to_vec).collect();
    m.set(
        METASLAB_ARRAY,
        Dnode::empty(OT_OBJECT_ARRAY, bs as u64, 3, 0, Vec::new()),
        blocks,
    );

    // Accounting: a dir's used space is its head dataset plus its child dirs.
    let mut dir_used = vec![SpaceTotals::default(); nds];
    for i in (0..nds).rev() {
        let ds = &pool.datasets[i];
        let own = dir_used[i];
        dir_used[i] = SpaceTotals {
            asize: own.asize + ds.space.asize,
            lsize: own.lsize + ds.space.lsize,
            psize: own.psize + ds.space.psize,
        };
        let total = dir_used[i];
        let parent = ds.parent.map(|p| &mut dir_used[p]);
        if let Some(p) = parent {
            p.asize += total.asize;
            p.lsize += total.lsize;
            p.psize += total.psize;
        }
    }
    let dir_phys = |head: u64,
                    parent: u64,
                    origin: u64,
                    nums: &DirNums,
                    used: SpaceTotals,
                    head_used: u64,
                    clones: u64| {
        words(
            32,
            &[
                (0, pool.time),
                (1, head),
                (2, parent),
                (3, origin),
                (4, nums.childmap),
                (5, used.asize),
                (6, used.psize),
                (7, used.lsize),
                (10, nums.props),
                (12, 1),
                (13, head_used),
                (15, used.asize - head_used),
                (18, clones),
            ],
        )
    };
    let ds_phys = |dir: u64,
                   prev: u64,
                   prev_txg: u64,
                   next: u64,
                   snapnames: u64,
                   children: u64,
                   txg: u64,
                   deadlist: u64,
                   space: SpaceTotals,
                   guids: (u64, u64),
                   bp: &BlockPtr,
                   next_clones: u64| {
        let mut b = words(
            40,
            &[
                (0, dir),
                (1, prev),
                (2, prev_txg),
                (3, next),
                (4, snapnames),
                (5, children),
                (6, pool.time),
                (7, txg),
                (8, deadlist),
                (9, space.asize),
                (10, space.psize),
                (11, space.lsize),
                (12, space.asize),
                (13, guids.0),
                (14, guids.1),
                (15, DS_FLAG_UNIQUE_ACCURATE),
                (32, next_clones),
            ],
        );
        b[128..256].copy_from_slice(&bp.encode());
        b
    };
    let deadlist =
        |m: &mut Mos, o: u64| m.zap(o, OT_DEADLIST, &[], Some((OT_DEADLIST_HDR, vec![0; 320])));
    let dir_dnode = |bonus: Vec<u8>| Dnode::empty(OT_DSL_DIR, 512, 1, OT_DSL_DIR, bonus);
    let ds_dnode = |bonus: Vec<u8>| Dnode::empty(OT_DSL_DATASET, 512, 1, OT_DSL_DATASET, bonus);

    // User datasets.
    let mut root_children = vec![
        u("$MOS", mos_dir.dir),
        u("$FREE", free_dir.dir),
        u("$ORIGIN", origin_dir.dir),
    ];
    for (i, ds) in pool.datasets.iter().enumerate() {
        let mut children: Vec<(String, ZapValue)> = pool
            .datasets
            .iter()
            .enumerate()
            .filter(|(_, c)| c.parent == Some(i))
            .map(|(j, c)| {
                let leaf = c.name.rsplit('/').next().unwrap_or(&c.name);
                u(leaf, dirs[j].dir)
            })
            .collect();
        if i == 0 {
            root_children.append(&mut children);
            children = std::mem::take(&mut root_children);
        }
        let nums = &dirs[i];
        m.zap(nums.childmap, OT_DSL_DIR_CHILD_MAP, &children, None)?;
        m.zap(nums.props, OT_DSL_PROPS, &ds.props, None)?;
        let mut used = dir_used[i];
        let mut head = ds.space.asize;
        if i == 0 {
            used.asize += mos.asize;
            used.lsize += mos.lsize;
            used.psize += mos.psize;
            head = ds.space.asize;
        }
        let parent = ds.parent.map(|p| dirs[p].dir).unwrap_or(0);
        let (dso, snapnames, dl) = dss[i];
        m.set(
            nums.dir,
            dir_dnode(dir_phys(dso, parent, osnap, nums, used, head, 0)),
            Vec::new(),
        );
        m.set(
            dso,
            ds_dnode(ds_phys(
                nums.dir,
                osnap,
                ORIGIN_TXG,
                0,
                snapnames,
                0,
                pool.txg,
                dl,
                ds.space,
                (ds.fsid, ds.guid),
                &ds.objset,
                0,
            )),
            Vec::new(),
        );
        m.zap(snapnames, OT_DSL_DS_SNAP_MAP, &[], None)?;
        deadlist(&mut m, dl)?;
    }

    // $MOS and $FREE: no head dataset, empty maps.
    m.set(
        mos_dir.dir,
        dir_dnode(dir_phys(0, root_dir, 0, &mos_dir, mos, mos.asize, 0)),
        Vec::new(),
    );
    m.set(
        free_dir.dir,
        dir_dnode(dir_phys(
            0,
            root_dir,
            0,
            &free_dir,
            SpaceTotals::default(),
            0,
            0,
        )),
        Vec::new(),
    );
    for d in [&mos_dir, &free_dir, &origin_dir] {
        m.zap(d.childmap, OT_DSL_DIR_CHILD_MAP, &[], None)?;
        m.zap(d.props, OT_DSL_PROPS, &[], None)?;
    }
    // $ORIGIN: head, the $ORIGIN snapshot, and every user dataset as its clone.
    let clone_list: Vec<_> = dss.iter().map(|d| u(&format!("{:x}", d.0), d.0)).collect();
    m.set(
        origin_dir.dir,
        dir_dnode(dir_phys(
            ohead,
            root_dir,
            0,
            &origin_dir,
            SpaceTotals::default(),
            0,
            clones,
        )),
        Vec::new(),
    );
    m.zap(clones, OT_DSL_CLONES, &clone_list, None)?;
    let hole = BlockPtr::default();
    let zero = SpaceTotals::default();
    let origin_guids = |k: u64| {
        (
            pool.salt.rotate_left(k as u32) >> 8,
            pool.salt ^ (k << 1) | 1,
        )
    };
    m.set(
        ohead,
        ds_dnode(ds_phys(
            origin_dir.dir,
            osnap,
            ORIGIN_TXG,
            0,
            ohead_snapnames,
            0,
            ORIGIN_TXG,
            ohead_deadlist,
            zero,
            origin_guids(1),
            &hole,
            0,
        )),
        Vec::new(),
    );
    m.zap(
        ohead_snapnames,
        OT_DSL_DS_SNAP_MAP,
        &[u("$ORIGIN", osnap)],
        None,
    )?;
    deadlist(&mut m, ohead_deadlist)?;
    m.set(
        osnap,
        ds_dnode(ds_phys(
            origin_dir.dir,
            0,
            0,
            ohead,
            0,
            1 + nds as u64,
            ORIGIN_TXG,
            osnap_deadlist,
            zero,
            origin_guids(2),
            &hole,
            osnap_next_clones,
        )),
        Vec::new(),
    );
    m.zap(osnap_next_clones, OT_NEXT_CLONES, &clone_list, None)?;
    deadlist(&mut m, osnap_deadlist)?;

    // Space maps of the final allocation state.
    for (ms, &o) in metaslabs.iter().zip(&sm_objs) {
        let (entries, alloc) = match fin {
            Some(a) => a.space_map(*ms),
            None => (vec![0], 0),
        };
        let bytes: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
        let blocks: Vec<Vec<u8>> = bytes.chunks(SM_BLOCK).map(<[u8]>::to_vec).collect();
        let bonus = words(3, &[(0, o), (1, bytes.len() as u64), (2, alloc)]);
        let mut dn = Dnode::empty(OT_SPACE_MAP, SM_BLOCK as u64, 3, OT_SPACE_MAP_HEADER, bonus);
        dn.nblkptr = 3;
        m.set(o, dn, blocks);
    }

    // Write every object's blocks, then the dnodes and the MOS objset.
    let count = m.objs.len() as u64;
    let mut os = ObjsetBuilder::new(1, count);
    let mut dnodes = Vec::with_capacity(m.objs.len());
    for (i, slot) in m.objs.into_iter().enumerate() {
        let (mut dn, blocks) = slot.expect("every reserved MOS object is set");
        write_object_blocks(w, &mut dn, &blocks)?;
        dnodes.push((i as u64 + 1, dn));
    }
    for (o, dn) in &dnodes {
        os.add(w, *o, dn)?;
    }
    os.finish(w)
}
