//! OCI image layouts checked by the OCI JSON schemas (`oci_schema_check.py`), `skopeo` and
//! `umoci unpack --rootless` (which verifies diff_ids), and reproducibility of the digests.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use forger::archive::Compression;
use forger::oci::{self, ImageConfig, LayoutOptions};

use crate::archive::{EPOCH, LONG_DIR, sample_tree};
use crate::util::run_ok;

/// The schema checker shipped in the shared tools.
pub fn schema_check() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for up in here.ancestors() {
        for cand in [
            "shared/tools/oci_schema_check.py",
            "../shared/tools/oci_schema_check.py",
        ] {
            let p = up.join(cand);
            if p.is_file() {
                return p;
            }
        }
    }
    PathBuf::from("/work/shared/tools/oci_schema_check.py")
}

/// A config exercising every field.
pub fn sample_config() -> ImageConfig {
    let mut c = ImageConfig::new("linux", "amd64");
    c.entrypoint = vec!["/usr/bin/tool".into(), "--serve".into()];
    c.cmd = vec!["--port".into(), "8080".into()];
    c.env = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    c.working_dir = Some("/home/alice".into());
    c.user = Some("1000:1000".into());
    for (k, v) in [
        ("org.example.b", "2"),
        ("org.example.a", "1"),
        ("z", "last"),
    ] {
        c.labels.insert(k.into(), v.into());
    }
    c.exposed_ports = vec!["8080/tcp".into(), "53/udp".into()];
    c.annotations
        .insert("org.opencontainers.image.version".into(), "1.2.3".into());
    c.history = vec!["forger build test".into()];
    c
}

/// Writes the sample image's layout under `out` and returns its directory.
pub fn sample_layout(out: &Path, tree_dir: &Path, compression: Compression) -> oci::LayoutReport {
    let tree = sample_tree(tree_dir);
    let opts = LayoutOptions {
        compression,
        epoch: EPOCH,
        tag: "v1".into(),
        ..Default::default()
    };
    oci::write_layout(&tree, out, "sample", &sample_config(), &opts).expect("write layout")
}

/// Checks an unpacked rootfs against the sample tree's manifest: modes, link targets, hard
/// links, contents, and (when unpacked as root without --rootless) owners.
pub fn check_rootfs(rootfs: &Path, owners: bool) {
    let meta =
        |p: &str| std::fs::symlink_metadata(rootfs.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(meta("usr/bin/tool").mode() & 0o7777, 0o4755);
    assert_eq!(meta("etc/shadow").mode() & 0o7777, 0o640);
    assert_eq!(meta("home/alice").mode() & 0o7777, 0o700);
    assert_eq!(meta("tmp").mode() & 0o7777, 0o1777);
    assert_eq!(
        std::fs::read_link(rootfs.join("bin")).unwrap(),
        PathBuf::from("usr/bin")
    );
    assert_eq!(meta("usr/bin/tool").ino(), meta("usr/bin/tool-alias").ino());
    assert_eq!(
        std::fs::read(rootfs.join("etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n"
    );
    assert!(
        rootfs
            .join(format!("usr/share/{LONG_DIR}/file-with-a-long-name.txt"))
            .is_file()
    );
    if owners {
        assert_eq!(
            (meta("home/alice").uid(), meta("home/alice").gid()),
            (1000, 1000)
        );
        assert_eq!(meta("etc/shadow").gid(), 42);
        assert_eq!(meta("home/alice/big-uid").uid(), 3_000_000);
    }
}

#[test]
fn layout_passes_schema_skopeo_and_umoci() {
    let tmp = tempfile::tempdir().unwrap();
    let report = sample_layout(&tmp.path().join("out"), tmp.path(), Compression::Gzip);
    let dir = report.dir.clone();
    assert_eq!(dir, tmp.path().join("out/sample-oci"));
    let schema = run_ok(Command::new("python3").arg(schema_check()).arg(&dir));
    assert_eq!(schema.trim(), "OK");

    let layout_ref = format!("oci:{}:v1", dir.display());
    let raw = run_ok(Command::new("skopeo").args(["inspect", "--raw", &layout_ref]));
    assert_eq!(
        forger::archive::Digest::of(raw.as_bytes()),
        report.manifest,
        "skopeo reads the manifest we wrote"
    );
    let cfg = run_ok(Command::new("skopeo").args(["inspect", "--config", &layout_ref]));
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(cfg["os"], "linux");
    assert_eq!(cfg["architecture"], "amd64");
    assert_eq!(cfg["created"], "2023-11-14T22:13:20Z");
    assert_eq!(cfg["config"]["Entrypoint"][1], "--serve");
    assert_eq!(cfg["config"]["Env"][1], "LANG=C.UTF-8");
    assert_eq!(cfg["config"]["WorkingDir"], "/home/alice");
    assert_eq!(cfg["config"]["User"], "1000:1000");
    assert_eq!(cfg["config"]["Labels"]["z"], "last");
    assert!(cfg["config"]["ExposedPorts"]["53/udp"].is_object());
    assert_eq!(
        cfg["rootfs"]["diff_ids"][0],
        report.layer.uncompressed.to_string()
    );
    run_ok(Command::new("skopeo").args([
        "copy",
        &layout_ref,
        &format!("dir:{}", tmp.path().join("dircopy").display()),
    ]));

    // umoci checks the diff_id against the decompressed layer while unpacking.
    let bundle = tmp.path().join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:v1", dir.display()))
            .arg(&bundle),
    );
    check_rootfs(&bundle.join("rootfs"), false);
}

#[test]
fn umoci_as_root_keeps_owners() {
    if !nix_is_root() {
        eprintln!("skipped: owners can only be checked when the test runs as root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // umoci 0.4 reads gzip and plain layers only.
    let report = sample_layout(&tmp.path().join("out"), tmp.path(), Compression::Gzip);
    let bundle = tmp.path().join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:v1", report.dir.display()))
            .arg(&bundle),
    );
    let rootfs = bundle.join("rootfs");
    check_rootfs(&rootfs, true);
    let null = std::fs::symlink_metadata(rootfs.join("dev/null")).unwrap();
    assert_eq!(null.rdev(), (1 << 8) | 3);
}

fn nix_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[test]
fn identical_inputs_give_identical_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let a = sample_layout(
        &tmp.path().join("a"),
        &tmp.path().join("ta"),
        Compression::Gzip,
    );
    let b = sample_layout(
        &tmp.path().join("b"),
        &tmp.path().join("tb"),
        Compression::Gzip,
    );
    assert_eq!(a.manifest, b.manifest);
    assert_eq!(a.config, b.config);
    let ia = std::fs::read(a.dir.join("index.json")).unwrap();
    let ib = std::fs::read(b.dir.join("index.json")).unwrap();
    assert_eq!(ia, ib);
    let idx: serde_json::Value = serde_json::from_slice(&ia).unwrap();
    assert_eq!(
        idx["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    let m = oci::read_manifest(&a.dir, Some("v1")).unwrap();
    assert_eq!(m.digest, a.manifest);
    assert_eq!(m.blobs.len(), 2);
    assert!(oci::read_manifest(&a.dir, Some("nope")).is_err());
    let mut bad = sample_config();
    bad.os = "plan9".into();
    let tree = sample_tree(&tmp.path().join("tc"));
    let err =
        oci::write_layout(&tree, tmp.path(), "bad", &bad, &LayoutOptions::default()).unwrap_err();
    assert!(err.to_string().contains("plan9"));
    assert!(
        !tmp.path().join("bad-oci").exists(),
        "no half-written layout"
    );
}
