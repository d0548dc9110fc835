//! Benchmark of the native IPS client: builds a pkg5 v4 fixture repository of 2,000 packages
//! and 50,000 files, serves it from a depot on 127.0.0.1, installs everything into a staging
//! tree and prints the wall time and peak RSS. Run with
//! `cargo run --release -p forger --example bench_ips [packages] [files-per-package]`.

#[path = "../tests/it/ips_fixture.rs"]
mod ips_fixture;

use std::time::Instant;

use forger::payload::ips::{IpsPayload, Publisher};
use forger::stage::StagingTree;
use ips_fixture::{Depot, RepoBuilder, file, raw};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of this process so far (the machine is shared, so wall time
/// alone says little).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the state field; ticks of 1/100 s.
    (f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0)) as f64 / 100.0
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let packages = args.first().copied().unwrap_or(2000);
    let per = args.get(1).copied().unwrap_or(25);
    let tmp = tempfile::tempdir().expect("temp dir");
    let repo_dir = tmp.path().join("repo");
    let t0 = Instant::now();
    let mut repo = RepoBuilder::new(&repo_dir, "bench");
    let ts = "20250101T000000Z";
    let mut entire = Vec::new();
    for p in 0..packages {
        let stem = format!("bench/pkg{p:04}");
        let mut lines = vec![
            raw(&format!(
                "dir group=bin mode=0755 owner=root path=opt/pkg{p:04}"
            )),
            raw("depend fmri=bench/base type=require"),
        ];
        for f in 0..per {
            // Distinct, mildly compressible contents of 1-4 KiB.
            let n = 1024 + (p * 31 + f * 17) % 3072;
            let mut body: Vec<u8> = (0..n)
                .map(|i| b"abcdefghij"[(i * (p + 1) + f) % 10])
                .collect();
            body.extend_from_slice(format!("{p}/{f}\n").as_bytes());
            lines.push(file(
                &format!("opt/pkg{p:04}/f{f:03}"),
                "0644",
                "root",
                "bin",
                "",
                &body,
            ));
        }
        repo.add(&stem, &format!("1.0,5.11-1:{ts}"), lines);
        entire.push(raw(&format!("depend fmri={stem}@1.0 type=incorporate")));
        entire.push(raw(&format!("depend fmri={stem} type=require")));
    }
    repo.add(
        "bench/base",
        &format!("1.0,5.11-1:{ts}"),
        vec![
            raw("dir group=sys mode=0755 owner=root path=opt"),
            raw("dir group=sys mode=0755 owner=root path=etc"),
            file(
                "etc/passwd",
                "0644",
                "root",
                "sys",
                "",
                b"root:x:0:0::/root:/bin/sh\nbin:x:2:2::/:\n",
            ),
            file(
                "etc/group",
                "0644",
                "root",
                "sys",
                "",
                b"root::0:\nbin::2:\nsys::3:\n",
            ),
        ],
    );
    repo.add("entire", &format!("11,5.11-1:{ts}"), entire);
    repo.finish();
    println!(
        "fixture: {packages} packages, {} files, built in {:.1?}",
        packages * per,
        t0.elapsed()
    );

    let depot = Depot::start(&repo_dir, "bench");
    let mut tree = StagingTree::create(tmp.path().join("root")).expect("staging tree");
    let payload = IpsPayload {
        publishers: vec![Publisher {
            name: "bench".into(),
            origin: depot.url.clone(),
            ..Publisher::default()
        }],
        incorporation: Some("entire".into()),
        cache_dir: Some(tmp.path().join("cache")),
        ..IpsPayload::default()
    };
    let rss_before = peak_rss_kib();
    let t1 = Instant::now();
    let cpu1 = cpu_seconds();
    let report = payload.install(&mut tree).expect("install");
    let took = t1.elapsed();
    let cpu = cpu_seconds() - cpu1;
    println!(
        "http install: {} packages, {} files, {} MiB in {took:.2?} (client+depot CPU {cpu:.1} s); downloaded {} payloads; \
         peak RSS {} MiB (before install {} MiB); {} HTTP requests",
        report.installed.len(),
        report.counts.files,
        report.counts.bytes >> 20,
        report.fetch.downloaded,
        peak_rss_kib() / 1024,
        rss_before / 1024,
        depot.requests.lock().map(|r| r.len()).unwrap_or(0),
    );
    let mut tree2 = StagingTree::create(tmp.path().join("root2")).expect("staging tree");
    let t2 = Instant::now();
    let cpu2 = cpu_seconds();
    let report2 = payload.install(&mut tree2).expect("install");
    println!(
        "http install again with a warm cache: {} files in {:.2?} (CPU {:.1} s; {} cached)",
        report2.counts.files,
        t2.elapsed(),
        cpu_seconds() - cpu2,
        report2.fetch.cached
    );
}
