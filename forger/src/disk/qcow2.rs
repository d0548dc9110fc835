//! Our own QCOW2 (version 3) writer. It converts an assembled sparse raw disk in one streaming
//! pass: data ranges are found with `SEEK_DATA`/`SEEK_HOLE`, all-zero clusters stay
//! unallocated, and clusters are optionally compressed (zlib as raw deflate with a 4 KiB
//! window, or zstd with the header's compression-type field) on every core.
//!
//! File layout, all sized from a first pass over the data ranges so nothing moves later:
//! header (cluster 0), L1 table, refcount table, refcount blocks, one L2 table per 512 MiB
//! region that holds data, then data clusters in guest order. Memory stays bounded whatever
//! the disk size: one L2 table, one refcount block, one batch of clusters and its output.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use super::Error;
use super::source::Source;

const CLUSTER_BITS: u32 = 16;
const CLUSTER: u64 = 1 << CLUSTER_BITS;
const CLUSTER_USIZE: usize = 1 << CLUSTER_BITS;
const L2_ENTRIES: u64 = CLUSTER / 8;
/// 16-bit refcounts (`refcount_order` 4).
const REFCOUNT_ORDER: u32 = 4;
const REFBLOCK_ENTRIES: u64 = CLUSTER / 2;
const HEADER_LENGTH: u32 = 112;
const COPIED: u64 = 1 << 63;
const COMPRESSED: u64 = 1 << 62;
/// Bit where the compressed-sector count starts: 62 - (cluster_bits - 8).
const CSIZE_SHIFT: u32 = 62 - (CLUSTER_BITS - 8);
const INCOMPAT_COMPRESSION_TYPE: u64 = 1 << 3;
/// Clusters read, checked and compressed together.
const BATCH: u64 = 16;
/// Buffered output before it is written.
const FLUSH_AT: usize = 4 << 20;

/// Per-cluster compression of a QCOW2 image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Clusters are stored as they are.
    #[default]
    None,
    /// Raw deflate with a 4 KiB window (QCOW2 compression type 0, what `qemu-img -c` does).
    Zlib,
    /// Zstandard frames (QCOW2 compression type 1; sets the incompatible feature bit 3).
    Zstd,
}

/// What the writer produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Qcow2Stats {
    /// Guest clusters that hold data (allocated, compressed or not).
    pub data_clusters: u64,
    /// Of those, stored compressed.
    pub compressed_clusters: u64,
    /// Guest clusters inside data ranges that were all zeros and left unallocated.
    pub zero_clusters: u64,
    /// Size of the QCOW2 file.
    pub file_size: u64,
}

/// Converts the disk `raw` reads (a sparse file of `virtual_size` bytes, with any lent
/// partitions spliced over it) into QCOW2 v3 in `out` (empty).
pub(crate) fn convert(
    raw: &Source<'_>,
    raw_path: &Path,
    virtual_size: u64,
    out: &File,
    out_path: &Path,
    compression: Compression,
) -> Result<Qcow2Stats, Error> {
    let rerr = |off: u64| Error::io(raw_path, off);
    let region_bytes = CLUSTER * L2_ENTRIES;
    let l1_entries = virtual_size.div_ceil(region_bytes);
    if l1_entries > (32 << 20) / 8 {
        return Err(Error::Qcow2Limit {
            reason: "the L1 table would exceed 32 MiB",
        });
    }

    // Pass 1: count candidate clusters and the regions that hold any.
    let mut touched = vec![false; usize::try_from(l1_entries).unwrap_or(usize::MAX)];
    let mut candidates = 0u64;
    raw.for_each_run(virtual_size, CLUSTER, |c0, c1| {
        candidates += c1 - c0;
        for r in c0 / L2_ENTRIES..=(c1 - 1) / L2_ENTRIES {
            touched[r as usize] = true;
        }
        Ok(())
    })
    .map_err(rerr(0))?;
    let l2_count = touched.iter().filter(|&&t| t).count() as u64;

    // Fixed metadata area, sized for the worst case (no cluster is zero or compresses).
    let l1_clusters = (l1_entries * 8).div_ceil(CLUSTER).max(1);
    let base = 1 + l1_clusters + l2_count + candidates + 1;
    let (mut rt_clusters, mut rb_count) = (1u64, 1u64);
    loop {
        let total = base + rt_clusters + rb_count;
        let rb = total.div_ceil(REFBLOCK_ENTRIES);
        let rt = (rb * 8).div_ceil(CLUSTER);
        if rb == rb_count && rt == rt_clusters {
            break;
        }
        rb_count = rb;
        rt_clusters = rt;
    }
    let l1_off = CLUSTER;
    let rt_off = l1_off + l1_clusters * CLUSTER;
    let rb_off = rt_off + rt_clusters * CLUSTER;
    let l2_off = rb_off + rb_count * CLUSTER;
    let data_start = l2_off + l2_count * CLUSTER;

    let werr = |off: u64| Error::io(out_path, off);
    let mut refs = Refcounts::new(out, rb_off, rb_count);
    for c in 0..data_start / CLUSTER {
        refs.inc(c).map_err(werr(rb_off))?;
    }
    // Refcount table: every refcount block is referenced.
    let mut table = Vec::with_capacity((rt_clusters * CLUSTER) as usize);
    for b in 0..rb_count {
        table.extend_from_slice(&(rb_off + b * CLUSTER).to_be_bytes());
    }
    out.write_all_at(&table, rt_off).map_err(werr(rt_off))?;
    drop(table);

    // Pass 2: stream the data. This thread reads batches in guest order, workers check and
    // compress them, and a writer thread puts the results back in order and appends them.
    let stream = DataStream {
        out,
        path: out_path,
        refs,
        compression,
        pos: data_start,
        pending: Vec::with_capacity(FLUSH_AT + 2 * CLUSTER_USIZE),
        pending_off: data_start,
        stats: Qcow2Stats::default(),
    };
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let asm = Assembler::new(stream, l1_entries, l2_off);
    let (l1, stats) = if compression == Compression::None {
        convert_sequential(raw, virtual_size, asm).map_err(rerr(0))??
    } else {
        std::thread::scope(|s| -> Result<(Vec<u64>, Qcow2Stats), Error> {
            let (job_tx, job_rx) = mpsc::sync_channel::<Job>(workers);
            let job_rx = Arc::new(Mutex::new(job_rx));
            let (done_tx, done_rx) = mpsc::sync_channel::<Done>(workers);
            // A fixed pool of batch buffers goes round reader → worker → writer → reader, which
            // bounds the batches in flight (and so memory) however unevenly the workers run.
            let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
            for _ in 0..2 * workers + 2 {
                free_tx
                    .send(Vec::with_capacity((BATCH * CLUSTER) as usize))
                    .expect("the receiver is alive");
            }
            for _ in 0..workers {
                let job_rx = Arc::clone(&job_rx);
                let done_tx = done_tx.clone();
                s.spawn(move || {
                    let mut encoder = Encoder::new(compression);
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let blobs = job
                            .buf
                            .chunks(CLUSTER_USIZE)
                            .map(|c| encoder.encode(c))
                            .collect();
                        let done = Done {
                            seq: job.seq,
                            first: job.first,
                            buf: job.buf,
                            blobs,
                        };
                        if done_tx.send(done).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(job_rx);
            drop(done_tx);
            let writer = s.spawn(move || write_in_order(done_rx, free_tx, asm));

            let mut seq = 0u64;
            let walk = raw.for_each_run(virtual_size, CLUSTER, |c0, c1| {
                let mut c = c0;
                while c < c1 {
                    let r = c / L2_ENTRIES;
                    let end = c1.min((r + 1) * L2_ENTRIES).min(c + BATCH);
                    let off = c * CLUSTER;
                    let len = ((end * CLUSTER).min(virtual_size) - off) as usize;
                    let Ok(mut buf) = free_rx.recv() else {
                        // The writer failed and dropped the pool; its error is reported.
                        return Err(io::Error::other("qcow2 writer stopped"));
                    };
                    buf.clear();
                    buf.resize(((end - c) * CLUSTER) as usize, 0);
                    raw.read_exact_at(&mut buf[..len], off)?;
                    let job = Job { seq, first: c, buf };
                    if job_tx.send(job).is_err() {
                        // The writer failed and the workers are gone; its error is reported.
                        return Err(io::Error::other("qcow2 writer stopped"));
                    }
                    seq += 1;
                    c = end;
                }
                Ok(())
            });
            drop(job_tx);
            let written = writer.join().expect("the qcow2 writer does not panic");
            let result = written?;
            walk.map_err(rerr(0))?;
            Ok(result)
        })?
    };

    let l1_bytes: Vec<u8> = l1.iter().flat_map(|e| e.to_be_bytes()).collect();
    out.write_all_at(&l1_bytes, l1_off).map_err(werr(l1_off))?;
    let header = header(
        virtual_size,
        l1_entries,
        l1_off,
        rt_off,
        rt_clusters,
        compression,
    );
    out.write_all_at(&header, 0).map_err(werr(0))?;
    Ok(stats)
}

/// The QCOW2 v3 header with an empty extension list.
fn header(
    size: u64,
    l1_entries: u64,
    l1_off: u64,
    rt_off: u64,
    rt_clusters: u64,
    compression: Compression,
) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LENGTH as usize + 8);
    h.extend_from_slice(b"QFI\xfb");
    h.extend_from_slice(&3u32.to_be_bytes());
    h.extend_from_slice(&0u64.to_be_bytes()); // backing file offset
    h.extend_from_slice(&0u32.to_be_bytes()); // backing file size
    h.extend_from_slice(&CLUSTER_BITS.to_be_bytes());
    h.extend_from_slice(&size.to_be_bytes());
    h.extend_from_slice(&0u32.to_be_bytes()); // no encryption
    h.extend_from_slice(&(l1_entries as u32).to_be_bytes());
    h.extend_from_slice(&l1_off.to_be_bytes());
    h.extend_from_slice(&rt_off.to_be_bytes());
    h.extend_from_slice(&(rt_clusters as u32).to_be_bytes());
    h.extend_from_slice(&0u32.to_be_bytes()); // snapshots
    h.extend_from_slice(&0u64.to_be_bytes());
    let incompat = if compression == Compression::Zstd {
        INCOMPAT_COMPRESSION_TYPE
    } else {
        0
    };
    h.extend_from_slice(&incompat.to_be_bytes());
    h.extend_from_slice(&0u64.to_be_bytes()); // compatible features
    h.extend_from_slice(&0u64.to_be_bytes()); // autoclear features
    h.extend_from_slice(&REFCOUNT_ORDER.to_be_bytes());
    h.extend_from_slice(&HEADER_LENGTH.to_be_bytes());
    h.push(u8::from(compression == Compression::Zstd));
    h.resize(HEADER_LENGTH as usize, 0);
    h.extend_from_slice(&[0u8; 8]); // end of header extensions
    h
}

/// A batch of guest clusters read from the raw disk.
struct Job {
    seq: u64,
    first: u64,
    buf: Vec<u8>,
}

/// A batch after checking and compression.
struct Done {
    seq: u64,
    first: u64,
    buf: Vec<u8>,
    blobs: Vec<Blob>,
}

/// Puts finished batches back in sequence order, appends them to the data area, fills one
/// L2 table at a time and writes it to its slot when its region is done.
struct Assembler<'a> {
    stream: DataStream<'a>,
    l1: Vec<u64>,
    l2: Vec<u64>,
    region: Option<u64>,
    slot: u64,
    waiting: BTreeMap<u64, Done>,
    next: u64,
}

impl<'a> Assembler<'a> {
    fn new(stream: DataStream<'a>, l1_entries: u64, l2_off: u64) -> Self {
        Assembler {
            stream,
            l1: vec![0u64; l1_entries as usize],
            l2: vec![0u64; L2_ENTRIES as usize],
            region: None,
            slot: l2_off,
            waiting: BTreeMap::new(),
            next: 0,
        }
    }

    /// Takes one batch; pushes the buffers of the batches it wrote onto `spent`.
    fn accept(&mut self, done: Done, spent: &mut Vec<Vec<u8>>) -> Result<(), Error> {
        self.waiting.insert(done.seq, done);
        while let Some(d) = self.waiting.remove(&self.next) {
            self.next += 1;
            for (i, blob) in d.blobs.into_iter().enumerate() {
                let c = d.first + i as u64;
                let r = c / L2_ENTRIES;
                if self.region != Some(r) {
                    if let Some(prev) = self.region {
                        self.stream.write_l2(&mut self.l2, self.slot)?;
                        self.l1[prev as usize] = self.slot | COPIED;
                        self.slot += CLUSTER;
                    }
                    self.region = Some(r);
                }
                let raw = &d.buf[i * CLUSTER_USIZE..(i + 1) * CLUSTER_USIZE];
                self.l2[(c % L2_ENTRIES) as usize] = self.stream.push(blob, raw)?;
            }
            spent.push(d.buf);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(Vec<u64>, Qcow2Stats), Error> {
        if let Some(prev) = self.region {
            self.stream.write_l2(&mut self.l2, self.slot)?;
            self.l1[prev as usize] = self.slot | COPIED;
        }
        let stats = self.stream.finish()?;
        Ok((self.l1, stats))
    }
}

/// The writer thread of the compressing pipeline.
fn write_in_order(
    done: mpsc::Receiver<Done>,
    free: mpsc::Sender<Vec<u8>>,
    mut asm: Assembler<'_>,
) -> Result<(Vec<u64>, Qcow2Stats), Error> {
    let mut spent = Vec::new();
    for d in done {
        asm.accept(d, &mut spent)?;
        for buf in spent.drain(..) {
            // Back to the pool; once the reader has finished nobody takes it.
            let _ = free.send(buf);
        }
    }
    asm.finish()
}

/// Without compression the work per cluster is a zero check: one thread reads, checks and
/// writes, which beats handing batches between threads.
fn convert_sequential(
    raw: &Source<'_>,
    virtual_size: u64,
    mut asm: Assembler<'_>,
) -> io::Result<Result<(Vec<u64>, Qcow2Stats), Error>> {
    let mut encoder = Encoder::new(Compression::None);
    let mut buf: Vec<u8> = Vec::with_capacity((BATCH * CLUSTER) as usize);
    let mut spent = Vec::new();
    let mut seq = 0u64;
    let mut failed = None;
    let walk = raw.for_each_run(virtual_size, CLUSTER, |c0, c1| {
        let mut c = c0;
        while c < c1 {
            let end = c1.min((c / L2_ENTRIES + 1) * L2_ENTRIES).min(c + BATCH);
            let off = c * CLUSTER;
            let len = ((end * CLUSTER).min(virtual_size) - off) as usize;
            buf.clear();
            buf.resize(((end - c) * CLUSTER) as usize, 0);
            raw.read_exact_at(&mut buf[..len], off)?;
            let blobs = buf
                .chunks(CLUSTER_USIZE)
                .map(|x| encoder.encode(x))
                .collect();
            let done = Done {
                seq,
                first: c,
                buf: std::mem::take(&mut buf),
                blobs,
            };
            if let Err(e) = asm.accept(done, &mut spent) {
                failed = Some(e);
                return Err(io::Error::other("qcow2 writer stopped"));
            }
            if let Some(b) = spent.pop() {
                buf = b;
            }
            seq += 1;
            c = end;
        }
        Ok(())
    });
    if let Some(e) = failed {
        return Ok(Err(e));
    }
    walk?;
    Ok(asm.finish())
}

/// How one guest cluster is stored.
enum Blob {
    /// All zeros: left unallocated.
    Zero,
    /// Stored as is.
    Plain,
    /// Stored compressed.
    Packed(Vec<u8>),
}

/// One worker's compressor, kept across clusters so its state is allocated once.
enum Encoder {
    None,
    Zlib(Box<flate2::Compress>),
    Zstd(Box<zstd::bulk::Compressor<'static>>),
}

impl Encoder {
    fn new(compression: Compression) -> Encoder {
        match compression {
            Compression::None => Encoder::None,
            // Raw deflate with the 4 KiB window QEMU's reader expects (`inflateInit2(-12)`).
            Compression::Zlib => Encoder::Zlib(Box::new(flate2::Compress::new_with_window_bits(
                flate2::Compression::default(),
                false,
                12,
            ))),
            Compression::Zstd => match zstd::bulk::Compressor::new(3) {
                Ok(c) => Encoder::Zstd(Box::new(c)),
                // Without a context every cluster is stored as is, which is still valid.
                Err(_) => Encoder::None,
            },
        }
    }

    fn encode(&mut self, cluster: &[u8]) -> Blob {
        if is_zero(cluster) {
            return Blob::Zero;
        }
        let packed = match self {
            Encoder::None => None,
            Encoder::Zlib(c) => {
                c.reset();
                let mut out = Vec::with_capacity(CLUSTER_USIZE);
                match c.compress_vec(cluster, &mut out, flate2::FlushCompress::Finish) {
                    Ok(flate2::Status::StreamEnd) => Some(out),
                    _ => None,
                }
            }
            Encoder::Zstd(c) => c.compress(cluster).ok(),
        };
        match packed {
            // Only worth it when it saves at least a sector.
            Some(p) if p.len() + 512 <= CLUSTER_USIZE => Blob::Packed(p),
            _ => Blob::Plain,
        }
    }
}

fn is_zero(data: &[u8]) -> bool {
    data.chunks(64)
        .all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0)
}

/// The data area: appends clusters in order and keeps refcounts.
struct DataStream<'a> {
    out: &'a File,
    path: &'a Path,
    refs: Refcounts<'a>,
    compression: Compression,
    /// Next free byte of the data area.
    pos: u64,
    pending: Vec<u8>,
    pending_off: u64,
    stats: Qcow2Stats,
}

impl DataStream<'_> {
    /// Stores one cluster and returns its L2 entry.
    fn push(&mut self, blob: Blob, raw: &[u8]) -> Result<u64, Error> {
        match blob {
            Blob::Zero => {
                self.stats.zero_clusters += 1;
                Ok(0)
            }
            Blob::Plain => {
                let off = self.pos.div_ceil(CLUSTER) * CLUSTER;
                self.pad_to(off)?;
                self.pending.extend_from_slice(raw);
                self.pos = off + CLUSTER;
                self.refs
                    .inc(off / CLUSTER)
                    .map_err(Error::io(self.path, off))?;
                self.stats.data_clusters += 1;
                self.maybe_flush()?;
                Ok(off | COPIED)
            }
            Blob::Packed(p) => {
                debug_assert!(self.compression != Compression::None);
                let off = self.pos.div_ceil(512) * 512;
                self.pad_to(off)?;
                let sectors = (p.len() as u64).div_ceil(512);
                self.pending.extend_from_slice(&p);
                self.pos = off + sectors * 512;
                for c in off / CLUSTER..=(self.pos - 1) / CLUSTER {
                    self.refs.inc(c).map_err(Error::io(self.path, off))?;
                }
                self.stats.data_clusters += 1;
                self.stats.compressed_clusters += 1;
                self.maybe_flush()?;
                Ok(COMPRESSED | ((sectors - 1) << CSIZE_SHIFT) | off)
            }
        }
    }

    /// Writes a finished L2 table to its slot and clears it for the next region.
    fn write_l2(&mut self, l2: &mut [u64], slot: u64) -> Result<(), Error> {
        let bytes: Vec<u8> = l2.iter().flat_map(|e| e.to_be_bytes()).collect();
        self.out
            .write_all_at(&bytes, slot)
            .map_err(Error::io(self.path, slot))?;
        l2.iter_mut().for_each(|e| *e = 0);
        Ok(())
    }

    fn pad_to(&mut self, off: u64) -> Result<(), Error> {
        let have = self.pending_off + self.pending.len() as u64;
        self.pending
            .resize(self.pending.len() + (off - have) as usize, 0);
        Ok(())
    }

    fn maybe_flush(&mut self) -> Result<(), Error> {
        if self.pending.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.out
            .write_all_at(&self.pending, self.pending_off)
            .map_err(Error::io(self.path, self.pending_off))?;
        self.pending_off += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<Qcow2Stats, Error> {
        let end = self.pos.div_ceil(CLUSTER) * CLUSTER;
        self.pad_to(end)?;
        self.flush()?;
        self.refs.flush().map_err(Error::io(self.path, 0))?;
        self.out.set_len(end).map_err(Error::io(self.path, end))?;
        let mut stats = self.stats;
        stats.file_size = end;
        Ok(stats)
    }
}

/// The refcount block being filled; host clusters are counted in increasing order, so each
/// block is written once when the data moves past it.
struct Refcounts<'a> {
    out: &'a File,
    base: u64,
    blocks: u64,
    index: u64,
    counts: Vec<u16>,
}

impl<'a> Refcounts<'a> {
    fn new(out: &'a File, base: u64, blocks: u64) -> Self {
        Refcounts {
            out,
            base,
            blocks,
            index: 0,
            counts: vec![0; REFBLOCK_ENTRIES as usize],
        }
    }

    fn inc(&mut self, cluster: u64) -> io::Result<()> {
        let b = cluster / REFBLOCK_ENTRIES;
        if b != self.index {
            debug_assert!(b > self.index, "host clusters are counted in order");
            self.flush()?;
            self.counts.iter_mut().for_each(|c| *c = 0);
            self.index = b;
        }
        if b >= self.blocks {
            return Err(io::Error::other(
                "more host clusters than the refcount blocks planned for",
            ));
        }
        let slot = &mut self.counts[(cluster % REFBLOCK_ENTRIES) as usize];
        *slot = slot.saturating_add(1);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.counts.iter().all(|&c| c == 0) {
            return Ok(());
        }
        let bytes: Vec<u8> = self.counts.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.out
            .write_all_at(&bytes, self.base + self.index * CLUSTER)
    }
}
