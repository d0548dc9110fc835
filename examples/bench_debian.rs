//! Benchmark: the whole `debian-ci` QCOW2 build by Forger against the shell pipeline a user
//! would otherwise write for the same image (`mmdebstrap` → `mkfs.ext4 -d` →
//! `sgdisk`/`mkfs.fat`/`mcopy` → `dd` → `qemu-img convert`), both with the same warm `.deb`
//! cache, printed side by side: wall time, CPU time and peak RSS.
//!
//! Each side runs in its own child process (this program re-executed), so its resource usage
//! is its own: the child reports `getrusage(RUSAGE_SELF)` (Forger's own peak RSS; the
//! pipeline's is only the orchestrating process) and `getrusage(RUSAGE_CHILDREN)` (mmdebstrap
//! with apt and dpkg, mkfs, qemu-img …) separately. Forger's build uses a fresh stage cache,
//! so every stage runs; only the downloaded packages are shared.
//!
//! Needs root (mmdebstrap `--mode=root` for the pipeline, as a user would run it) and the
//! network for the first, warming run:
//!
//! `cargo run --release --example bench_debian -- [WORK_DIR]` (default
//! `target/bench-debian`; the `.deb` cache in `WORK_DIR/debs` is kept between runs).
//!
//! Measured 2026-12-04 on the 2-core machine (271 cached `.deb`s, 1598 MiB QCOW2 on both
//! sides), forger / pipeline, release build:
//!
//! | Forger's payload | load | wall | CPU | peak RSS own / children |
//! |---|---|---|---|---|
//! | tar stream | 5–8 | 241.6 s / 208.3 s (1.16×) | 132.3 s / 128.9 s (1.03×) | 30 / 126 MiB vs 6 / 125 MiB |
//! | tar stream | ~2 | 142.8 s / 125.4 s (1.14×) | 139.6 s / 119.1 s (1.17×) | 30 / 127 MiB vs 6 / 128 MiB |
//! | directory, adopted | idle | 94.1 s / 106.9 s (0.88×) | 99.7 s / 112.8 s (0.88×) | 35 / 128 MiB vs 7 / 128 MiB |
//! | directory, adopted | idle | 96.5 s / 112.8 s (0.86×) | 103.4 s / 117.2 s (0.88×) | 36 / 128 MiB vs 7 / 128 MiB |
//! | adopted, disk on a linked copy | idle | 105.9 s / 95.1 s (1.11×) | 113.4 s / 102.8 s (1.10×) | 45 / 128 MiB vs 7 / 126 MiB |
//! | adopted, disk on a linked copy | idle | 113.6 s / 121.4 s (0.94×) | 120.5 s / 125.5 s (0.96×) | 45 / 128 MiB vs 7 / 128 MiB |
//! | adopted, disk on a linked copy | idle | 111.6 s / 120.1 s (0.93×) | 118.8 s / 124.6 s (0.95×) | 45 / 128 MiB vs 7 / 128 MiB |
//!
//! Both sides' mmdebstrap fetch the package lists from the mirror each time, which moves a
//! run by ±10 s; four of the five runs since the payload is adopted are below 1.0×.
//!
//! Forger's disk stage is the faster one (16–19 s against ≈30 s for `mkfs.ext4 -d`, `dd` and
//! `qemu-img convert`). Its payload stage used to be the slower one, while mmdebstrap
//! `--format=tar` built the tree, tarred it (1.58 GB) and deleted it and Forger wrote it
//! again; as root it now writes a directory whose files are renamed into the staging tree,
//! as the pipeline's `--format=directory` writes it once.

#![allow(unsafe_code)] // getrusage(2) through libc: the one way to read a process's own usage.

#[path = "debian-ci.rs"]
#[allow(dead_code)] // its `main` is the example's own; the bench uses `image()`
mod debian_ci;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use forger::build::{BuildOptions, Events, build};
use forger::cache::{Cache, Lookup};
use forger::plan::{Plan, PlanOptions};

/// The image's target the bench builds.
const TARGET: &str = "qcow2";
/// Timestamps of both builds.
const EPOCH: i64 = 1_700_000_000;

/// The shell pipeline: what a user writes to get the same disk without Forger. Parameters
/// come from the environment (see [`run_pipeline`]).
const PIPELINE: &str = r#"set -euo pipefail
cd "$WORK"
rm -rf root esp.img root.img disk.raw disk.qcow2
mmdebstrap --mode=root --variant=minbase --format=directory --architectures=amd64 \
  --aptopt='Acquire::Retries "3"' --include="$PACKAGES" \
  --skip=essential/unlink \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in $DEBS /var/cache/apt/archives/" \
  --customize-hook="sync-out /var/cache/apt/archives $DEBS" \
  --customize-hook='chroot "$1" useradd -m -s /bin/bash -G sudo ci' \
  --customize-hook='echo "root:$ROOT_HASH" | chroot "$1" chpasswd -e' \
  --customize-hook='chroot "$1" chown ci:ci /home/ci && chmod 755 "$1"/home/ci' \
  "$SUITE" root "deb $MIRROR $SUITE main" 2> mmdebstrap.log

printf 'UUID=%s / ext4 errors=remount-ro 0 1\nUUID=%s /boot/efi vfat umask=0077 0 2\n' \
  "$ROOT_UUID" "$ESP_VOLID_DASHED" > root/etc/fstab
kver=$(ls root/boot | sed -n 's/^vmlinuz-//p' | sort -V | tail -n 1)

truncate -s "${ESP_MIB}M" esp.img
mkfs.fat -F 32 -i "$ESP_VOLID" -n ESP esp.img > /dev/null
mmd -i esp.img ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/debian "::/debian/$kver"
mcopy -i esp.img root/usr/lib/systemd/boot/efi/systemd-bootx64.efi ::/EFI/BOOT/BOOTX64.EFI
mcopy -i esp.img "root/boot/vmlinuz-$kver" "::/debian/$kver/linux"
mcopy -i esp.img "root/boot/initrd.img-$kver" "::/debian/$kver/initrd"
printf 'default debian.conf\ntimeout 0\nconsole-mode keep\neditor no\n' | mcopy -i esp.img - ::/loader/loader.conf
printf 'title debian\nversion %s\nlinux /debian/%s/linux\ninitrd /debian/%s/initrd\noptions root=UUID=%s rw console=ttyS0\n' \
  "$kver" "$kver" "$kver" "$ROOT_UUID" | mcopy -i esp.img - ::/loader/entries/debian.conf

truncate -s "${DISK_MIB}M" disk.raw
sgdisk -n "1:2048:+${ESP_MIB}M" -t 1:ef00 -c 1:ESP -n 2:0:0 -t 2:8304 -c 2:root disk.raw > /dev/null
read -r start sectors < <(sgdisk -i 2 disk.raw | awk '/^First sector/{s=$3} /^Partition size/{n=$3} END{print s, n}')
mkfs.ext4 -q -F -U "$ROOT_UUID" -L root -d root root.img "$((sectors / 2))k"
dd if=esp.img of=disk.raw bs=1M seek=1 conv=notrunc,sparse status=none
dd if=root.img of=disk.raw bs=1M oflag=seek_bytes seek="$((start * 512))" conv=notrunc,sparse status=none
qemu-img convert -O qcow2 disk.raw disk.qcow2
"#;

/// Resource usage of one side, as its child process measured it.
#[derive(Debug, Default)]
struct Usage {
    wall: f64,
    self_cpu: f64,
    self_rss_kib: i64,
    children_cpu: f64,
    children_rss_kib: i64,
    stages: BTreeMap<String, f64>,
    output_bytes: u64,
}

impl Usage {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "wall": self.wall, "self_cpu": self.self_cpu, "self_rss_kib": self.self_rss_kib,
            "children_cpu": self.children_cpu, "children_rss_kib": self.children_rss_kib,
            "stages": self.stages, "output_bytes": self.output_bytes,
        })
    }

    fn from_json(v: &serde_json::Value) -> Usage {
        let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
        let i = |k: &str| v[k].as_i64().unwrap_or(0);
        Usage {
            wall: f("wall"),
            self_cpu: f("self_cpu"),
            self_rss_kib: i("self_rss_kib"),
            children_cpu: f("children_cpu"),
            children_rss_kib: i("children_rss_kib"),
            stages: v["stages"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
                        .collect()
                })
                .unwrap_or_default(),
            output_bytes: v["output_bytes"].as_u64().unwrap_or(0),
        }
    }

    /// Fills in CPU and RSS of this process and its waited-for descendants.
    fn measure(mut self, started: Instant) -> Usage {
        self.wall = started.elapsed().as_secs_f64();
        let (cpu, rss) = rusage(libc::RUSAGE_SELF);
        (self.self_cpu, self.self_rss_kib) = (cpu, rss);
        let (cpu, rss) = rusage(libc::RUSAGE_CHILDREN);
        (self.children_cpu, self.children_rss_kib) = (cpu, rss);
        self
    }
}

/// CPU seconds (user + system) and peak RSS (KiB) for `who`.
fn rusage(who: libc::c_int) -> (f64, i64) {
    // SAFETY: getrusage only writes the struct it is given, which is zero-initialised POD.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(who, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime) + secs(ru.ru_stime), ru.ru_maxrss)
}

/// Collects the build's per-stage times.
#[derive(Default)]
struct StageTimes(BTreeMap<String, f64>);

impl Events for StageTimes {
    fn stage_start(&mut self, stage: &str, detail: &str) {
        eprintln!("forger: {stage}: {detail}");
    }
    fn stage_done(&mut self, stage: &str, elapsed: Duration) {
        eprintln!("forger: {stage} done in {:.1}s", elapsed.as_secs_f64());
        self.0.insert(stage.to_owned(), elapsed.as_secs_f64());
    }
    fn warning(&mut self, code: &str, message: &str) {
        eprintln!("forger: warning {code}: {message}");
    }
    fn output(&mut self, _: &str, _: &Path) {}
    fn cache(&mut self, stage: &str, lookup: Lookup) {
        eprintln!("forger: cache {stage}: {lookup:?}");
    }
}

/// Forger's build of the `debian-ci` QCOW2 with a fresh stage cache sharing `debs`.
fn run_forger(work: &Path, debs: &Path) -> Usage {
    let stage_cache = work.join("forger-cache");
    let out = work.join("forger-out");
    for d in [&stage_cache, &out] {
        let _ = std::fs::remove_dir_all(d);
    }
    std::fs::create_dir_all(&stage_cache).expect("stage cache dir");
    std::os::unix::fs::symlink(debs, stage_cache.join("apt-archives")).expect("deb cache link");
    let options = BuildOptions {
        plan: PlanOptions {
            targets: vec![TARGET.to_owned()],
            epoch: EPOCH,
            ..Default::default()
        },
        out_dir: out,
        skip_push: true,
        output_name: None,
        rootfs: None,
        cache: Some(Cache::new(&stage_cache)),
        ..Default::default()
    };
    let started = Instant::now();
    let mut events = StageTimes::default();
    let report = build(&debian_ci::image(), &options, &mut events)
        .unwrap_or_else(|e| panic!("forger build failed: {e:?}"));
    let usage = Usage {
        stages: events.0,
        ..Usage::default()
    }
    .measure(started);
    let output_bytes = std::fs::metadata(&report.outputs[0].path).map_or(0, |m| m.len());
    Usage {
        output_bytes,
        ..usage
    }
}

/// The shell pipeline for the same image: packages, mirror, users, overlays and ESP files.
fn run_pipeline(work: &Path, debs: &Path) -> Usage {
    let plan = Plan::new(
        &debian_ci::image(),
        &PlanOptions {
            targets: vec![TARGET.to_owned()],
            epoch: EPOCH,
            ..Default::default()
        },
    )
    .expect("debian-ci plans");
    let mirror = &plan.repositories.apt_mirrors[0];
    let packages: Vec<String> = plan.packages.iter().map(|p| p.to_string()).collect();
    let root_hash = plan
        .overlays
        .iter()
        .find_map(|o| match &o.action {
            forger::model::Overlay::Shadow(s) if s.username == "root" => Some(s.password.clone()),
            _ => None,
        })
        .expect("debian-ci sets root's password");
    let dir = work.join("pipeline");
    std::fs::create_dir_all(&dir).expect("pipeline dir");
    let started = Instant::now();
    let status = Command::new("bash")
        .arg("-c")
        .arg(PIPELINE)
        .env("WORK", &dir)
        .env("DEBS", debs)
        .env("MIRROR", &mirror.url)
        .env("SUITE", &mirror.suite)
        .env("PACKAGES", packages.join(","))
        .env("ROOT_HASH", root_hash)
        .env("ROOT_UUID", "6b8b4567-327b-23c6-643c-986966334873")
        .env("ESP_VOLID", "4E1F0A2B")
        .env("ESP_VOLID_DASHED", "4E1F-0A2B")
        .env("ESP_MIB", "512")
        .env("DISK_MIB", "8192")
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .status()
        .expect("bash runs");
    assert!(
        status.success(),
        "the pipeline failed ({status}); see {}",
        dir.join("mmdebstrap.log").display()
    );
    let usage = Usage::default().measure(started);
    let output_bytes = std::fs::metadata(dir.join("disk.qcow2")).map_or(0, |m| m.len());
    Usage {
        output_bytes,
        ..usage
    }
}

/// Runs one side in a child process and reads back what it measured.
fn side(side: &str, work: &Path) -> Usage {
    let result = work.join(format!("{side}.json"));
    let status = Command::new(std::env::current_exe().expect("own path"))
        .args(["--side", side])
        .arg(work)
        .arg(&result)
        .status()
        .expect("re-executing the bench");
    assert!(status.success(), "{side} side failed ({status})");
    let text = std::fs::read_to_string(&result).expect("side result");
    Usage::from_json(&serde_json::from_str(&text).expect("side result is JSON"))
}

fn mib(kib: i64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--side") {
        let (work, result) = (PathBuf::from(&args[2]), PathBuf::from(&args[3]));
        let debs = work.join("debs");
        let usage = match args[1].as_str() {
            "forger" => run_forger(&work, &debs),
            "pipeline" => run_pipeline(&work, &debs),
            other => panic!("unknown side {other}"),
        };
        std::fs::write(result, usage.to_json().to_string()).expect("writing the side result");
        return;
    }
    let work = args
        .first()
        .map_or_else(|| PathBuf::from("target/bench-debian"), PathBuf::from);
    let work = std::path::absolute(&work).expect("work dir path");
    let debs = work.join("debs");
    std::fs::create_dir_all(&debs).expect("deb cache dir");
    let cached = forger::payload::apt::cache_contents(&debs).map_or(0, |(n, _)| n);
    if cached == 0 {
        eprintln!(
            "warming the .deb cache in {} (one full build)",
            debs.display()
        );
        side("forger", &work);
    } else {
        eprintln!("using {cached} cached .debs in {}", debs.display());
    }
    let forger = side("forger", &work);
    let pipeline = side("pipeline", &work);

    println!("debian-ci {TARGET}, warm .deb cache ({})", debs.display());
    println!("{:<28} {:>14} {:>14}", "", "forger", "shell pipeline");
    let row = |name: &str, a: String, b: String| println!("{name:<28} {a:>14} {b:>14}");
    row(
        "wall time",
        format!("{:.1} s", forger.wall),
        format!("{:.1} s", pipeline.wall),
    );
    row(
        "CPU time (self + children)",
        format!("{:.1} s", forger.self_cpu + forger.children_cpu),
        format!("{:.1} s", pipeline.self_cpu + pipeline.children_cpu),
    );
    row(
        "peak RSS, own process",
        mib(forger.self_rss_kib),
        mib(pipeline.self_rss_kib),
    );
    row(
        "peak RSS, child processes",
        mib(forger.children_rss_kib),
        mib(pipeline.children_rss_kib),
    );
    row(
        "output size",
        format!("{} MiB", forger.output_bytes >> 20),
        format!("{} MiB", pipeline.output_bytes >> 20),
    );
    println!(
        "ratio forger / pipeline: wall {:.2}x, CPU {:.2}x",
        forger.wall / pipeline.wall,
        (forger.self_cpu + forger.children_cpu) / (pipeline.self_cpu + pipeline.children_cpu)
    );
    println!("forger stages:");
    for (stage, secs) in &forger.stages {
        println!("  {stage:<20} {secs:.1} s");
    }
}
