//! The disk layer against real readers: `sgdisk -v` and `sfdisk --json` for every built-in
//! layout at 512- and 4096-byte sectors, `fsck.fat -n` and mtools for the ESP, `qemu-img
//! check`/`compare` for QCOW2 (plain, zlib, zstd), reproducibility, the illumos BIOS boot
//! fields, and bad input.

use std::fs;
use std::io::SeekFrom;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use forger::disk::{
    self, Compression, Format, IllumosBiosBoot, Layout, PartitionContent, PartitionSpec, Size,
    WriteOptions, types,
};
use forger::fs::fat::{Esp, EspKind, illumos_esp_files};
use forger::fs::{BlockDevice, EspFile, EspSource, Filesystem};
use forger::seed::Seed;
use forger::stage::{Entry, StagePath, StagingTree};

use crate::util::{run, run_ok};

const MIB: u64 = 1 << 20;

/// A filesystem stand-in that writes known bytes: incompressible noise, compressible text,
/// explicit zeros and the partition's last 4 KiB, so every QCOW2 cluster kind appears.
struct Pattern {
    tag: u8,
}

impl Pattern {
    fn expected(&self, size: u64) -> Vec<(u64, Vec<u8>)> {
        let mut noise = vec![0u8; (3 * MIB) as usize];
        let mut x: u32 = 0x9e37_79b9 ^ u32::from(self.tag);
        for b in noise.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let text: Vec<u8> = format!("forger pattern {} ", self.tag)
            .bytes()
            .cycle()
            .take((2 * MIB) as usize)
            .collect();
        vec![
            (0, vec![self.tag; 4096]),
            (MIB, noise),
            (5 * MIB, text),
            (8 * MIB, vec![0u8; MIB as usize]),
            (size - 4096, vec![self.tag ^ 0xff; 4096]),
        ]
    }
}

impl Filesystem for Pattern {
    fn name(&self) -> &'static str {
        "pattern"
    }

    fn write(&self, dev: &mut dyn BlockDevice, _tree: &StagingTree) -> forger::Result<()> {
        let size = dev.size_bytes();
        for (off, bytes) in self.expected(size) {
            dev.seek(SeekFrom::Start(off)).expect("seek");
            dev.write_all(&bytes).expect("write");
        }
        Ok(())
    }
}

/// Writes one byte past the end of its partition.
struct Overflow;

impl Filesystem for Overflow {
    fn name(&self) -> &'static str {
        "overflow"
    }

    fn write(&self, dev: &mut dyn BlockDevice, _tree: &StagingTree) -> forger::Result<()> {
        let end = dev.size_bytes();
        dev.seek(SeekFrom::Start(end - 1)).expect("seek");
        // The second byte fails; the assembler reports it even if the writer ignores it.
        let _ = dev.write_all(&[1, 2]);
        Ok(())
    }
}

fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 3) as u8
        })
        .collect()
}

/// A staging tree with illumos loaders (and optionally BIOS boot blocks).
fn illumos_tree(root: &Path, bios: bool) -> StagingTree {
    let mut tree = StagingTree::create(root.join("stage")).expect("tree");
    let boot = StagePath::new("/boot").expect("path");
    tree.ensure_dir(&boot, 0, 0, 0o755).expect("dir");
    let mut add = |name: &str, bytes: Vec<u8>| {
        let p = StagePath::new(name).expect("path");
        tree.write_file(&p, &mut bytes.as_slice(), Entry::file(0, 0, 0o644))
            .expect("file");
    };
    add("/boot/loader64.efi", noise(300_000, 64));
    add("/boot/loader32.efi", noise(70_001, 32));
    if bios {
        add("/boot/pmbr", synthetic_pmbr());
        add("/boot/gptzfsboot", synthetic_stage2());
    }
    tree
}

fn synthetic_pmbr() -> Vec<u8> {
    let mut b = vec![0xccu8; 512];
    b[0] = 0xeb;
    b[1] = 0x3c;
    b[2] = 0x90;
    b[510] = 0x55;
    b[511] = 0xaa;
    b
}

fn synthetic_stage2() -> Vec<u8> {
    let mut b = noise(200_000, 2);
    let at = 0x40;
    let magic: u32 = 0x1bad_b002;
    let flags: u32 = 0x0001_0003;
    b[at..at + 4].copy_from_slice(&magic.to_le_bytes());
    b[at + 4..at + 8].copy_from_slice(&flags.to_le_bytes());
    b[at + 8..at + 12].copy_from_slice(&(magic.wrapping_add(flags).wrapping_neg()).to_le_bytes());
    b
}

fn staged_bytes(tree: &StagingTree, path: &str) -> Vec<u8> {
    fs::read(tree.host_path(&StagePath::new(path).expect("path"))).expect("read")
}

/// The built-in layouts, with names for messages.
fn layouts(ss: u32) -> Vec<(&'static str, Layout)> {
    let esp = if ss == 512 { 64 * MIB } else { 272 * MIB };
    vec![
        (
            "illumos",
            Layout::illumos(1024 * MIB, esp, ss).expect("illumos"),
        ),
        (
            "linux+bios",
            Layout::linux(1024 * MIB, esp, ss, true).expect("linux"),
        ),
        (
            "linux",
            Layout::linux(1024 * MIB, esp, ss, false).expect("linux"),
        ),
        (
            "custom",
            Layout::custom(
                512 * MIB,
                ss,
                MIB,
                vec![
                    PartitionSpec::new("esp", types::EFI_SYSTEM, Size::Bytes(esp / 2)),
                    PartitionSpec::new("data", types::LINUX_DATA, Size::Bytes(64 * MIB)),
                    PartitionSpec::new("rest", types::LINUX_DATA, Size::Rest),
                ],
            )
            .expect("custom"),
        ),
    ]
}

/// Attaches `img` read-only as a loop device with `ss`-byte sectors (sfdisk and sgdisk take
/// the sector size from the device; a plain file is always 512).
struct Loop(String);

impl Loop {
    fn attach(img: &Path, ss: u32) -> Loop {
        let dev = run_ok(
            Command::new("losetup")
                .args(["-f", "--show", "-r", "--sector-size"])
                .arg(ss.to_string())
                .arg(img),
        );
        Loop(dev.trim().to_string())
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

/// The path sfdisk/sgdisk should read for `img` at `ss`: the file itself at 512, a loop
/// device at 4096.
fn table_reader(img: &Path, ss: u32) -> (PathBuf, Option<Loop>) {
    if ss == 512 {
        (img.to_path_buf(), None)
    } else {
        let l = Loop::attach(img, ss);
        (PathBuf::from(&l.0), Some(l))
    }
}

fn check_table(img: &Path, layout: &Layout, seed: &Seed, what: &str) {
    let ss = layout.sector_size();
    let (dev, _loop) = table_reader(img, ss);
    let out = run_ok(Command::new("sgdisk").arg("-v").arg(&dev));
    assert!(
        out.lines().any(|l| l.starts_with("No problems found")),
        "{what}: sgdisk -v found problems:\n{out}"
    );
    let verify = run(Command::new("sfdisk").arg("--verify").arg(&dev));
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success()
            && !["corrupt", "CRC", "ERROR", "mismatch"]
                .iter()
                .any(|w| stderr.contains(w)),
        "{what}: sfdisk --verify: {stderr}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new("sfdisk").arg("--json").arg(&dev)))
            .expect("sfdisk json");
    let pt = &json["partitiontable"];
    assert_eq!(pt["label"], "gpt", "{what}");
    assert_eq!(pt["sectorsize"], u64::from(ss), "{what}");
    assert_eq!(
        pt["id"].as_str().expect("id").to_lowercase(),
        layout.disk_guid(seed).to_string(),
        "{what}"
    );
    let parts = pt["partitions"].as_array().expect("partitions");
    assert_eq!(parts.len(), layout.partitions().len(), "{what}");
    for (i, (p, want)) in parts.iter().zip(layout.partitions()).enumerate() {
        assert_eq!(p["start"], want.first_lba, "{what} partition {i} start");
        assert_eq!(p["size"], want.sectors, "{what} partition {i} size");
        assert_eq!(
            p["type"].as_str().expect("type").to_lowercase(),
            want.type_guid.to_string(),
            "{what} partition {i} type"
        );
        assert_eq!(
            p["uuid"].as_str().expect("uuid").to_lowercase(),
            layout.partition_guid(i, seed).expect("guid").to_string(),
            "{what} partition {i} uuid"
        );
        assert_eq!(
            p["name"].as_str().unwrap_or(""),
            want.name,
            "{what} partition {i} name"
        );
        assert!(
            p["node"]
                .as_str()
                .expect("node")
                .ends_with(&want.number.to_string()),
            "{what} partition {i} number"
        );
    }
}

#[test]
fn disk_layouts_pass_sgdisk_and_sfdisk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = StagingTree::create(tmp.path().join("stage")).expect("tree");
    let seed = Seed::new("disk-test");
    for ss in [512u32, 4096] {
        for (name, layout) in layouts(ss) {
            let out = tmp.path().join(format!("{name}-{ss}.raw"));
            let pattern = Pattern { tag: 7 };
            let last = (0..layout.partitions().len())
                .max_by_key(|&i| layout.partitions()[i].sectors)
                .expect("partitions");
            let report = disk::write(
                &layout,
                &[PartitionContent {
                    partition: last,
                    filesystem: &pattern,
                }],
                &tree,
                &out,
                &WriteOptions::new(Format::Raw),
                &seed,
            )
            .expect("write");
            assert_eq!(report.file_size, layout.disk_size());
            assert!(
                report.allocated_bytes < 16 * MIB,
                "{name}/{ss}: raw output is not sparse ({} bytes allocated)",
                report.allocated_bytes
            );
            check_table(&out, &layout, &seed, &format!("{name}/{ss}"));
            // The test filesystem's bytes are where the partition is.
            let (start, len) = layout.byte_range(last).expect("range");
            let f = fs::File::open(&out).expect("open");
            for (off, want) in pattern.expected(len) {
                let mut got = vec![0u8; want.len()];
                f.read_exact_at(&mut got, start + off).expect("read");
                assert!(got == want, "{name}/{ss}: bytes at partition offset {off}");
            }
        }
    }
}

/// Copies `len` bytes at `start` of `img` to `to`, leaving zero blocks as holes.
fn extract(img: &Path, start: u64, len: u64, to: &Path) {
    let src = fs::File::open(img).expect("open");
    let dst = fs::File::create(to).expect("create");
    dst.set_len(len).expect("len");
    let mut buf = vec![0u8; 1 << 16];
    let mut off = 0;
    while off < len {
        let n = buf.len().min((len - off) as usize);
        src.read_exact_at(&mut buf[..n], start + off).expect("read");
        if buf[..n].iter().any(|&b| b != 0) {
            dst.write_all_at(&buf[..n], off).expect("write");
        }
        off += n as u64;
    }
}

fn mtools(cmd: &str) -> Command {
    let mut c = Command::new(cmd);
    c.env("MTOOLS_SKIP_CHECK", "1");
    c
}

#[test]
fn disk_esp_passes_fsck_fat_and_mtools() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = illumos_tree(tmp.path(), false);
    let seed = Seed::new("esp-test");
    // 64 MiB FAT32 and 16 MiB FAT16 at 512; 272 MiB FAT32 and 256 MiB FAT16 at 4096.
    for (ss, esp_size, kind) in [
        (512u32, 64 * MIB, "FAT32"),
        (512, 16 * MIB, "FAT16"),
        (4096, 272 * MIB, "FAT32"),
        (4096, 256 * MIB, "FAT16"),
    ] {
        let what = format!("{kind} at {ss}");
        let layout = Layout::illumos(esp_size + 160 * MIB, esp_size, ss).expect("layout");
        let mut files = illumos_esp_files(&tree).expect("loaders");
        files.push(EspFile {
            path: "EFI/forger/deep/dir/config.txt".into(),
            source: EspSource::Bytes(b"timeout=3\n".to_vec()),
        });
        files.push(EspFile {
            path: "loader.conf".into(),
            source: EspSource::Bytes(Vec::new()),
        });
        let (start, len) = layout.byte_range(0).expect("esp");
        let esp = Esp::new(files, ss, &seed)
            .with_epoch(1_700_000_000)
            .with_partition_offset(start);
        assert_eq!(esp.plan(esp_size).expect("plan"), kind, "{what}");
        let out = tmp.path().join(format!("esp-{ss}-{esp_size}.raw"));
        disk::write(
            &layout,
            &[PartitionContent {
                partition: 0,
                filesystem: &esp,
            }],
            &tree,
            &out,
            &WriteOptions::new(Format::Raw),
            &seed,
        )
        .expect("write");
        let part = tmp.path().join(format!("esp-{ss}-{esp_size}.fat"));
        extract(&out, start, len, &part);
        let fsck = run(Command::new("fsck.fat").arg("-n").arg("-v").arg(&part));
        let text = String::from_utf8_lossy(&fsck.stdout).into_owned()
            + &String::from_utf8_lossy(&fsck.stderr);
        assert!(fsck.status.success(), "{what}: fsck.fat -n failed:\n{text}");
        if std::env::var_os("FORGER_SHOW_FSCK").is_some() {
            eprintln!("{what}:\n{text}");
        }
        // fsck.fat exits 0 after some fixable findings too; it must report none.
        let findings: Vec<&str> = text
            .lines()
            .filter(|l| {
                let l = l.to_lowercase();
                [
                    "wrong", "dirty", "differ", "lost", "bad", "invalid", "unused",
                ]
                .iter()
                .any(|w| l.contains(w))
                    && !l.starts_with("checking")
            })
            .collect();
        assert!(findings.is_empty(), "{what}: fsck.fat -n findings:\n{text}");
        let blkid = run_ok(
            Command::new("blkid")
                .arg("-p")
                .arg("-O")
                .arg(start.to_string())
                .arg(&out),
        );
        assert!(
            blkid.contains(&format!("VERSION=\"{kind}\"")),
            "{what}: {blkid}"
        );
        let id = esp.volume_id();
        let uuid = format!("{:04X}-{:04X}", id >> 16, id & 0xffff);
        assert!(
            blkid.contains(&uuid),
            "{what}: volume id {uuid} not in {blkid}"
        );

        let img = format!("{}@@{start}", out.display());
        for (esp_path, want) in [
            (
                "::/EFI/BOOT/BOOTX64.EFI",
                staged_bytes(&tree, "/boot/loader64.efi"),
            ),
            (
                "::/EFI/BOOT/BOOTIA32.EFI",
                staged_bytes(&tree, "/boot/loader32.efi"),
            ),
            ("::/EFI/forger/deep/dir/config.txt", b"timeout=3\n".to_vec()),
            ("::/loader.conf", Vec::new()),
        ] {
            let copy = tmp.path().join("copy.bin");
            let _ = fs::remove_file(&copy);
            run_ok(
                mtools("mcopy")
                    .args(["-n", "-i", &img, esp_path])
                    .arg(&copy),
            );
            assert!(
                fs::read(&copy).expect("copy") == want,
                "{what}: mcopy {esp_path}"
            );
            let typed = run(mtools("mtype").args(["-i", &img, esp_path]));
            assert!(typed.status.success(), "{what}: mtype {esp_path}");
            assert!(
                typed.stdout == want,
                "{what}: mtype {esp_path} bytes differ"
            );
        }
        let listing = run_ok(mtools("mdir").args(["-/", "-b", "-i", &img, "::/"]));
        assert!(listing.contains("BOOTX64.EFI"), "{what}: {listing}");
    }
}

fn qemu_img_check(path: &Path, what: &str) {
    let out = run(Command::new("qemu-img")
        .args(["check", "--output=json"])
        .arg(path));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what}: qemu-img check failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&text).expect("check json");
    assert_eq!(json["check-errors"], 0, "{what}: {text}");
    assert!(
        json.get("leaks").is_none() || json["leaks"] == 0,
        "{what}: {text}"
    );
    assert!(
        json.get("corruptions").is_none() || json["corruptions"] == 0,
        "{what}: {text}"
    );
}

#[test]
fn disk_qcow2_passes_qemu_img_check_and_compare() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = illumos_tree(tmp.path(), false);
    let seed = Seed::new("qcow2-test");
    for ss in [512u32, 4096] {
        let esp_size = if ss == 512 { 64 * MIB } else { 272 * MIB };
        let layout = Layout::illumos(2048 * MIB, esp_size, ss).expect("layout");
        let esp = Esp::new(illumos_esp_files(&tree).expect("loaders"), ss, &seed)
            .with_epoch(1_700_000_000);
        let pattern = Pattern { tag: 3 };
        let contents = [
            PartitionContent {
                partition: 0,
                filesystem: &esp,
            },
            PartitionContent {
                partition: 1,
                filesystem: &pattern,
            },
        ];
        let raw = tmp.path().join(format!("d{ss}.raw"));
        disk::write(
            &layout,
            &contents,
            &tree,
            &raw,
            &WriteOptions::new(Format::Raw),
            &seed,
        )
        .expect("raw");
        for (compression, name) in [
            (Compression::None, "none"),
            (Compression::Zlib, "zlib"),
            (Compression::Zstd, "zstd"),
        ] {
            let what = format!("qcow2 {name} at {ss}");
            let q = tmp.path().join(format!("d{ss}-{name}.qcow2"));
            let report = disk::write(
                &layout,
                &contents,
                &tree,
                &q,
                &WriteOptions::new(Format::Qcow2 { compression }),
                &seed,
            )
            .expect("qcow2");
            let stats = report.qcow2.expect("stats");
            assert!(
                stats.zero_clusters >= 16,
                "{what}: zero clusters not skipped: {stats:?}"
            );
            if compression == Compression::None {
                assert_eq!(stats.compressed_clusters, 0, "{what}");
            } else {
                assert!(stats.compressed_clusters > 0, "{what}: nothing compressed");
                assert!(
                    stats.compressed_clusters < stats.data_clusters,
                    "{what}: noise compressed?"
                );
            }
            qemu_img_check(&q, &what);
            let info: serde_json::Value = serde_json::from_str(&run_ok(
                Command::new("qemu-img")
                    .args(["info", "--output=json"])
                    .arg(&q),
            ))
            .expect("info json");
            assert_eq!(info["format"], "qcow2", "{what}");
            assert_eq!(info["virtual-size"], layout.disk_size(), "{what}");
            assert_eq!(info["cluster-size"], 65536, "{what}");
            let spec = &info["format-specific"]["data"];
            assert_eq!(spec["compat"], "1.1", "{what}");
            let want_type = if compression == Compression::Zstd {
                "zstd"
            } else {
                "zlib"
            };
            assert_eq!(spec["compression-type"], want_type, "{what}");
            let cmp = run(Command::new("qemu-img")
                .args(["compare", "-f", "raw", "-F", "qcow2"])
                .arg(&raw)
                .arg(&q));
            assert!(
                cmp.status.success(),
                "{what}: qemu-img compare: {}{}",
                String::from_utf8_lossy(&cmp.stdout),
                String::from_utf8_lossy(&cmp.stderr)
            );
        }
    }
}

#[test]
fn disk_builds_are_byte_identical() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let seed = Seed::for_target("img", "1.0", "qcow2");
    let mut digests = Vec::new();
    for round in 0..2 {
        let dir = tmp.path().join(format!("round{round}"));
        fs::create_dir_all(&dir).expect("dir");
        let tree = illumos_tree(&dir, true);
        let layout = Layout::illumos(192 * MIB, 64 * MIB, 512).expect("layout");
        let esp = Esp::new(illumos_esp_files(&tree).expect("loaders"), 512, &seed)
            .with_epoch(1_700_000_000);
        let pattern = Pattern { tag: 9 };
        let contents = [
            PartitionContent {
                partition: 0,
                filesystem: &esp,
            },
            PartitionContent {
                partition: 1,
                filesystem: &pattern,
            },
        ];
        let mut opts = WriteOptions::new(Format::Raw);
        opts.illumos_bios = Some(IllumosBiosBoot::new(1));
        let raw = dir.join("disk.raw");
        disk::write(&layout, &contents, &tree, &raw, &opts, &seed).expect("raw");
        opts.format = Format::Qcow2 {
            compression: Compression::Zstd,
        };
        let q = dir.join("disk.qcow2");
        disk::write(&layout, &contents, &tree, &q, &opts, &seed).expect("qcow2");
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .expect("ls")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        digests.push((sha(&raw), sha(&q)));
    }
    assert_eq!(digests[0], digests[1], "two builds differ");
}

fn sha(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut f = fs::File::open(path).expect("open");
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).expect("hash");
    hex::encode(h.finalize())
}

#[test]
fn disk_illumos_bios_boot_fields_read_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = illumos_tree(tmp.path(), true);
    let seed = Seed::new("bios-test");
    let layout = Layout::illumos(1024 * MIB, 256 * MIB, 512).expect("layout");
    let mut opts = WriteOptions::new(Format::Raw);
    opts.illumos_bios = Some(IllumosBiosBoot::new(1));
    let out = tmp.path().join("bios.raw");
    disk::write(&layout, &[], &tree, &out, &opts, &seed).expect("write");
    // The partition table is intact for real readers.
    check_table(&out, &layout, &seed, "bios");

    let f = fs::File::open(&out).expect("open");
    let mut lba0 = [0u8; 512];
    f.read_exact_at(&mut lba0, 0).expect("read");
    let pmbr = synthetic_pmbr();
    let stage2 = synthetic_stage2();
    let zfs = &layout.partitions()[1];
    // Stage 1 code kept, BPB and table from the protective MBR.
    assert_eq!(&lba0[..3], &pmbr[..3]);
    assert!(
        lba0[0x3..0x3e].iter().all(|&b| b == 0),
        "BPB not taken from the protective MBR"
    );
    assert_eq!(&lba0[0x3e..0xfc], &pmbr[0x3e..0xfc]);
    assert_eq!(lba0[0x1be + 4], 0xee, "protective partition type");
    assert_eq!(
        u32::from_le_bytes(lba0[0x1be + 8..0x1be + 12].try_into().expect("4")),
        1
    );
    assert_eq!(&lba0[0x1fe..], &[0x55, 0xaa]);
    // Patched fields.
    let size = u16::from_le_bytes(lba0[disk::STAGE1_STAGE2_SIZE..][..2].try_into().expect("2"));
    assert_eq!(u64::from(size), (stage2.len() as u64).div_ceil(512));
    let lba = u64::from_le_bytes(lba0[disk::STAGE1_STAGE2_LBA..][..8].try_into().expect("8"));
    assert_eq!(lba, zfs.first_lba + 1024);
    let id = &lba0[disk::STAGE1_STAGE2_UUID..disk::STAGE1_STAGE2_UUID + 16];
    assert!(id.iter().any(|&b| b != 0), "stage-2 id is zero");
    assert_eq!(
        id,
        &Seed::new("bios-test").bytes("disk/illumos/stage2-id")[..16]
    );
    // Stage 2 in the boot area, partition start in bss_end_addr.
    let mut got = vec![0u8; stage2.len()];
    f.read_exact_at(&mut got, lba * 512).expect("read stage 2");
    let mb = disk::multiboot_header(&got).expect("multiboot header");
    assert_eq!(mb, 0x40);
    assert_eq!(
        u64::from_le_bytes(got[mb + 24..mb + 32].try_into().expect("8")),
        zfs.first_lba
    );
    assert_eq!(&got[..mb + 24], &stage2[..mb + 24]);
    assert_eq!(&got[mb + 32..], &stage2[mb + 32..]);
}

#[test]
fn disk_bad_input_is_refused_before_writing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let seed = Seed::new("bad");
    let empty = StagingTree::create(tmp.path().join("empty")).expect("tree");
    let layout = Layout::illumos(1024 * MIB, 64 * MIB, 512).expect("layout");
    let out = tmp.path().join("bad.raw");

    // A missing loader, named.
    match illumos_esp_files(&empty) {
        Err(disk::Error::MissingBootFile { path }) => assert_eq!(path, "/boot/loader64.efi"),
        other => panic!("expected MissingBootFile, got {other:?}"),
    }
    let esp = Esp::new(
        vec![EspFile {
            path: "EFI/BOOT/BOOTX64.EFI".into(),
            source: EspSource::Staged(StagePath::new("/boot/loader64.efi").expect("p")),
        }],
        512,
        &seed,
    );
    let err = disk::write(
        &layout,
        &[PartitionContent {
            partition: 0,
            filesystem: &esp,
        }],
        &empty,
        &out,
        &WriteOptions::new(Format::Raw),
        &seed,
    )
    .expect_err("missing loader");
    assert!(err.to_string().contains("/boot/loader64.efi"), "{err}");
    assert!(!out.exists());

    // BIOS boot blocks missing.
    let mut opts = WriteOptions::new(Format::Raw);
    opts.illumos_bios = Some(IllumosBiosBoot::new(1));
    let err = disk::write(&layout, &[], &empty, &out, &opts, &seed).expect_err("no pmbr");
    assert!(err.to_string().contains("/boot/pmbr"), "{err}");
    assert!(!out.exists());

    // A content index the layout does not have.
    let pattern = Pattern { tag: 1 };
    let err = disk::write(
        &layout,
        &[PartitionContent {
            partition: 7,
            filesystem: &pattern,
        }],
        &empty,
        &out,
        &WriteOptions::new(Format::Raw),
        &seed,
    )
    .expect_err("bad index");
    assert!(matches!(
        err,
        forger::Error::Disk(disk::Error::NoSuchPartition { index: 7, count: 3 })
    ));
    assert!(!out.exists());

    // A writer that runs past its partition.
    let err = disk::write(
        &layout,
        &[PartitionContent {
            partition: 0,
            filesystem: &Overflow,
        }],
        &empty,
        &out,
        &WriteOptions::new(Format::Qcow2 {
            compression: Compression::None,
        }),
        &seed,
    )
    .expect_err("overflow");
    assert!(
        matches!(err, forger::Error::Disk(disk::Error::PastEnd { .. })),
        "{err}"
    );
    assert!(!out.exists());

    // An ESP too small for FAT32 at 4096-byte sectors, when FAT32 is required.
    let esp32 = Esp::new(Vec::new(), 4096, &seed).with_kind(EspKind::Fat32);
    match esp32.plan(256 * MIB) {
        Err(disk::Error::EspTooSmall { kind, needed, .. }) => {
            assert_eq!(kind, "FAT32");
            assert!(needed > 256 * MIB);
        }
        other => panic!("expected EspTooSmall, got {other:?}"),
    }
    assert!(matches!(
        Esp::new(Vec::new(), 512, &seed).plan(MIB),
        Err(disk::Error::EspTooSmall { kind: "FAT16", .. })
    ));
    // A disk smaller than its content says by how much.
    match Layout::linux(300 * MIB, 512 * MIB, 512, true) {
        Err(disk::Error::DiskTooSmall { missing_bytes, .. }) => assert!(missing_bytes > 200 * MIB),
        other => panic!("expected DiskTooSmall, got {other:?}"),
    }
    let n = fs::read_dir(tmp.path()).expect("ls").count();
    assert_eq!(n, 1, "only the staging dir may exist");
}

/// The readers used above do catch damage: a flipped byte in the primary partition array
/// makes `sgdisk -v` report a problem, and a cleared refcount makes `qemu-img check` fail.
#[test]
fn disk_checks_catch_corruption() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = StagingTree::create(tmp.path().join("stage")).expect("tree");
    let seed = Seed::new("corrupt");
    let layout = Layout::linux(256 * MIB, 64 * MIB, 512, true).expect("layout");
    let pattern = Pattern { tag: 5 };
    let contents = [PartitionContent {
        partition: 2,
        filesystem: &pattern,
    }];
    let raw = tmp.path().join("c.raw");
    disk::write(
        &layout,
        &contents,
        &tree,
        &raw,
        &WriteOptions::new(Format::Raw),
        &seed,
    )
    .expect("raw");
    let f = fs::OpenOptions::new().write(true).open(&raw).expect("open");
    f.write_all_at(&[0x5a], 1024 + 40).expect("flip");
    let out = run_ok(Command::new("sgdisk").arg("-v").arg(&raw));
    assert!(
        !out.lines().any(|l| l.starts_with("No problems found")),
        "sgdisk missed a corrupt array:\n{out}"
    );

    let q = tmp.path().join("c.qcow2");
    disk::write(
        &layout,
        &contents,
        &tree,
        &q,
        &WriteOptions::new(Format::Qcow2 {
            compression: Compression::Zstd,
        }),
        &seed,
    )
    .expect("qcow2");
    let mut header = [0u8; 64];
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&q)
        .expect("open");
    f.read_exact_at(&mut header, 0).expect("header");
    let rt = u64::from_be_bytes(header[48..56].try_into().expect("8"));
    let mut first_block = [0u8; 8];
    f.read_exact_at(&mut first_block, rt).expect("reftable");
    let rb = u64::from_be_bytes(first_block);
    // Refcount of the header cluster: 1 → 0.
    f.write_all_at(&[0, 0], rb).expect("clear");
    let check = run(Command::new("qemu-img").arg("check").arg(&q));
    assert!(
        !check.status.success(),
        "qemu-img check missed a cleared refcount"
    );
}

/// A raw size that is not a whole number of clusters, data in the partial last cluster and
/// across a 512 MiB L2 boundary: `qemu-img compare` sees the same bytes for every mode.
#[test]
fn disk_qcow2_odd_size_and_region_boundary() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let raw = tmp.path().join("odd.raw");
    let size = 600 * MIB + 3 * 4096 + 512;
    let f = fs::File::create(&raw).expect("create");
    f.set_len(size).expect("len");
    f.write_all_at(&noise(200_000, 11), 512 * MIB - 100_000)
        .expect("boundary");
    f.write_all_at(&[0xabu8; 5000], size - 5000).expect("tail");
    f.write_all_at(&vec![b'x'; 300_000], 4096).expect("head");
    drop(f);
    // And a 100 GiB sparse disk: many L1 entries, few L2 tables.
    let big = tmp.path().join("big.raw");
    let f = fs::File::create(&big).expect("create");
    f.set_len(100 << 30).expect("len");
    for at in [0u64, 37 << 30, (100 << 30) - 70_000] {
        f.write_all_at(&noise(70_000, at as u32 | 1), at)
            .expect("write");
    }
    drop(f);
    let q = tmp.path().join("big.qcow2");
    let stats = disk::raw_to_qcow2(&big, &q, Compression::None).expect("convert");
    assert!(stats.file_size < 4 * MIB, "{stats:?}");
    qemu_img_check(&q, "100 GiB");
    run_ok(
        Command::new("qemu-img")
            .args(["compare", "-f", "raw", "-F", "qcow2"])
            .arg(&big)
            .arg(&q),
    );
    for (compression, name) in [
        (Compression::None, "none"),
        (Compression::Zlib, "zlib"),
        (Compression::Zstd, "zstd"),
    ] {
        let q = tmp.path().join(format!("odd-{name}.qcow2"));
        disk::raw_to_qcow2(&raw, &q, compression).expect("convert");
        qemu_img_check(&q, name);
        let cmp = run(Command::new("qemu-img")
            .args(["compare", "-f", "raw", "-F", "qcow2"])
            .arg(&raw)
            .arg(&q));
        assert!(
            cmp.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&cmp.stdout)
        );
    }
}

/// UEFI firmware (OVMF under QEMU/TCG) boots a GRUB standalone image from our ESP on our GPT,
/// raw and QCOW2 (zstd), and GRUB's own FAT driver reads a file back. Slow under TCG, so it
/// runs only with `FORGER_SLOW_TESTS=1`.
#[test]
fn disk_uefi_firmware_boots_from_our_esp() {
    if std::env::var_os("FORGER_SLOW_TESTS").is_none() {
        eprintln!("skipped: set FORGER_SLOW_TESTS=1 to boot OVMF in QEMU");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("grub.cfg");
    fs::write(
        &cfg,
        "serial --unit=0 --speed=115200\nterminal_output serial\n\
         echo \"MARKER: grub-efi reached\"\ncat (hd0,gpt2)/EFI/forger/marker.txt\nhalt\n",
    )
    .expect("cfg");
    let grub = tmp.path().join("grubx64.efi");
    run_ok(
        Command::new("grub-mkstandalone")
            .args(["-O", "x86_64-efi", "--locales=", "--fonts=", "--themes="])
            .arg("--install-modules=normal echo halt serial terminal configfile part_gpt fat cat")
            .arg("--modules=serial terminal echo halt part_gpt fat cat")
            .arg("-o")
            .arg(&grub)
            .arg(format!("boot/grub/grub.cfg={}", cfg.display())),
    );
    let tree = StagingTree::create(tmp.path().join("stage")).expect("tree");
    let seed = Seed::new("uefi-boot");
    let layout = Layout::linux(256 * MIB, 64 * MIB, 512, true).expect("layout");
    let (start, _) = layout.byte_range(1).expect("esp");
    let esp = Esp::new(
        vec![
            EspFile {
                path: "EFI/BOOT/BOOTX64.EFI".into(),
                source: EspSource::Host(grub.clone()),
            },
            EspFile {
                path: "EFI/forger/marker.txt".into(),
                source: EspSource::Bytes(b"FORGER-ESP-FILE-OK\n".to_vec()),
            },
        ],
        512,
        &seed,
    )
    .with_partition_offset(start);
    let contents = [PartitionContent {
        partition: 1,
        filesystem: &esp,
    }];
    for (format, fmt_name) in [
        (Format::Raw, "raw"),
        (
            Format::Qcow2 {
                compression: Compression::Zstd,
            },
            "qcow2",
        ),
    ] {
        let img = tmp.path().join(format!("boot.{fmt_name}"));
        disk::write(
            &layout,
            &contents,
            &tree,
            &img,
            &WriteOptions::new(format),
            &seed,
        )
        .expect("write");
        let out = run(Command::new("timeout")
            .arg("240")
            .args([
                "qemu-system-x86_64",
                "-machine",
                "q35",
                "-accel",
                "tcg",
                "-m",
                "512",
            ])
            .args(["-nographic", "-no-reboot", "-net", "none"])
            .args(["-bios", "/usr/share/ovmf/OVMF.fd", "-drive"])
            .arg(format!(
                "if=virtio,format={fmt_name},snapshot=on,file={}",
                img.display()
            )));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("MARKER: grub-efi reached") && text.contains("FORGER-ESP-FILE-OK"),
            "{fmt_name}: firmware did not boot our ESP (status {}):\n{}",
            out.status,
            text.chars()
                .rev()
                .take(3000)
                .collect::<String>()
                .chars()
                .rev()
                .collect::<String>()
        );
    }
}
