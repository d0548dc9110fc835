//! GRUB on Linux disks, from a root assembled from the HOST's GRUB modules
//! (`grub-efi-amd64-bin`, `grub-pc-bin`) and a dummy kernel: the GPT's BIOS boot partition
//! (sgdisk -v, sfdisk --json), the ESP's `BOOTX64.EFI` and `grub.cfg` (fsck.fat -n, mtools),
//! `/boot/grub/grub.cfg` in the ext4 root (e2fsck -fn, debugfs), the fields patched into
//! `boot.img` and `core.img` read back against what the disk says, byte-identical rebuilds,
//! the prebuilt signed image as the UEFI fallback, and the errors naming the package to
//! add. The dummy kernel cannot boot, but GRUB itself
//! can: with FORGER_SLOW_TESTS=1 the disk is started under SeaBIOS and OVMF and GRUB must
//! print its menu entry's `Loading Linux` line, read from the ext4 root (BIOS) or the ESP
//! (UEFI).

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use forger::boot::{Error, GrubBoot, LinuxBoot};
use forger::build::{BuildOptions, NoEvents, build};
use forger::disk::{BOOT_DRIVE, BOOT_KERNEL_SECTOR, CORE_BLOCKLIST, CORE_LOAD_SEGMENT};
use forger::model::*;
use forger::plan::PlanOptions;
use forger::stage::StagingTree;

use crate::util::{run, run_ok};

const VERSION: &str = "6.1.0-99-amd64";

/// A root with the host's GRUB module directories, a dummy kernel and initrd.
fn host_grub_root(root: &Path, efi: bool, bios: bool) {
    for (on, dir) in [
        (efi, "usr/lib/grub/x86_64-efi"),
        (bios, "usr/lib/grub/i386-pc"),
    ] {
        if !on {
            continue;
        }
        let host = Path::new("/").join(dir);
        assert!(
            host.join("kernel.img").is_file(),
            "{} is missing (install grub-efi-amd64-bin and grub-pc-bin: scripts/install-test-deps.sh)",
            host.display()
        );
        fs::create_dir_all(root.join(dir)).unwrap();
        for e in fs::read_dir(&host).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                fs::copy(e.path(), root.join(dir).join(e.file_name())).unwrap();
            }
        }
    }
    fs::create_dir_all(root.join("boot")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join(format!("boot/vmlinuz-{VERSION}")),
        b"not a kernel",
    )
    .unwrap();
    fs::write(
        root.join(format!("boot/initrd.img-{VERSION}")),
        b"not an initrd",
    )
    .unwrap();
}

fn image(bootloader: Bootloader) -> Image {
    Image::builder()
        .metadata(Metadata::builder().name("grub-test").version("1").build())
        .distro(Distro::Debian("12".into()))
        .content(Fragment::builder().build())
        .targets(vec![Target::raw(
            "disk",
            DiskTarget::builder()
                .disk_size(Size::mib(640))
                .bootloader(bootloader)
                .layout(DiskLayout::builder().esp_size(Size::mib(64)).build())
                .build(),
        )])
        .build()
}

fn build_disk(rootfs: &Path, out: &Path, bootloader: Bootloader) -> forger::Result<PathBuf> {
    let options = BuildOptions {
        plan: PlanOptions {
            epoch: 1_700_000_000,
            ..Default::default()
        },
        out_dir: out.to_path_buf(),
        skip_push: true,
        output_name: None,
        rootfs: Some(rootfs.to_path_buf()),
        cache: None,
        ..Default::default()
    };
    let report = build(&image(bootloader), &options, &mut NoEvents)?;
    Ok(report.outputs[0].path.clone())
}

fn extract(disk: &Path, start: u64, sectors: u64, to: &Path) {
    run_ok(
        Command::new("dd")
            .arg(format!("if={}", disk.display()))
            .arg(format!("of={}", to.display()))
            .arg("bs=512")
            .arg(format!("skip={start}"))
            .arg(format!("count={sectors}"))
            .arg("conv=sparse")
            .arg("status=none"),
    );
}

fn mtools(cmd: &str) -> Command {
    let mut c = Command::new(cmd);
    c.env("MTOOLS_SKIP_CHECK", "1");
    c
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}

/// The partitions as sfdisk reads them: (number, type, start, size, name).
fn partitions(disk: &Path) -> Vec<(usize, String, u64, u64, String)> {
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new("sfdisk").arg("--json").arg(disk))).unwrap();
    assert_eq!(json["partitiontable"]["label"], "gpt");
    json["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                i + 1,
                p["type"].as_str().unwrap().to_owned(),
                p["start"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
                p["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn grub_both_disk_has_bios_partition_esp_loader_and_patched_boot_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    host_grub_root(&root, true, true);
    let disk = build_disk(&root, &tmp.path().join("out-a"), Bootloader::Both).unwrap();

    let verify = run_ok(Command::new("sgdisk").arg("-v").arg(&disk));
    assert!(verify.contains("No problems found"), "{verify}");
    let parts = partitions(&disk);
    let types: Vec<&str> = parts.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(
        types,
        [
            "21686148-6449-6E6F-744E-656564454649",
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
        ]
    );
    let (bios, esp, rootp) = (&parts[0], &parts[1], &parts[2]);
    assert_eq!(
        (bios.2, bios.3),
        (2048, 2048),
        "1 MiB BIOS boot partition at 1 MiB"
    );

    // The ext4 root: its UUID is what every configuration names.
    let root_img = tmp.path().join("root.ext4");
    extract(&disk, rootp.2, rootp.3, &root_img);
    run_ok(Command::new("e2fsck").arg("-fn").arg(&root_img));
    let dump = run_ok(Command::new("dumpe2fs").arg("-h").arg(&root_img));
    let uuid = dump
        .lines()
        .find_map(|l| l.strip_prefix("Filesystem UUID:"))
        .unwrap()
        .trim()
        .to_owned();
    let bios_cfg = run_ok(
        Command::new("debugfs")
            .arg("-R")
            .arg("cat /boot/grub/grub.cfg")
            .arg(&root_img),
    );
    let entry = format!(
        "search --no-floppy --fs-uuid --set=root {uuid}\nmenuentry 'debian' {{\n\
         \techo 'Loading Linux {VERSION} ...'\n\
         \tlinux /boot/vmlinuz-{VERSION} root=UUID={uuid} rw console=ttyS0\n\
         \tinitrd /boot/initrd.img-{VERSION}\n}}\n"
    );
    assert!(bios_cfg.ends_with(&entry), "{bios_cfg}");
    assert!(
        bios_cfg.contains("terminal_output serial console\n"),
        "{bios_cfg}"
    );
    assert!(bios_cfg.contains("set timeout=0\n"), "{bios_cfg}");
    let fstab = run_ok(
        Command::new("debugfs")
            .arg("-R")
            .arg("cat /etc/fstab")
            .arg(&root_img),
    );
    assert!(fstab.contains(&format!("UUID={uuid} / ext4")), "{fstab}");

    // The ESP: fsck.fat finds nothing, GRUB's EFI image and its menu are at the fallback path.
    let esp_img = tmp.path().join("esp.fat");
    extract(&disk, esp.2, esp.3, &esp_img);
    let fsck = run(Command::new("fsck.fat").arg("-n").arg(&esp_img));
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    let img = format!("{}@@{}", disk.display(), esp.2 * 512);
    let efi_cfg = run_ok(mtools("mtype").args(["-i", &img, "::/EFI/BOOT/grub.cfg"]));
    assert!(efi_cfg.ends_with(&entry), "{efi_cfg}");
    assert!(!efi_cfg.contains("serial"), "{efi_cfg}");
    let loader = tmp.path().join("BOOTX64.EFI");
    run_ok(
        mtools("mcopy")
            .args(["-n", "-i", &img, "::/EFI/BOOT/BOOTX64.EFI"])
            .arg(&loader),
    );
    let pe = fs::read(&loader).unwrap();
    assert_eq!(&pe[..2], b"MZ");
    let pe_at = u32::from_le_bytes(pe[0x3c..0x40].try_into().unwrap()) as usize;
    assert_eq!(&pe[pe_at..pe_at + 4], b"PE\0\0");
    assert_eq!(u16_at(&pe, pe_at + 4), 0x8664, "an x86-64 PE image");
    assert_eq!(
        u16_at(&pe, pe_at + 24 + 68),
        10,
        "subsystem EFI application"
    );

    // LBA 0: boot.img's code with the protective MBR's table kept and core.img's LBA.
    let f = fs::File::open(&disk).unwrap();
    let mut mbr = [0u8; 512];
    f.read_exact_at(&mut mbr, 0).unwrap();
    let host_boot = fs::read("/usr/lib/grub/i386-pc/boot.img").unwrap();
    assert_eq!(&mbr[..3], &host_boot[..3], "boot.img's jump");
    assert_eq!(
        &mbr[0x68..0x1b8],
        &host_boot[0x68..0x1b8],
        "boot.img's code"
    );
    assert_eq!(&mbr[0x1fe..], [0x55, 0xaa]);
    assert_eq!(mbr[0x1be + 4], 0xee, "protective MBR entry kept");
    assert_eq!(u64_at(&mbr, BOOT_KERNEL_SECTOR), bios.2, "core.img LBA");
    assert_eq!(mbr[BOOT_DRIVE], 0xff);

    // core.img: diskboot.img's block list covers exactly the sectors that follow, which
    // hold the rest of core.img; the sector after them is still zero.
    let mut first = [0u8; 512];
    f.read_exact_at(&mut first, bios.2 * 512).unwrap();
    let (start, len) = (
        u64_at(&first, CORE_BLOCKLIST),
        u64::from(u16_at(&first, CORE_BLOCKLIST + 8)),
    );
    assert_eq!(start, bios.2 + 1);
    assert_eq!(u16_at(&first, CORE_BLOCKLIST + 10), CORE_LOAD_SEGMENT);
    assert!(
        first[CORE_BLOCKLIST - 12..CORE_BLOCKLIST]
            .iter()
            .all(|&b| b == 0)
    );
    assert!(len > 10 && start + len <= bios.2 + bios.3, "{len} sectors");
    let mut sector = [0u8; 512];
    f.read_exact_at(&mut sector, (start + len - 1) * 512)
        .unwrap();
    assert!(
        sector.iter().any(|&b| b != 0),
        "last listed sector has data"
    );
    f.read_exact_at(&mut sector, (start + len) * 512).unwrap();
    assert!(sector.iter().all(|&b| b == 0), "nothing after core.img");
    // The early configuration grub-mkimage embedded names the root by UUID.
    let mut core = vec![0u8; (len as usize + 1) * 512];
    f.read_exact_at(&mut core, bios.2 * 512).unwrap();
    drop(f);

    // The same inputs give the same bytes.
    let again = build_disk(&root, &tmp.path().join("out-b"), Bootloader::Both).unwrap();
    assert!(
        fs::read(&disk).unwrap() == fs::read(&again).unwrap(),
        "two builds differ"
    );

    if forger_slow_tests() {
        boot_to_grub_menu(&disk, tmp.path(), &[false, true]);
    }
}

fn forger_slow_tests() -> bool {
    let on = std::env::var("FORGER_SLOW_TESTS").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("GRUB QEMU check: skipped (set FORGER_SLOW_TESTS=1 to run it)");
    }
    on
}

/// Starts the disk under SeaBIOS and/or OVMF (`uefis`); GRUB must reach the menu entry
/// (which it reads after finding the root by UUID) and try the dummy kernel.
fn boot_to_grub_menu(disk: &Path, dir: &Path, uefis: &[bool]) {
    let marker = format!("Loading Linux {VERSION} ...");
    for &uefi in uefis {
        let mut qemu = Command::new("qemu-system-x86_64");
        qemu.args([
            "-machine",
            "q35",
            "-accel",
            "tcg",
            "-m",
            "256",
            "-nographic",
            "-no-reboot",
            "-net",
            "none",
        ]);
        if uefi {
            let vars = dir.join("vars.fd");
            fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).unwrap();
            qemu.arg("-drive")
                .arg("if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
                .arg("-drive")
                .arg(format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    vars.display()
                ));
        }
        qemu.arg("-drive").arg(format!(
            "if=virtio,format=raw,file={},snapshot=on",
            disk.display()
        ));
        let text = console_until(&mut qemu, &[&marker, "error: "], 60);
        assert!(
            text.contains(&marker),
            "{}: no `{marker}` on the console:\n{}",
            if uefi { "OVMF" } else { "SeaBIOS" },
            text.chars()
                .skip(text.chars().count().saturating_sub(4000))
                .collect::<String>()
        );
    }
}

/// Runs `cmd` (a VM with its serial console on stdout) until every marker has been printed
/// or `secs` seconds pass, then kills it; returns what it printed.
fn console_until(cmd: &mut Command, markers: &[&str], secs: u64) -> String {
    use std::io::Read;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start qemu");
    let mut out = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut raw = Vec::new();
    while std::time::Instant::now() < deadline {
        if let Ok(chunk) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            raw.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&raw);
        if markers.iter().all(|m| text.contains(m)) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    String::from_utf8_lossy(&raw).into_owned()
}

#[test]
fn grub_efi_only_and_bios_only_disks() {
    let tmp = tempfile::tempdir().unwrap();
    // `grub`: no BIOS boot partition, GRUB on the ESP, no BIOS boot code in LBA 0.
    let efi_root = tmp.path().join("efi-root");
    host_grub_root(&efi_root, true, false);
    let disk = build_disk(&efi_root, &tmp.path().join("out-efi"), Bootloader::Grub).unwrap();
    run_ok(Command::new("sgdisk").arg("-v").arg(&disk));
    let parts = partitions(&disk);
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[0].1, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    let img = format!("{}@@{}", disk.display(), parts[0].2 * 512);
    let listing = run_ok(mtools("mdir").args(["-/", "-b", "-i", &img, "::/"]));
    assert!(listing.contains("::/EFI/BOOT/BOOTX64.EFI"), "{listing}");
    assert!(listing.contains("::/EFI/BOOT/grub.cfg"), "{listing}");
    let mut mbr = [0u8; 512];
    fs::File::open(&disk)
        .unwrap()
        .read_exact_at(&mut mbr, 0)
        .unwrap();
    assert!(mbr[..0x1b8].iter().all(|&b| b == 0), "no boot code");

    // `bios`: BIOS boot partition and boot blocks, an empty ESP that fsck.fat accepts.
    let bios_root = tmp.path().join("bios-root");
    host_grub_root(&bios_root, false, true);
    let disk = build_disk(&bios_root, &tmp.path().join("out-bios"), Bootloader::Bios).unwrap();
    run_ok(Command::new("sgdisk").arg("-v").arg(&disk));
    let parts = partitions(&disk);
    assert_eq!(parts[0].1, "21686148-6449-6E6F-744E-656564454649");
    let esp_img = tmp.path().join("esp.fat");
    extract(&disk, parts[1].2, parts[1].3, &esp_img);
    run_ok(Command::new("fsck.fat").arg("-n").arg(&esp_img));
    let img = format!("{}@@{}", disk.display(), parts[1].2 * 512);
    // mdir -b exits 1 on an empty root; the listing is what matters.
    let listing = run(mtools("mdir").args(["-/", "-b", "-i", &img, "::/"]));
    assert!(listing.stdout.is_empty(), "{listing:?}");
    run_ok(mtools("minfo").args(["-i", &img, "::"]));
    fs::File::open(&disk)
        .unwrap()
        .read_exact_at(&mut mbr, 0)
        .unwrap();
    assert_eq!(u64_at(&mbr, BOOT_KERNEL_SECTOR), parts[0].2);
}

/// Debian's prebuilt UEFI GRUB, extracted by scripts/install-test-deps.sh.
const SIGNED_FIXTURE: &str = "/usr/local/share/forger-test/grubx64.efi.signed";

#[test]
fn grub_signed_image_is_the_uefi_fallback() {
    let signed = fs::read(SIGNED_FIXTURE)
        .unwrap_or_else(|e| panic!("{SIGNED_FIXTURE}: {e} (run scripts/install-test-deps.sh)"));
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    host_grub_root(&root, false, false);
    let dir = root.join("usr/lib/grub/x86_64-efi-signed");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("grubx64.efi.signed"), &signed).unwrap();
    let disk = build_disk(&root, &tmp.path().join("out"), Bootloader::Grub).unwrap();
    let parts = partitions(&disk);
    let img = format!("{}@@{}", disk.display(), parts[0].2 * 512);
    let loader = tmp.path().join("BOOTX64.EFI");
    run_ok(
        mtools("mcopy")
            .args(["-n", "-i", &img, "::/EFI/BOOT/BOOTX64.EFI"])
            .arg(&loader),
    );
    assert!(
        fs::read(&loader).unwrap() == signed,
        "the prebuilt image as is"
    );
    let cfg = run_ok(mtools("mtype").args(["-i", &img, "::/EFI/BOOT/grub.cfg"]));
    assert!(
        cfg.contains(&format!("linux /boot/vmlinuz-{VERSION} root=UUID=")),
        "{cfg}"
    );
    if forger_slow_tests() {
        boot_to_grub_menu(&disk, tmp.path(), &[true]);
    }
}

#[test]
fn grub_missing_modules_name_the_package() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    host_grub_root(&root, false, false);
    let mut tree = StagingTree::create(tmp.path().join("stage")).unwrap();
    tree.import_dir(&root).unwrap();
    let grub = GrubBoot::new(LinuxBoot::new(
        "debian",
        "0b4f5e2c-1111-4222-8333-444455556666",
    ));
    match grub.esp_files(&tree) {
        Err(Error::NoGrubModules { package, .. }) => assert_eq!(package, "grub-efi-amd64-bin"),
        other => panic!("expected NoGrubModules, got {other:?}"),
    }
    match grub.bios_images(&mut tree, 3, 0) {
        Err(Error::NoGrubModules { package, .. }) => assert_eq!(package, "grub-pc-bin"),
        other => panic!("expected NoGrubModules, got {other:?}"),
    }
    let err = build_disk(&root, &tmp.path().join("out"), Bootloader::Grub).unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("grub-efi-amd64-bin"), "{text}");
}

/// Stage starts and ends in the order the build reports them.
#[derive(Default)]
struct Order(Vec<String>);

impl forger::build::Events for Order {
    fn stage_start(&mut self, stage: &str, _: &str) {
        self.0.push(format!("start {stage}"));
    }
    fn stage_done(&mut self, stage: &str, _: std::time::Duration) {
        self.0.push(format!("done {stage}"));
    }
    fn warning(&mut self, _: &str, _: &str) {}
    fn output(&mut self, _: &str, _: &Path) {}
    fn cache(&mut self, _: &str, _: forger::cache::Lookup) {}
}

/// A disk and a tarball are written at the same time. The disk target's `/etc/fstab` belongs
/// to that disk: the tarball does not get it, and stays the same whether the disk target ran
/// or came from the stage cache.
#[test]
fn grub_disk_and_tarball_are_written_side_by_side_and_disk_files_stay_on_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    host_grub_root(&rootfs, true, false);
    let cache = forger::cache::Cache::new(tmp.path().join("cache"));
    let build_both = |tar: Compression, out: &str| {
        let mut img = image(Bootloader::Grub);
        img.targets.push(Target {
            kind: TargetKind::Artifact(ArtifactTarget { compression: tar }),
            ..Target::artifact("rootfs")
        });
        let options = BuildOptions {
            plan: PlanOptions {
                epoch: 1_700_000_000,
                ..Default::default()
            },
            out_dir: tmp.path().join(out),
            skip_push: true,
            rootfs: Some(rootfs.clone()),
            cache: Some(cache.clone()),
            ..Default::default()
        };
        let mut order = Order::default();
        let report = build(&img, &options, &mut order).unwrap();
        let listing = run_ok(Command::new("tar").arg("-tvf").arg(&report.outputs[1].path));
        (report.outputs[0].path.clone(), listing, order.0)
    };
    // Cold: both targets run, side by side (both start before either ends).
    let (disk, listing, order) = build_both(Compression::Gzip, "a");
    let targets: Vec<&str> = order
        .iter()
        .filter(|e| e.contains("target:"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        targets,
        [
            "start target:disk",
            "start target:rootfs",
            "done target:disk",
            "done target:rootfs"
        ]
    );
    let root = partitions(&disk)
        .into_iter()
        .find(|p| p.4 == "root")
        .unwrap();
    let root_img = tmp.path().join("root.ext4");
    extract(&disk, root.2, root.3, &root_img);
    let fstab = run_ok(
        Command::new("debugfs")
            .arg("-R")
            .arg("cat /etc/fstab")
            .arg(&root_img),
    );
    assert!(fstab.contains(" / ext4 "), "{fstab}");
    assert!(!listing.contains("etc/fstab"), "{listing}");
    // Warm with another tarball compression: the disk is a cache hit, the tarball is built
    // again, with the same entries.
    let (_, again, _) = build_both(Compression::Zstd, "b");
    assert_eq!(listing, again);
}
