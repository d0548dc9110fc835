//! The `forger` binary's contract on KDL specs, as users script against it: build from a
//! `--rootfs` tree to a deterministic tarball (checked with GNU tar, rebuilt byte-identical),
//! JSON events, and bad input that fails before anything is written to the output directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use forger_workspace::run_ok;

fn forger(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forger"))
        .args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("FORGER_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("the forger binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A spec directory with a rootfs tree, an overlay source and `spec.kdl` holding `body`.
fn setup(body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\nsvc:x:120:130::/:\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nsvc:x:130:\n").unwrap();
    std::fs::create_dir_all(dir.path().join("files")).unwrap();
    std::fs::write(dir.path().join("files/motd"), "hi\n").unwrap();
    std::fs::write(dir.path().join("spec.kdl"), body).unwrap();
    dir
}

const GOOD: &str = r#"
metadata name="cli" version="1.0"
distro "debian-12"
overlays {
    file destination="/etc/motd" source="motd" owner="svc" group="svc" mode="640"
    ensure-symlink "/etc/alias" target="motd"
}
packages if="extra" { package "vim" }
target "rootfs" kind="tar"
"#;

fn build(dir: &Path, out: &str) -> (Output, PathBuf) {
    let o = forger(
        &[
            "--output",
            "json",
            "build",
            "--spec",
            "spec.kdl",
            "--rootfs",
            "rootfs",
            "-o",
            out,
            "--skip-push",
        ],
        dir,
    );
    (o, dir.join(out).join("rootfs.tar.gz"))
}

#[test]
fn build_writes_a_tarball_gnu_tar_reads_with_the_manifest_owners() {
    let dir = setup(GOOD);
    let (o, tarball) = build(dir.path(), "out");
    assert!(o.status.success(), "{}", text(&o));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "stage-done" && e["stage"] == "overlays"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "output" && e["target"] == "rootfs")
    );
    let listing = run_ok(Command::new("tar").arg("-tvzf").arg(&tarball));
    assert!(
        listing.contains("-rw-r----- 120/130") && listing.contains("./etc/motd"),
        "{listing}"
    );
    assert!(listing.contains("./etc/alias -> motd"), "{listing}");
    assert!(
        listing.lines().all(|l| l.contains("2023-11-14")),
        "mtimes are SOURCE_DATE_EPOCH:\n{listing}"
    );

    let (again, second) = build(dir.path(), "out2");
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        std::fs::read(&tarball).unwrap(),
        std::fs::read(second).unwrap()
    );
    let cached = String::from_utf8_lossy(&again.stdout).contains(r#""result":"hit""#);
    assert!(
        cached,
        "the second build reuses cached stages: {}",
        text(&again)
    );
}

#[test]
fn validate_inspect_targets_and_plan_answer_without_building() {
    let dir = setup(GOOD);
    let o = forger(&["validate", "--spec", "spec.kdl"], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let o = forger(
        &["inspect", "--spec", "spec.kdl", "-p", "extra"],
        dir.path(),
    );
    assert!(
        text(&o).contains("vim") && text(&o).contains("file /etc/motd <- motd"),
        "{}",
        text(&o)
    );
    let o = forger(&["targets", "--spec", "spec.kdl"], dir.path());
    assert!(text(&o).contains("rootfs (artifact)"), "{}", text(&o));
    let o = forger(&["plan", "--json", "--spec", "spec.kdl"], dir.path());
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["stages"].as_array().unwrap().len(), 3);
    assert!(!dir.path().join("out").exists());
}

/// `forger plan | head` closes the pipe early: the binary stops quietly instead of panicking
/// on the broken pipe. The read end is closed before the child starts, so every write fails.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let dir = setup(GOOD);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    for args in [
        &["plan", "--spec", "spec.kdl"][..],
        &["inspect", "--json", "--spec", "spec.kdl"],
        &["targets", "--spec", "spec.kdl"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_forger"))
            .args(args)
            .current_dir(dir.path())
            .stdout(writer.try_clone().unwrap())
            .output()
            .expect("the forger binary runs");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(o.status.success(), "{args:?}: {stderr}");
    }
}

/// Each bad spec fails with a message naming the problem, and writes nothing.
#[test]
fn bad_input_fails_clearly_before_writing_anything() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("unknown profile", GOOD, &["-p", "nope"]),
        (
            "duplicate target",
            "metadata name=\"a\" version=\"1\"\ndistro \"debian-12\"\ntarget \"t\" kind=\"tar\"\ntarget \"t\" kind=\"tar\"\n",
            &[],
        ),
        (
            "bad size",
            "metadata name=\"a\" version=\"1\"\ndistro \"debian-12\"\ntarget \"d\" kind=\"qcow2\" {\n disk-size \"8Q\"\n}\n",
            &[],
        ),
        (
            "bad mode",
            "metadata name=\"a\" version=\"1\"\ndistro \"debian-12\"\noverlays {\n ensure-dir \"/x\" mode=\"989\"\n}\ntarget \"t\" kind=\"tar\"\n",
            &[],
        ),
        (
            "missing source",
            "metadata name=\"a\" version=\"1\"\ndistro \"debian-12\"\noverlays {\n file destination=\"/x\" source=\"absent\"\n}\ntarget \"t\" kind=\"tar\"\n",
            &[],
        ),
        (
            "escaping source",
            "metadata name=\"a\" version=\"1\"\ndistro \"debian-12\"\noverlays {\n file destination=\"/x\" source=\"../../etc/passwd\"\n}\ntarget \"t\" kind=\"tar\"\n",
            &[],
        ),
        (
            "unknown owner",
            "metadata name=\"a\" version=\"1\"\ndistro \"debian-12\"\noverlays {\n ensure-dir \"/x\" owner=\"postgres\"\n}\ntarget \"t\" kind=\"tar\"\n",
            &[],
        ),
        (
            "no filesystem",
            "metadata name=\"a\" version=\"1\"\ndistro \"omnios\"\ntarget \"d\" kind=\"qcow2\" {\n disk-size \"4G\"\n filesystem \"ext4\"\n}\n",
            &[],
        ),
    ];
    let expect = [
        "unknown profile `nope`",
        "is given more than once",
        "8Q",
        "989",
        "`absent` not found",
        "is not a path inside the spec's directory",
        "owner `postgres` is not a user of the image",
        "cannot boot from ext4",
    ];
    for ((what, spec, extra), needle) in cases.iter().zip(expect) {
        let dir = setup(spec);
        let mut args = vec![
            "build",
            "--spec",
            "spec.kdl",
            "--rootfs",
            "rootfs",
            "-o",
            "out",
            "--skip-push",
        ];
        args.extend_from_slice(extra);
        let o = forger(&args, dir.path());
        assert!(!o.status.success(), "{what}: should fail\n{}", text(&o));
        assert!(
            text(&o).contains(needle),
            "{what}: expected `{needle}` in\n{}",
            text(&o)
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("out"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "{what}: wrote {leftovers:?}");
    }
}
