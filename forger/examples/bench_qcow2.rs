//! Benchmark of our QCOW2 writer against `qemu-img convert -O qcow2` on the same sparse raw
//! disk: 4 GiB virtual, 1 GiB of data (half incompressible noise, half text, in 64 MiB pieces
//! spread over the disk), plain, zlib and zstd. Prints both times side by side and our peak
//! RSS (VmHWM, reset before each of our runs through `/proc/self/clear_refs`), and the CPU
//! seconds each used (on a shared machine wall time says more about the neighbours).
//!
//! Run: `cargo run --release -p forger --example bench_qcow2 [-- DIR]` (DIR defaults to a
//! temporary directory; it needs about 3 GiB free).
//!
//! Measured 2026-11-28 on the shared 2-core build machine (load average 18–25 from other
//! builds, so wall times swing several-fold between runs; CPU seconds compare better). The
//! first run is the current code; the second predates the single-thread plain path:
//!
//! ```text
//! mode     ours s   qemu s  ratio  ours cpu  qemu cpu  ours bytes  qemu bytes  peak RSS
//! plain      7.47     8.38   0.89      1.72      2.18  1074528256  1074528256     7 MiB
//! zlib      23.49    18.46   1.27      5.81     11.37   541851648   539720192    15 MiB
//! zstd       3.18     0.90   3.51      0.80      0.89   541851648   538180096    16 MiB
//!
//! plain     12.50    11.40   1.10      2.54      2.56  1074528256  1074528256    12 MiB
//! zlib      30.14    21.46   1.40      5.88     12.67   541851648   539720192    16 MiB
//! zstd       2.80     5.58   0.50      0.63      1.75   541851648   538180096    18 MiB
//! ```

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use forger::disk::{Compression, raw_to_qcow2};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keep;
    let dir = match std::env::args().nth(1) {
        Some(d) => Path::new(&d).to_path_buf(),
        None => {
            keep = tempfile::tempdir()?;
            keep.path().to_path_buf()
        }
    };
    let raw = dir.join("bench.raw");
    make_raw(&raw)?;
    println!("raw: 4 GiB virtual, 1 GiB data at {}", raw.display());
    println!(
        "{:<6} {:>8} {:>8} {:>6} {:>9} {:>9} {:>11} {:>11} {:>9}",
        "mode",
        "ours s",
        "qemu s",
        "ratio",
        "ours cpu",
        "qemu cpu",
        "ours bytes",
        "qemu bytes",
        "peak RSS"
    );
    for (name, compression, qemu_args) in [
        ("plain", Compression::None, vec![]),
        ("zlib", Compression::Zlib, vec!["-c"]),
        (
            "zstd",
            Compression::Zstd,
            vec!["-c", "-o", "compression_type=zstd"],
        ),
    ] {
        let ours = dir.join(format!("ours-{name}.qcow2"));
        let theirs = dir.join(format!("qemu-{name}.qcow2"));
        reset_peak_rss();
        let (cpu0, child0) = cpu_seconds();
        let t = Instant::now();
        raw_to_qcow2(&raw, &ours, compression)?;
        let ours_s = t.elapsed().as_secs_f64();
        let rss = peak_rss_kib();
        let (cpu1, _) = cpu_seconds();

        let t = Instant::now();
        let status = Command::new("qemu-img")
            .args(["convert", "-O", "qcow2"])
            .args(&qemu_args)
            .arg(&raw)
            .arg(&theirs)
            .status()?;
        let qemu_s = t.elapsed().as_secs_f64();
        let (_, child1) = cpu_seconds();
        if !status.success() {
            return Err(format!("qemu-img convert failed: {status}").into());
        }
        let same = Command::new("qemu-img")
            .args(["compare", "-q"])
            .arg(&raw)
            .arg(&ours)
            .status()?;
        if !same.success() {
            return Err(format!("our {name} QCOW2 differs from the raw disk").into());
        }
        println!(
            "{:<6} {:>8.2} {:>8.2} {:>6.2} {:>9.2} {:>9.2} {:>11} {:>11} {:>5} MiB",
            name,
            ours_s,
            qemu_s,
            ours_s / qemu_s,
            cpu1 - cpu0,
            child1 - child0,
            fs::metadata(&ours)?.len(),
            fs::metadata(&theirs)?.len(),
            rss / 1024
        );
        fs::remove_file(&ours)?;
        fs::remove_file(&theirs)?;
    }
    fs::remove_file(&raw)?;
    Ok(())
}

/// A sparse 4 GiB file with 16 pieces of 64 MiB: even pieces noise, odd pieces text.
fn make_raw(path: &Path) -> std::io::Result<()> {
    let f = File::create(path)?;
    f.set_len(4 * GIB)?;
    let mut buf = vec![0u8; (4 * MIB) as usize];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for piece in 0..16u64 {
        let base = piece * 256 * MIB + 3 * MIB;
        for chunk in 0..16u64 {
            if piece % 2 == 0 {
                for w in buf.chunks_exact_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    w.copy_from_slice(&x.to_le_bytes());
                }
            } else {
                let line = format!("piece {piece} chunk {chunk}: the quick brown fox jumps\n");
                for (b, c) in buf.iter_mut().zip(line.bytes().cycle()) {
                    *b = c;
                }
            }
            f.write_all_at(&buf, base + chunk * 4 * MIB)?;
        }
    }
    f.sync_all()
}

/// CPU seconds (user + system) of this process and of its waited-for children, from
/// `/proc/self/stat` (fields 14–17, in clock ticks of 1/100 s).
fn cpu_seconds() -> (f64, f64) {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // After the command name, field 3 is at index 0, so utime (14) is at index 11.
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    (get(11) + get(12), get(13) + get(14))
}

/// Resets VmHWM to the current RSS (Linux `clear_refs` value 5).
fn reset_peak_rss() {
    let _ = fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size in KiB from `/proc/self/status`.
fn peak_rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
