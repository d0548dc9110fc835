//! Benchmark of the ext4 writer on a real root filesystem: imports a tar archive (e.g. one
//! kept by `AptPayload::keep_tar`, or `mmdebstrap … out.tar`) into a staging tree, then
//! writes ext4 both ways — `mkfs.ext4 -E offset=` into the output file (`write_at`) and a
//! temporary image streamed into a block device (`Filesystem::write`) — and prints the times.
//!
//! `cargo run --release -p forger --example bench_ext4 -- ROOTFS.tar [SIZE_MIB]`

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::Instant;

use forger::fs::ext4::Ext4Writer;
use forger::fs::{BlockDevice, Filesystem};
use forger::seed::Seed;
use forger::stage::StagingTree;

/// A byte range of a host file.
struct Window {
    file: fs::File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.len.saturating_sub(self.pos)) as usize;
        self.file.seek(SeekFrom::Start(self.start + self.pos))?;
        let got = self.file.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Write for Window {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.seek(SeekFrom::Start(self.start + self.pos))?;
        let n = self.file.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(n) => n,
            SeekFrom::Current(d) => (self.pos as i64 + d) as u64,
            SeekFrom::End(d) => (self.len as i64 + d) as u64,
        };
        Ok(self.pos)
    }
}

impl BlockDevice for Window {
    fn size_bytes(&self) -> u64 {
        self.len
    }
}

/// SHA-256 of the partition (1 MiB .. 1 MiB + size) of a disk file.
fn partition_hash(disk: &std::path::Path, size: u64) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut f = fs::File::open(disk).expect("disk");
    f.seek(SeekFrom::Start(1 << 20)).expect("seek");
    let mut h = Sha256::new();
    io::copy(&mut f.take(size), &mut h).expect("hash");
    h.finalize().to_vec()
}

fn main() -> miette::Result<()> {
    let mut args = std::env::args().skip(1);
    let tar = args
        .next()
        .expect("usage: bench_ext4 ROOTFS.tar [SIZE_MIB]");
    let size_mib: u64 = args
        .next()
        .map_or(1024, |s| s.parse().expect("size in MiB"));
    let size = size_mib << 20;
    let work = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    let mut tree = StagingTree::create(work.path().join("stage")).map_err(forger::Error::from)?;
    let f = fs::File::open(&tar).expect("open tar");
    let stats = tree
        .import_tar(io::BufReader::with_capacity(1 << 20, f))
        .map_err(forger::Error::from)?;
    println!(
        "import_tar: {:.2} s ({} entries, {} MB)",
        t.elapsed().as_secs_f64(),
        stats.entries,
        stats.bytes / 1_000_000
    );
    let w = Ext4Writer::from_seed(&Seed::new("bench"), "root", "root", 1_700_000_000);

    let disk = work.path().join("offset.raw");
    fs::File::create(&disk)
        .and_then(|f| f.set_len(size + (1 << 20)))
        .expect("disk");
    let t = Instant::now();
    w.write_at(&tree, &disk, 1 << 20, size)
        .map_err(forger::Error::from)?;
    println!(
        "ext4 write_at (mkfs -E offset=): {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let disk2 = work.path().join("stream.raw");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&disk2)
        .expect("disk2");
    file.set_len(size + (1 << 20)).expect("size");
    let mut dev = Window {
        file,
        start: 1 << 20,
        len: size,
        pos: 0,
    };
    let t = Instant::now();
    w.write(&mut dev, &tree)?;
    println!(
        "ext4 write (temp image streamed): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let same = partition_hash(&disk, size) == partition_hash(&disk2, size);
    println!("the two builds are byte-identical: {same}");
    Ok(())
}
