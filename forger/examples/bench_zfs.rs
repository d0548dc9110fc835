//! Benchmark of the ZFS pool writer: generates a 500 MiB / 20 000-file staging tree, writes a
//! pool from it into a 1 GiB image, and runs `mkfs.ext4 -d` on the same tree into a
//! same-size image, printing both times and peak RSS side by side.
//!
//! Run: `cargo run --release -p forger --example bench_zfs`
//!
//! Measured on the shared 2-core build machine (2026-11-28, 20 101 entries, 495 MiB, the
//! load of other builds varies): single-threaded checksums: forger zfs 2.47 s (peak RSS
//! 21 MiB) vs `mkfs.ext4 -d` 4.76 s, ratio 0.52; with blocks prepared on two threads:
//! 0.79 s (peak RSS 21 MiB) vs 1.63 s, ratio 0.48.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::process::Command;
use std::time::Instant;

use forger::fs::zfs::{PoolOptions, ZfsWriter};
use forger::fs::{BlockDevice, Filesystem};
use forger::seed::Seed;
use forger::stage::{Entry, StagePath, StagingTree};

const IMAGE: u64 = 1 << 30;

struct FileDev(File);

impl Read for FileDev {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(b)
    }
}
impl Write for FileDev {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
impl Seek for FileDev {
    fn seek(&mut self, p: SeekFrom) -> std::io::Result<u64> {
        self.0.seek(p)
    }
}
impl BlockDevice for FileDev {
    fn size_bytes(&self) -> u64 {
        IMAGE
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut tree = StagingTree::create(dir.path().join("stage")).expect("staging tree");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut total = 0u64;
    let gen_start = Instant::now();
    for d in 0..100 {
        let dp = StagePath::new(&format!("/d{d:03}")).expect("path");
        tree.ensure_dir(&dp, 0, 0, 0o755).expect("dir");
        for f in 0..200 {
            // 199 small files of 0..20 KiB per directory and one of ~3 MiB.
            let size = if f == 0 {
                3 << 20
            } else {
                (next() % (20 << 10)) as usize
            };
            let data: Vec<u8> = (0..size.div_ceil(8))
                .flat_map(|_| next().to_le_bytes())
                .take(size)
                .collect();
            total += size as u64;
            let p = dp.join(&format!("f{f:03}")).expect("path");
            tree.write_file(&p, &mut &data[..], Entry::file(0, 0, 0o644))
                .expect("file");
        }
    }
    println!(
        "tree: {} entries, {:.1} MiB, generated in {:.2?}",
        tree.manifest.len(),
        total as f64 / (1 << 20) as f64,
        gen_start.elapsed()
    );

    let zimg = dir.path().join("pool.img");
    let f = File::create(&zimg).expect("image");
    f.set_len(IMAGE).expect("size");
    let mut dev = FileDev(f);
    let rss_before = peak_rss_kib();
    let t = Instant::now();
    ZfsWriter::new(PoolOptions::new(Seed::new("bench")))
        .write(&mut dev, &tree)
        .expect("zfs write");
    dev.0.sync_all().expect("sync");
    let zfs_time = t.elapsed();
    let zfs_rss = peak_rss_kib();

    let eimg = dir.path().join("ext4.img");
    File::create(&eimg)
        .and_then(|f| f.set_len(IMAGE))
        .expect("ext4 image");
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(tree.root())
        .arg(&eimg)
        .output();
    let (ext4_time, ext4_rss) = match out {
        Ok(o) if o.status.success() => (
            t.elapsed(),
            String::from_utf8_lossy(&o.stderr).trim().to_string(),
        ),
        _ => {
            let t = Instant::now();
            let ok = Command::new("mkfs.ext4")
                .args(["-q", "-F", "-d"])
                .arg(tree.root())
                .arg(&eimg)
                .status()
                .expect("mkfs.ext4");
            assert!(ok.success(), "mkfs.ext4 failed");
            (t.elapsed(), "?".to_string())
        }
    };
    let _ = File::open(&eimg).and_then(|f| f.sync_all());
    println!("{:<12} {:>10} {:>14}", "writer", "time", "peak RSS KiB");
    println!(
        "{:<12} {:>10.2?} {:>14} (process peak before write: {rss_before})",
        "forger zfs", zfs_time, zfs_rss
    );
    println!(
        "{:<12} {:>10.2?} {:>14}",
        "mkfs.ext4 -d", ext4_time, ext4_rss
    );
    println!(
        "ratio zfs/ext4: {:.2}",
        zfs_time.as_secs_f64() / ext4_time.as_secs_f64()
    );
}
