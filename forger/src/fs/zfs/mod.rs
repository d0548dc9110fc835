//! The ZFS pool writer: turns a [`StagingTree`] into a bootable single-vdev ZFS pool inside a
//! [`BlockDevice`], with no kernel and no root.
//!
//! Layout of the pool: `<pool>` (root dataset, holds `/boot/menu.lst` for the loader's BE
//! menu), `<pool>/ROOT` (canmount=off, mountpoint=legacy), `<pool>/ROOT/<be>` (the boot
//! environment, holds `/`; pool property `bootfs` names it), plus any extra datasets; the
//! staged tree is split among datasets by mountpoint. SPA version 5000 with no features,
//! fletcher4 block checksums, one DVA per block, 2 KiB objsets, four labels.
//!
//! Write order (one pass over the tree, file data written once): each dataset's objset
//! (file blocks stream out, dnodes are packed as they complete), then the MOS, planned by a
//! dry run so that the space maps can describe their own blocks, then the labels.
//!
//! GUIDs and salts derive from the [`Seed`], so builds are byte-identical; two pools made
//! from the same seed share a pool GUID, so run `zpool reguid <pool>` on first boot when
//! several copies must be imported on one host.
//!
//! Not stored: extended attributes (a warning names how many entries had them), symlink
//! targets longer than 144 bytes (an error: they would need spill blocks, which the illumos
//! loader cannot follow), hard links across datasets (written as copies, with a warning).
//! No snapshots, zvols, ditto copies or feature flags other than the optional lz4.

mod blkptr;
mod checksum;
mod dnode;
mod dsl;
mod error;
mod label;
mod lz4;
mod nvlist;
mod space;
mod vdev;
mod zap;
mod zpl;

use std::collections::{BTreeMap, HashMap};

pub use checksum::{fletcher4, label_region_ok, seal_label_region};
pub use error::Error;
pub use nvlist::{NvList, NvValue};

use crate::fs::{BlockDevice, Filesystem};
use crate::seed::Seed;
use crate::stage::{EntryKind, StagePath, StagingTree};
use dsl::{DatasetOut, PoolDesc};
use space::{Allocator, Geometry};
use vdev::BlockWriter;
use zap::ZapValue;
use zpl::{Node, NodeKind};

/// Birth txg of every block, and the txg of the labels.
const TXG: u64 = 4;
/// Txg of the uberblocks: 4 above the data so import skips verifying the last txgs.
const UB_TXG: u64 = TXG + 4;

/// Compression of file data blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// No compression (`compression=off` on the root dataset).
    #[default]
    Off,
    /// lz4 (`compression=lz4` on the root dataset, feature `org.illumos:lz4_compress`
    /// enabled); file data blocks are compressed when that saves space.
    Lz4,
}

/// An extra dataset of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Name relative to the pool, e.g. `export/home`. Parents must be listed first (or be
    /// `ROOT`); naming `""`, `ROOT` or `ROOT/<be>` adds properties to those datasets.
    pub name: String,
    /// Properties (`mountpoint`, `canmount`, `compression`, `atime`, `exec`, `setuid`,
    /// `devices`, `readonly`, `xattr`, user properties `module:name`).
    pub properties: BTreeMap<String, String>,
}

/// How to lay out the pool.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Pool name (default `rpool`).
    pub pool_name: String,
    /// Boot environment name; the BE is `<pool>/ROOT/<be_name>` and holds `/`.
    pub be_name: String,
    /// log2 of the allocation unit: 9 or 12 (default 12).
    pub ashift: u32,
    /// Pool properties: `bootfs` (a dataset name; the BE by default) and `ashift` (9 or 12,
    /// overrides [`PoolOptions::ashift`]); anything else is refused.
    pub pool_properties: BTreeMap<String, String>,
    /// Extra datasets, e.g. `export` with `mountpoint=/export`, then `export/home`.
    pub datasets: Vec<DatasetSpec>,
    /// Compression of file data.
    pub compression: Compression,
    /// Source of every GUID and salt.
    pub seed: Seed,
    /// Label `state`: ACTIVE (true, what an installed OmniOS disk has; `zpool import` needs
    /// `-f`) or EXPORTED (false).
    pub active: bool,
    /// The vdev `path` recorded in the labels (the illumos device of the ZFS slice).
    pub vdev_path: String,
    /// Creation time of the datasets and uberblock timestamp (SOURCE_DATE_EPOCH).
    pub timestamp: u64,
    /// `mountpoint` of the BE dataset (`legacy` as kayak sets it, or `/`).
    pub be_mountpoint: String,
}

impl PoolOptions {
    /// Defaults: `rpool`, BE `omnios`, ashift 12, no extra datasets, no compression,
    /// ACTIVE labels, path `/dev/dsk/c1t0d0s1`, timestamp 0.
    pub fn new(seed: Seed) -> Self {
        PoolOptions {
            pool_name: "rpool".into(),
            be_name: "omnios".into(),
            ashift: 12,
            pool_properties: BTreeMap::new(),
            datasets: Vec::new(),
            compression: Compression::Off,
            seed,
            active: true,
            vdev_path: "/dev/dsk/c1t0d0s1".into(),
            timestamp: 0,
            be_mountpoint: "legacy".into(),
        }
    }
}

/// Writes a ZFS pool; see the module documentation.
#[derive(Debug, Clone)]
pub struct ZfsWriter {
    options: PoolOptions,
}

impl ZfsWriter {
    /// A writer with `options`.
    pub fn new(options: PoolOptions) -> Self {
        ZfsWriter { options }
    }

    /// Writes the pool for `tree` into `dev` (the [`Filesystem::write`] body with this
    /// module's error type).
    pub fn write_pool(&self, dev: &mut dyn BlockDevice, tree: &StagingTree) -> Result<(), Error> {
        let o = &self.options;
        check_name(&o.pool_name, false)?;
        check_name(&o.be_name, false)?;
        // The `ashift` pool property (as `zpool create -o ashift=` takes it) overrides.
        let ashift = match o.pool_properties.get("ashift") {
            Some(v) => v.parse().unwrap_or(0),
            None => o.ashift,
        };
        if ashift != 9 && ashift != 12 {
            return Err(Error::BadProperty {
                scope: "pool".into(),
                name: "ashift".into(),
                value: ashift.to_string(),
            });
        }
        let plan = DatasetPlan::new(o)?;
        let mut nodes = split_tree(&plan, tree, o)?;
        let geo = Geometry::new(dev.size_bytes(), ashift)?;
        let mut w = BlockWriter::new(dev, Allocator::new(geo), TXG);
        w.lz4 = o.compression == Compression::Lz4;

        let mut outs = Vec::with_capacity(plan.datasets.len());
        for (i, ds) in plan.datasets.iter().enumerate() {
            let before = w.totals;
            let salt = o.seed.u64(&format!("zfs/zap-salt/{}", ds.name));
            let objset = zpl::write_zpl(&mut w, &std::mem::take(&mut nodes[i]), salt)?;
            outs.push(DatasetOut {
                name: ds.name.clone(),
                parent: ds.parent,
                props: ds.props.clone(),
                objset,
                space: w.totals.since(before),
                guid: o.seed.u64(&format!("zfs/ds-guid/{}", ds.name)),
                fsid: o.seed.u64(&format!("zfs/fsid/{}", ds.name)) >> 8,
            });
        }
        let pool = PoolDesc {
            name: o.pool_name.clone(),
            pool_guid: o.seed.u64("zfs/pool-guid"),
            vdev_guid: o.seed.u64("zfs/vdev-guid"),
            geo,
            state: if o.active { 0 } else { 1 },
            txg: TXG,
            time: o.timestamp,
            vdev_path: o.vdev_path.clone(),
            datasets: outs,
            bootfs: plan.bootfs,
            salt: o.seed.u64("zfs/mos-salt"),
            lz4: o.compression == Compression::Lz4,
        };

        // Plan the MOS with dry runs until the set of metaslabs it needs space maps for
        // is stable, then write it for real with the final allocation state.
        let base = w.alloc.clone();
        let base_totals = w.totals;
        let mut metaslabs = base.used_metaslabs();
        let mut fin = None;
        for _ in 0..16 {
            w.alloc = base.clone();
            w.dry = true;
            dsl::write_mos(&mut w, &pool, &metaslabs, None, Default::default())?;
            let used = w.alloc.used_metaslabs();
            if used == metaslabs {
                fin = Some((w.alloc.clone(), w.totals.since(base_totals)));
                break;
            }
            metaslabs = used;
        }
        let (fin, mos_space) = fin.expect("MOS planning converges: metaslab set only grows");
        w.alloc = base;
        w.totals = base_totals;
        w.dry = false;
        let rootbp = dsl::write_mos(&mut w, &pool, &metaslabs, Some(&fin), mos_space)?;
        debug_assert_eq!(w.alloc.allocated(), fin.allocated());
        w.flush()?;
        let ub = label::Uberblock {
            txg: UB_TXG,
            guid_sum: pool.pool_guid.wrapping_add(pool.vdev_guid),
            timestamp: o.timestamp,
            rootbp,
        };
        label::write_labels(&mut w, &geo, &pool.label_config(), &ub)
    }
}

impl Filesystem for ZfsWriter {
    fn name(&self) -> &'static str {
        "zfs"
    }

    fn write(&self, dev: &mut dyn BlockDevice, tree: &StagingTree) -> crate::Result<()> {
        Ok(self.write_pool(dev, tree)?)
    }
}

fn check_name(name: &str, allow_slash: bool) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_alphanumeric())
                && c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "_-.:".contains(ch))
        })
        && (allow_slash || !name.contains('/'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadName { name: name.into() })
    }
}

/// One dataset of the plan.
struct PlannedDataset {
    name: String,
    parent: Option<usize>,
    props: Vec<(String, ZapValue)>,
    /// Where its files come from in the staged tree (`None`: holds only an empty root).
    mount: Option<String>,
}

struct DatasetPlan {
    datasets: Vec<PlannedDataset>,
    bootfs: Option<usize>,
    be: usize,
}

fn encode_prop(scope: &str, name: &str, value: &str, lz4: bool) -> Result<ZapValue, Error> {
    let bad = || Error::BadProperty {
        scope: scope.into(),
        name: name.into(),
        value: value.into(),
    };
    let onoff = || match value {
        "on" => Ok(ZapValue::U64(1)),
        "off" => Ok(ZapValue::U64(0)),
        _ => Err(bad()),
    };
    match name {
        "mountpoint" => {
            if value.starts_with('/') || value == "legacy" || value == "none" {
                Ok(ZapValue::string(value))
            } else {
                Err(bad())
            }
        }
        "canmount" => match value {
            "off" => Ok(ZapValue::U64(0)),
            "on" => Ok(ZapValue::U64(1)),
            "noauto" => Ok(ZapValue::U64(2)),
            _ => Err(bad()),
        },
        "compression" => match value {
            "off" => Ok(ZapValue::U64(2)),
            "on" => Ok(ZapValue::U64(1)),
            "lzjb" => Ok(ZapValue::U64(3)),
            "zle" => Ok(ZapValue::U64(14)),
            "gzip" => Ok(ZapValue::U64(10)),
            // Only valid with the feature, which the writer enables with Compression::Lz4.
            "lz4" if lz4 => Ok(ZapValue::U64(15)),
            _ => Err(bad()),
        },
        "atime" | "exec" | "setuid" | "devices" | "readonly" | "xattr" => onoff(),
        n if n.contains(':') => Ok(ZapValue::string(value)),
        _ => Err(bad()),
    }
}

impl DatasetPlan {
    fn new(o: &PoolOptions) -> Result<Self, Error> {
        let mut specs: Vec<(String, BTreeMap<String, String>)> = Vec::new();
        let mut root_props = BTreeMap::new();
        let comp = match o.compression {
            Compression::Off => "off",
            Compression::Lz4 => "lz4",
        };
        root_props.insert("compression".to_string(), comp.to_string());
        specs.push((String::new(), root_props));
        specs.push((
            "ROOT".into(),
            [("canmount", "off"), ("mountpoint", "legacy")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        ));
        let be_name = format!("ROOT/{}", o.be_name);
        let uuid = o.seed.uuid(&format!("zfs/libbe-uuid/{}", o.be_name));
        specs.push((
            be_name.clone(),
            [
                ("canmount", "noauto"),
                ("mountpoint", o.be_mountpoint.as_str()),
                ("org.opensolaris.libbe:uuid", uuid.as_str()),
                ("org.opensolaris.libbe:policy", "static"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        ));
        for d in &o.datasets {
            if let Some(s) = specs.iter_mut().find(|s| s.0 == d.name) {
                s.1.extend(d.properties.clone());
                continue;
            }
            check_name(&d.name, true)?;
            let parent = d.name.rsplit_once('/').map(|p| p.0).unwrap_or("");
            if !specs.iter().any(|s| s.0 == parent) {
                return Err(Error::MissingParent {
                    name: d.name.clone(),
                    parent: parent.into(),
                });
            }
            specs.push((d.name.clone(), d.properties.clone()));
        }
        let mut datasets: Vec<PlannedDataset> = Vec::new();
        for (name, props) in &specs {
            let parent = if name.is_empty() {
                None
            } else {
                let p = name.rsplit_once('/').map(|p| p.0).unwrap_or("");
                datasets.iter().position(|d| d.name == p)
            };
            let scope = format!("dataset {}/{}", o.pool_name, name);
            let mut encoded = Vec::new();
            for (k, v) in props {
                encoded.push((
                    k.clone(),
                    encode_prop(&scope, k, v, o.compression == Compression::Lz4)?,
                ));
            }
            let mount = if *name == be_name {
                Some("/".to_string())
            } else if props.get("canmount").is_some_and(|v| v == "off") {
                None
            } else {
                effective_mount(&datasets, parent, name, props, &o.pool_name)
            };
            datasets.push(PlannedDataset {
                name: name.clone(),
                parent,
                props: encoded,
                mount,
            });
        }
        let be = datasets
            .iter()
            .position(|d| d.name == be_name)
            .expect("the BE was added above");
        let mut bootfs = Some(be);
        for (k, v) in &o.pool_properties {
            match k.as_str() {
                "bootfs" => {
                    let rel = v
                        .strip_prefix(&format!("{}/", o.pool_name))
                        .unwrap_or(v.as_str());
                    bootfs =
                        Some(datasets.iter().position(|d| d.name == rel).ok_or_else(|| {
                            Error::BadProperty {
                                scope: "pool".into(),
                                name: k.clone(),
                                value: v.clone(),
                            }
                        })?);
                }
                "ashift" => {}
                _ => {
                    return Err(Error::BadProperty {
                        scope: "pool".into(),
                        name: k.clone(),
                        value: v.clone(),
                    });
                }
            }
        }
        Ok(DatasetPlan {
            datasets,
            bootfs,
            be,
        })
    }
}

/// The mountpoint a dataset has after inheritance (`None` for legacy/none).
fn effective_mount(
    planned: &[PlannedDataset],
    parent: Option<usize>,
    name: &str,
    props: &BTreeMap<String, String>,
    pool: &str,
) -> Option<String> {
    if let Some(m) = props.get("mountpoint") {
        return m
            .starts_with('/')
            .then(|| m.trim_end_matches('/').to_string());
    }
    let Some(p) = parent else {
        return Some(format!("/{pool}"));
    };
    let leaf = name.rsplit('/').next().unwrap_or(name);
    // Inherit from the parent's *property* chain, not from where the BE's files go.
    let mut chain = vec![leaf.to_string()];
    let mut cur = Some(p);
    while let Some(i) = cur {
        let d = &planned[i];
        if let Some((_, ZapValue::Bytes(b))) = d.props.iter().find(|(k, _)| k == "mountpoint") {
            let m = String::from_utf8_lossy(&b[..b.len() - 1]).into_owned();
            if !m.starts_with('/') {
                return None;
            }
            chain.reverse();
            let base = m.trim_end_matches('/');
            return Some(format!("{base}/{}", chain.join("/")));
        }
        if d.parent.is_none() {
            chain.reverse();
            return Some(format!("/{pool}/{}", chain.join("/")));
        }
        chain.push(d.name.rsplit('/').next().unwrap_or(&d.name).to_string());
        cur = d.parent;
    }
    None
}

fn under(path: &str, mount: &str) -> Option<String> {
    if mount == "/" {
        return Some(path.trim_start_matches('/').to_string());
    }
    if path == mount {
        return Some(String::new());
    }
    path.strip_prefix(mount)
        .and_then(|r| r.strip_prefix('/'))
        .map(str::to_string)
}

/// Which dataset holds `path`, and the path relative to its root; `skip` excludes one.
fn holder(plan: &DatasetPlan, path: &str, skip: Option<usize>) -> Option<(usize, String)> {
    let mut best: Option<(usize, usize, String)> = None;
    for (i, d) in plan.datasets.iter().enumerate() {
        if Some(i) == skip {
            continue;
        }
        let Some(m) = &d.mount else { continue };
        if let Some(rel) = under(path, m)
            && best.as_ref().is_none_or(|b| m.len() > b.1)
        {
            best = Some((i, m.len(), rel));
        }
    }
    best.map(|b| (b.0, b.2))
}

struct DsNodes {
    nodes: Vec<Node>,
    index: HashMap<String, usize>,
}

impl DsNodes {
    fn new(time: i64) -> Self {
        let root = Node {
            name: String::new(),
            parent: 0,
            kind: NodeKind::Dir,
            uid: 0,
            gid: 0,
            mode: 0o755,
            mtime: time,
            links: 2,
            children: Vec::new(),
            path: "/".into(),
        };
        let mut index = HashMap::new();
        index.insert(String::new(), 0);
        DsNodes {
            nodes: vec![root],
            index,
        }
    }

    fn add(&mut self, rel: &str, mut node: Node) -> Option<usize> {
        if let Some(&i) = self.index.get(rel) {
            return Some(i);
        }
        let parent_rel = rel.rsplit_once('/').map(|p| p.0).unwrap_or("");
        let parent = *self.index.get(parent_rel)?;
        node.parent = parent;
        node.name = rel.rsplit('/').next().unwrap_or(rel).to_string();
        let i = self.nodes.len();
        self.nodes.push(node);
        self.nodes[parent].children.push(i);
        self.index.insert(rel.to_string(), i);
        Some(i)
    }
}

fn split_tree(
    plan: &DatasetPlan,
    tree: &StagingTree,
    o: &PoolOptions,
) -> Result<Vec<Vec<Node>>, Error> {
    let m = &tree.manifest;
    let mut sets: Vec<DsNodes> = plan
        .datasets
        .iter()
        .map(|_| DsNodes::new(o.timestamp as i64))
        .collect();
    // Link counts per file, counting only names in the file's own dataset: a name in
    // another dataset becomes a copy (ZFS links cannot span datasets).
    let same_ds = |a: &StagePath, b: &StagePath| {
        holder(plan, &a.to_string(), None).map(|h| h.0)
            == holder(plan, &b.to_string(), None).map(|h| h.0)
    };
    let mut links: HashMap<&StagePath, u32> = HashMap::new();
    let mut copies = 0usize;
    for (p, e) in m.iter() {
        if let EntryKind::Hardlink { target } = &e.kind {
            if same_ds(p, target) {
                *links.entry(target).or_insert(1) += 1;
            } else {
                copies += 1;
            }
        }
    }
    if copies > 0 {
        tracing::warn!(
            names = copies,
            "hard links that cross ZFS datasets are written as separate copies"
        );
    }
    let with_xattrs = m.iter().filter(|(_, e)| !e.xattrs.is_empty()).count();
    if with_xattrs > 0 {
        tracing::warn!(
            entries = with_xattrs,
            "the ZFS writer does not store extended attributes; they are left out"
        );
    }
    for (p, e) in m.iter() {
        let path = p.to_string();
        let Some((ds, rel)) = holder(plan, &path, None) else {
            continue;
        };
        let kind = match &e.kind {
            EntryKind::Directory => NodeKind::Dir,
            EntryKind::File => {
                let host = tree.host_path(p);
                let size = std::fs::metadata(&host)
                    .map_err(|source| Error::SourceIo {
                        path: host.clone(),
                        source,
                    })?
                    .len();
                NodeKind::File { host, size }
            }
            EntryKind::Symlink { target } => NodeKind::Symlink(target.clone()),
            EntryKind::Hardlink { target } => {
                let t = target.to_string();
                let idx = match holder(plan, &t, None) {
                    Some((tds, trel)) if tds == ds => sets[ds].index.get(&trel).copied(),
                    _ => None,
                };
                match idx {
                    Some(idx) => NodeKind::Link(idx),
                    None if !same_ds(p, target) => {
                        let host = tree.host_path(p);
                        let size = std::fs::metadata(&host)
                            .map_err(|source| Error::SourceIo {
                                path: host.clone(),
                                source,
                            })?
                            .len();
                        NodeKind::File { host, size }
                    }
                    None => return Err(Error::CrossDatasetLink { path, target: t }),
                }
            }
            EntryKind::CharDevice { major, minor } => NodeKind::Device(true, *major, *minor),
            EntryKind::BlockDevice { major, minor } => NodeKind::Device(false, *major, *minor),
            EntryKind::Fifo => NodeKind::Fifo,
            EntryKind::Socket => NodeKind::Socket,
        };
        if p.file_name().len() > 255 {
            return Err(Error::NameTooLong {
                dir: p.parent().map(|x| x.to_string()).unwrap_or_default(),
                name: p.file_name().to_string(),
            });
        }
        let node = Node {
            name: String::new(),
            parent: 0,
            kind,
            uid: e.uid,
            gid: e.gid,
            mode: e.mode,
            mtime: e.mtime,
            links: links.get(p).copied().unwrap_or(1),
            children: Vec::new(),
            path: path.clone(),
        };
        if rel.is_empty() {
            // The dataset's root directory takes the entry's metadata; the parent
            // dataset gets an empty directory of the same name to mount it on.
            let root = &mut sets[ds].nodes[0];
            root.uid = e.uid;
            root.gid = e.gid;
            root.mode = e.mode;
            root.mtime = e.mtime;
            if let Some((pds, prel)) = holder(plan, &path, Some(ds))
                && !prel.is_empty()
            {
                sets[pds].add(&prel, node);
            }
            continue;
        }
        sets[ds].add(&rel, node);
    }
    // The loader's BE menu in the pool's root dataset.
    let root_ds = &mut sets[0];
    if !root_ds.index.contains_key("boot/menu.lst") {
        let dir = Node {
            name: String::new(),
            parent: 0,
            kind: NodeKind::Dir,
            uid: 0,
            gid: 0,
            mode: 0o755,
            mtime: o.timestamp as i64,
            links: 2,
            children: Vec::new(),
            path: "/boot".into(),
        };
        root_ds.add("boot", dir.clone());
        let be = &plan.datasets[plan.be].name;
        let menu = format!("title {}\nbootfs {}/{}\n", o.be_name, o.pool_name, be);
        root_ds.add(
            "boot/menu.lst",
            Node {
                kind: NodeKind::Bytes(menu.into_bytes()),
                mode: 0o644,
                links: 1,
                path: "/boot/menu.lst".into(),
                ..dir
            },
        );
    }
    Ok(sets.into_iter().map(|s| s.nodes).collect())
}
