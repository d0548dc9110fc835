//! Benchmark of the stage cache on the Debian CI image (`examples/debian-ci.rs`, mmdebstrap
//! from deb.debian.org, both targets: the 8G ext4 QCOW2 and the tarball). One run builds it
//! cold (a fresh stage cache; the `.deb` files are kept between runs of this benchmark in
//! `<work>/apt-archives`, so only the first run ever downloads them), then changes one
//! overlay file (`/etc/motd`) and rebuilds warm with the same cache, and prints both times,
//! per stage, side by side with the ratio. Run with
//! `cargo run --release -p forger --example bench_cache [work-dir]` (default
//! `target/bench-cache`); it takes minutes and needs mmdebstrap and the Debian archive.
//!
//! Measured 2026-12-06 on the 2-core machine, release build, 272 kept `.deb`s, both targets
//! side by side (cold / warm), three runs:
//!
//! | payload | target:qcow2 | target:rootfs | total | warm/cold |
//! |---|---|---|---|---|
//! | 95.4 / hit | 29.1 / 6.5 | 24.8 / 5.3 | 127.8 / 10.0 s | 7.8 % |
//! | 98.3 / hit | 27.8 / 7.5 | 22.8 / 4.9 | 130.6 / 11.1 s | 8.5 % |
//! | 83.2 / hit | 27.6 / 7.2 | 23.3 / 5.1 | 114.1 / 10.5 s | 9.2 % |
//!
//! What makes the warm build short: the payload tree comes from the cache (digest checked,
//! ≈ 1.2 s), the tarball recompresses only the blocks the edit changed, and the QCOW2 disk
//! reads its root partition from the kept ext4 image of the payload, changed in place by a
//! `debugfs` script of the differences and put back with `e2undo` afterwards, so the 1.6 GB
//! filesystem is neither laid out nor copied again. The rest of the warm qcow2 time is
//! hashing the kept image before use (≈ 1.1 s), writing the 1.6 GB QCOW2 file (1–4 s, set by
//! the page cache), its fsync (≈ 0.5 s) and hashing it into the cache (≈ 1 s).

#[path = "../../examples/debian-ci.rs"]
#[allow(dead_code)] // the example's own `main` is not used here, only its `image()`
mod debian_ci;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use forger::build::{BuildOptions, Events, build};
use forger::cache::{Cache, Lookup};
use forger::model::{FileOverlay, Fragment, Overlay, OverlaySet};
use forger::plan::PlanOptions;

/// Stage timings and cache lookups of one build. Every event is logged with the time
/// since the build started, so the gaps between events show where time outside the stages
/// goes (snapshot fetch before the first lookup, restoring and storing entries).
struct Record {
    start: Instant,
    stages: BTreeMap<String, Duration>,
    lookups: BTreeMap<String, Lookup>,
}

impl Record {
    fn new() -> Self {
        Record {
            start: Instant::now(),
            stages: BTreeMap::new(),
            lookups: BTreeMap::new(),
        }
    }

    fn log(&self, line: &str) {
        eprintln!("  [{:7.1}s] {line}", self.start.elapsed().as_secs_f64());
    }
}

impl Events for Record {
    fn stage_start(&mut self, stage: &str, detail: &str) {
        self.log(&format!("start {stage} ({detail})"));
    }
    fn stage_done(&mut self, stage: &str, elapsed: Duration) {
        self.log(&format!("done  {stage} {:.1}s", elapsed.as_secs_f64()));
        self.stages.insert(stage.to_owned(), elapsed);
    }
    fn warning(&mut self, code: &str, message: &str) {
        self.log(&format!("warning[{code}]: {message}"));
    }
    fn output(&mut self, target: &str, path: &Path) {
        self.log(&format!("output {target}: {}", path.display()));
    }
    fn cache(&mut self, stage: &str, lookup: Lookup) {
        self.log(&format!("cache {stage}: {}", lookup.label()));
        self.lookups.insert(stage.to_owned(), lookup);
    }
}

/// Hard-links every file of `from` into `to` (the kept `.deb`s into the fresh cache).
fn link_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the .deb directory");
    let Ok(items) = std::fs::read_dir(from) else {
        return;
    };
    for item in items.flatten() {
        let dst = to.join(item.file_name());
        if item.path().is_file() && !dst.exists() {
            std::fs::hard_link(item.path(), &dst)
                .or_else(|_| std::fs::copy(item.path(), &dst).map(|_| ()))
                .expect("link a .deb");
        }
    }
}

fn timed_build(
    image: &forger::model::Image,
    cache: &Cache,
    out: PathBuf,
) -> (Duration, Record, forger::build::BuildReport) {
    let options = BuildOptions {
        plan: PlanOptions {
            epoch: 1_700_000_000,
            ..Default::default()
        },
        out_dir: out,
        skip_push: true,
        cache: Some(cache.clone()),
        ..Default::default()
    };
    let mut record = Record::new();
    let report = build(image, &options, &mut record).unwrap_or_else(|e| panic!("build: {e:?}"));
    (record.start.elapsed(), record, report)
}

fn main() {
    let work = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-cache"));
    let debs = work.join("apt-archives");
    let run = work.join("run");
    if run.exists() {
        std::fs::remove_dir_all(&run).expect("clear the previous run");
    }
    let files = run.join("files");
    std::fs::create_dir_all(&files).expect("create the work directory");
    let motd = files.join("motd");
    std::fs::write(&motd, "Debian CI image, build 1\n").expect("write motd");

    let mut image = debian_ci::image();
    image.content.includes.push(
        Fragment::builder()
            .base_dir(&files)
            .overlays(vec![
                OverlaySet::builder()
                    .actions(vec![Overlay::File(
                        FileOverlay::to("/etc/motd")
                            .source("motd")
                            .mode("644".parse().expect("a mode"))
                            .build(),
                    )])
                    .build(),
            ])
            .build(),
    );

    let cache = Cache::new(run.join("cache"));
    link_dir(&debs, &cache.dir().join("apt-archives"));
    let kept = std::fs::read_dir(&debs).map_or(0, |d| d.count());
    eprintln!("cold build (fresh stage cache, {kept} .deb files kept from earlier runs)");
    let (cold, cold_rec, cold_report) = timed_build(&image, &cache, run.join("out-cold"));
    link_dir(&cache.dir().join("apt-archives"), &debs);

    std::fs::write(&motd, "Debian CI image, build 2\n").expect("change motd");
    eprintln!("warm build (one overlay file changed)");
    let (warm, warm_rec, warm_report) = timed_build(&image, &cache, run.join("out-warm"));

    println!("{:<20} {:>10} {:>10}", "stage", "cold s", "warm s");
    let names: std::collections::BTreeSet<&String> = cold_rec
        .stages
        .keys()
        .chain(warm_rec.stages.keys())
        .collect();
    for name in names {
        let secs = |r: &Record| {
            r.stages.get(name).map_or_else(
                || match r.lookups.get(name) {
                    Some(l) => l.label().to_owned(),
                    None => "-".to_owned(),
                },
                |d| format!("{:.1}", d.as_secs_f64()),
            )
        };
        println!("{name:<20} {:>10} {:>10}", secs(&cold_rec), secs(&warm_rec));
    }
    println!(
        "{:<20} {:>10.1} {:>10.1}   warm/cold = {:.1}%",
        "total",
        cold.as_secs_f64(),
        warm.as_secs_f64(),
        100.0 * warm.as_secs_f64() / cold.as_secs_f64()
    );
    for (c, w) in cold_report.outputs.iter().zip(&warm_report.outputs) {
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        println!(
            "{}: cold {} ({} bytes), warm {} ({} bytes)",
            c.target,
            c.path.display(),
            size(&c.path),
            w.path.display(),
            size(&w.path)
        );
    }
}
