//! The corpus spec `ubuntu-rust-ci.kdl`, built verbatim by the `forger` binary on a machine
//! that reaches only Debian's archive: the APT mirror override (`--apt-mirror`, `--apt-suite`,
//! `--apt-keyring`) points it at the host's Debian mirror, plus a small signed local APT
//! repository made here that provides `linux-image-generic` (Ubuntu's kernel metapackage,
//! which Debian does not have) as a metapackage depending on Debian's `linux-image-amd64` —
//! what a user with a Debian mirror would add as a second repository. The QCOW2 is checked
//! by `qemu-img check`, its raw form by `sgdisk -v`, the partitions by `fsck.fat -n` and
//! `e2fsck -fn`, and the image's APT sources must name the override mirrors.
//!
//! Slow (installs rustc, cargo, build-essential, a kernel): runs with FORGER_SLOW_TESTS=1.
//! Downloaded `.deb`s are kept in `target/tmp/ubuntu-corpus-debs` between runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use forger_workspace::{host_debian_mirror, run_ok, slow_tests_enabled};

/// The suite of the host's Debian mirror the spec is built against.
const SUITE: &str = "bookworm";
const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

fn corpus_spec() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("kdl-compat/tests/corpus/ubuntu-rust-ci.kdl")
}

/// A signed APT repository under `dir` with suite [`SUITE`], component `main`, holding one
/// metapackage `linux-image-generic` that depends on `linux-image-amd64`. Returns its URL and
/// the keyring with its signing key.
fn kernel_metapackage_repo(dir: &Path) -> (String, PathBuf) {
    let pkg = dir.join("build/linux-image-generic");
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: linux-image-generic\nVersion: 1.0+forger\nArchitecture: all\n\
         Maintainer: Forger tests <tests@forger.invalid>\nDepends: linux-image-amd64\n\
         Section: kernel\nPriority: optional\n\
         Description: Ubuntu's kernel metapackage name for Debian's kernel\n \
         Lets specs written for Ubuntu install the Debian kernel.\n",
    )
    .unwrap();
    let repo = dir.join("repo");
    let pool = repo.join("pool/main");
    let dists = repo.join(format!("dists/{SUITE}"));
    let binary = dists.join("main/binary-amd64");
    std::fs::create_dir_all(&pool).unwrap();
    std::fs::create_dir_all(&binary).unwrap();
    run_ok(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(&pkg)
            .arg(pool.join("linux-image-generic_1.0+forger_all.deb")),
    );
    let packages = run_ok(
        Command::new("apt-ftparchive")
            .args(["packages", "pool"])
            .current_dir(&repo),
    );
    std::fs::write(binary.join("Packages"), packages).unwrap();
    let release = run_ok(
        Command::new("apt-ftparchive")
            .args([
                "-o",
                &format!("APT::FTPArchive::Release::Suite={SUITE}"),
                "-o",
                &format!("APT::FTPArchive::Release::Codename={SUITE}"),
                "-o",
                "APT::FTPArchive::Release::Architectures=amd64",
                "-o",
                "APT::FTPArchive::Release::Components=main",
                "release",
                ".",
            ])
            .current_dir(&dists),
    );
    std::fs::write(dists.join("Release"), release).unwrap();

    let gnupg = dir.join("gnupg");
    std::fs::create_dir_all(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = || {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", &gnupg).args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ]);
        c
    };
    run_ok(gpg().args([
        "--quick-gen-key",
        "Forger test repository <tests@forger.invalid>",
        "ed25519",
        "sign",
        "never",
    ]));
    run_ok(
        gpg()
            .args(["--clearsign", "-o"])
            .arg(dists.join("InRelease"))
            .arg(dists.join("Release")),
    );
    let keyring = dir.join("repo-key.gpg");
    run_ok(gpg().arg("--output").arg(&keyring).arg("--export"));
    // `copy://`, not `file://`: apt then copies the .deb into the archives directory, where
    // dpkg (run chrooted by mmdebstrap) finds it; with `file://` it would pass the host path.
    (format!("copy://{}", repo.display()), keyring)
}

/// Start and length in bytes of GPT partition `index` (1-based) of a raw disk.
fn partition(raw: &Path, index: usize) -> (u64, u64) {
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new("sfdisk").arg("--json").arg(raw))).unwrap();
    let table = &json["partitiontable"];
    let sector = table["sectorsize"].as_u64().unwrap_or(512);
    let p = &table["partitions"][index - 1];
    (
        p["start"].as_u64().unwrap() * sector,
        p["size"].as_u64().unwrap() * sector,
    )
}

/// Copies a byte range of `raw` into its own file (sparse), for the filesystem checkers.
fn extract(raw: &Path, (start, len): (u64, u64), to: &Path) {
    run_ok(
        Command::new("dd")
            .arg(format!("if={}", raw.display()))
            .arg(format!("of={}", to.display()))
            .args([
                "bs=4M",
                "iflag=skip_bytes,count_bytes",
                "conv=sparse",
                "status=none",
            ])
            .arg(format!("skip={start}"))
            .arg(format!("count={len}")),
    );
}

fn debugfs_cat(image: &Path, path: &str) -> String {
    run_ok(
        Command::new("debugfs")
            .arg("-R")
            .arg(format!("cat {path}"))
            .arg(image),
    )
}

#[test]
fn ubuntu_corpus_spec_builds_against_a_debian_mirror() {
    if !slow_tests_enabled("ubuntu corpus build") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (local_repo, repo_key) = kernel_metapackage_repo(dir.path());
    let mirror = host_debian_mirror();

    // A fresh stage cache that shares only the downloaded packages with earlier runs.
    let debs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ubuntu-corpus-debs");
    std::fs::create_dir_all(&debs).unwrap();
    let stage_cache = dir.path().join("cache");
    std::fs::create_dir_all(&stage_cache).unwrap();
    std::os::unix::fs::symlink(&debs, stage_cache.join("apt-archives")).unwrap();

    let out = dir.path().join("out");
    let override_args = |cmd: &mut Command| {
        cmd.arg("--spec")
            .arg(corpus_spec())
            .args(["--apt-mirror", &mirror, "--apt-mirror", &local_repo])
            .args(["--apt-suite", SUITE, "--apt-components", "main"])
            .args(["--apt-keyring", DEBIAN_KEYRING, "--apt-keyring"])
            .arg(&repo_key);
    };

    // `inspect` shows the override in place of the spec's Ubuntu mirror.
    let mut inspect = Command::new(env!("CARGO_BIN_EXE_forger"));
    inspect.arg("inspect");
    override_args(&mut inspect);
    let shown = run_ok(&mut inspect);
    assert!(
        shown.contains(&format!("apt-mirror {mirror} {SUITE} main (override)")),
        "{shown}"
    );
    assert!(!shown.contains("archive.ubuntu.com"), "{shown}");

    let mut build = Command::new(env!("CARGO_BIN_EXE_forger"));
    build
        .args(["--output", "json", "build", "--skip-push", "-o"])
        .arg(&out)
        .arg("--cache-dir")
        .arg(&stage_cache)
        .env("SOURCE_DATE_EPOCH", "1700000000");
    override_args(&mut build);
    run_ok(&mut build);
    // The stage entries are not needed again and would only take disk; the packages stay.
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_forger"))
            .args(["cache", "--cache-dir"])
            .arg(&stage_cache)
            .args(["prune", "--max-size", "0"]),
    );

    let qcow2 = out.join("qcow2.qcow2");
    run_ok(Command::new("qemu-img").arg("check").arg(&qcow2));
    let raw = dir.path().join("disk.raw");
    run_ok(
        Command::new("qemu-img")
            .args(["convert", "-O", "raw"])
            .arg(&qcow2)
            .arg(&raw),
    );
    let verify = run_ok(Command::new("sgdisk").arg("-v").arg(&raw));
    assert!(verify.contains("No problems found"), "{verify}");

    let esp = dir.path().join("esp.img");
    extract(&raw, partition(&raw, 1), &esp);
    run_ok(Command::new("fsck.fat").arg("-n").arg(&esp));
    let root = dir.path().join("root.img");
    extract(&raw, partition(&raw, 2), &root);
    run_ok(Command::new("e2fsck").arg("-fn").arg(&root));

    // The image's APT sources are the override's, not the spec's unreachable mirror.
    let sources = debugfs_cat(&root, "/etc/apt/sources.list");
    for url in [&mirror, &local_repo] {
        assert!(
            sources.lines().any(|l| l.starts_with("deb ")
                && l.contains(&format!(" {url} "))
                && l.ends_with(&format!(" {SUITE} main"))),
            "no `deb {url} {SUITE} main` in\n{sources}"
        );
    }
    assert!(!sources.contains("ubuntu.com"), "{sources}");
    // Every package the spec names is installed, the kernel through the metapackage.
    let status = debugfs_cat(&root, "/var/lib/dpkg/status");
    for pkg in [
        "linux-image-generic",
        "linux-image-amd64",
        "rustc",
        "cargo",
        "build-essential",
        "cloud-init",
        "grub-efi-amd64",
        "openssh-server",
    ] {
        assert!(
            status.contains(&format!("Package: {pkg}\nStatus: install ok installed")),
            "{pkg} is not installed"
        );
    }
}
