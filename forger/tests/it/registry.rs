//! Pushes and pulls against a real CNCF distribution registry (`docker-registry serve`)
//! started on 127.0.0.1 on a free port with a temporary storage directory — anonymous and
//! with htpasswd (bcrypt) basic auth — read back with skopeo and umoci; plus a fault test
//! that stops the registry in the middle of a large upload and starts it again.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use forger::archive::{Compression, Digest};
use forger::oci::{self, ArtifactKind, ArtifactMeta, BlobOutcome, PullOptions, PushOptions, Retry};

use crate::oci::{check_rootfs, sample_layout};
use crate::util::run_ok;

/// A registry process with its config, storage and port.
pub struct Registry {
    child: Option<Child>,
    token_server: Option<Child>,
    cfg: PathBuf,
    /// Storage root.
    pub storage: PathBuf,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry; with `user` set, behind htpasswd basic auth.
    pub fn start(user: Option<(&str, &str)>) -> Registry {
        Self::start_with(user, false)
    }

    /// Starts a registry behind token auth served by the shared `tokensrv.py` (RS256 JWTs;
    /// `testuser:testpass` gets pull+push, anonymous gets pull).
    pub fn start_token() -> Registry {
        Self::start_with(None, true)
    }

    fn start_with(user: Option<(&str, &str)>, token: bool) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let storage = dir.path().join("data");
        let mut cfg = format!(
            "version: 0.1\nlog: {{level: warn, accesslog: {{disabled: true}}}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-only-secret\n",
            storage.display()
        );
        if let Some((u, p)) = user {
            let ht = run_ok(Command::new("htpasswd").args(["-Bbn", u, p]));
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, ht).unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd: {{realm: test-realm, path: {}}}\n",
                path.display()
            ));
        }
        let mut token_server = None;
        if token {
            let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
            run_ok(
                Command::new("openssl")
                    .args([
                        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    ])
                    .args(["-subj", "/CN=test-token-issuer", "-keyout"])
                    .arg(&key)
                    .arg("-out")
                    .arg(&cert),
            );
            let tport = free_port();
            let script = crate::oci::schema_check().with_file_name("tokensrv.py");
            let child = Command::new("python3")
                .arg(script)
                .env("TOKEN_KEY", &key)
                .env("TOKEN_CERT", &cert)
                .env("TOKEN_PORT", tport.to_string())
                .stdout(Stdio::null())
                .spawn()
                .expect("python3");
            wait_port(&format!("127.0.0.1:{tport}"));
            token_server = Some(child);
            cfg.push_str(&format!(
                "auth:\n  token: {{realm: \"http://127.0.0.1:{tport}/token\", service: test-registry, issuer: test-issuer, rootcertbundle: {}}}\n",
                cert.display()
            ));
        }
        let cfg_path = dir.path().join("cfg.yml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let mut r = Registry {
            child: None,
            token_server,
            cfg: cfg_path,
            storage,
            addr: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.cfg.with_extension("log"))
            .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.cfg)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry (scripts/install-test-deps.sh)");
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(&self.addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "registry did not start: {}",
                std::fs::read_to_string(self.cfg.with_extension("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the registry process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again with the same config, storage and port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// `127.0.0.1:<port>/<path>`.
    pub fn reference(&self, path: &str) -> String {
        format!("{}/{path}", self.addr)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
        if let Some(mut c) = self.token_server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(addr: &str) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{addr} did not open"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn skopeo_raw(reference: &str, creds: Option<&str>) -> String {
    let mut c = Command::new("skopeo");
    c.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some(cr) = creds {
        c.args(["--creds", cr]);
    }
    run_ok(c.arg(format!("docker://{reference}")))
}

fn fast_retry() -> Retry {
    Retry {
        attempts: 10,
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
    }
}

/// A real QCOW2 file with some data written into it.
fn qcow2_file(dir: &Path, mib: u64) -> PathBuf {
    let raw = dir.join("disk.raw");
    let mut f = std::fs::File::create(&raw).unwrap();
    let mut state = 0x1234_5678_u64;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for b in block.iter_mut() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (state >> 56) as u8;
        }
        f.write_all(&block).unwrap();
    }
    drop(f);
    let q = dir.join("image.qcow2");
    run_ok(
        Command::new("qemu-img")
            .args(["convert", "-O", "qcow2"])
            .arg(&raw)
            .arg(&q),
    );
    q
}

fn meta() -> ArtifactMeta {
    ArtifactMeta {
        name: "testimg".into(),
        version: "0.3.1".into(),
        architecture: "amd64".into(),
        os: "solaris".into(),
        description: "a test disk".into(),
        kind: ArtifactKind::Qcow2,
    }
}

#[test]
fn layout_push_is_read_by_skopeo_and_umoci() {
    let reg = Registry::start(None);
    let tmp = tempfile::tempdir().unwrap();
    let report = sample_layout(&tmp.path().join("out"), tmp.path(), Compression::Gzip);
    let reference = reg.reference("test/img:v1");
    let pushed = oci::push_layout(&report.dir, &reference, &PushOptions::default()).unwrap();
    assert_eq!(pushed.manifest, report.manifest);
    assert!(
        pushed
            .blobs
            .iter()
            .all(|(_, o)| matches!(o, BlobOutcome::Uploaded { .. }))
    );
    // The manifest bytes are served exactly as written in the layout.
    let raw = skopeo_raw(&reference, None);
    assert_eq!(Digest::of(raw.as_bytes()), report.manifest);

    let pulled = tmp.path().join("pulled");
    run_ok(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{reference}"),
        &format!("oci:{}:v1", pulled.display()),
    ]));
    let bundle = tmp.path().join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:v1", pulled.display()))
            .arg(&bundle),
    );
    check_rootfs(&bundle.join("rootfs"), false);

    // A second push skips every blob; a push to another repository can mount them.
    let again = oci::push_layout(&report.dir, &reference, &PushOptions::default()).unwrap();
    assert!(again.blobs.iter().all(|(_, o)| *o == BlobOutcome::Existed));
    let opts = PushOptions {
        mount_from: vec!["test/img".into()],
        ..Default::default()
    };
    let other = oci::push_layout(&report.dir, &reg.reference("test/other:v1"), &opts).unwrap();
    assert!(other.blobs.iter().all(|(_, o)| *o == BlobOutcome::Mounted));

    // skopeo also pushes what we wrote, straight from the layout.
    run_ok(Command::new("skopeo").args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", report.dir.display()),
        &format!("docker://{}", reg.reference("test/by-skopeo:v1")),
    ]));
}

#[test]
fn qcow2_artifact_round_trips_with_media_types() {
    let reg = Registry::start(None);
    let tmp = tempfile::tempdir().unwrap();
    let q = qcow2_file(tmp.path(), 3);
    let reference = reg.reference("vm/disk:0.3.1");
    let opts = PushOptions {
        chunk_size: 256 * 1024, // several PATCH requests
        ..Default::default()
    };
    let pushed = oci::push_artifact(&q, &reference, &meta(), &opts).unwrap();
    let raw = skopeo_raw(&reference, None);
    assert_eq!(Digest::of(raw.as_bytes()), pushed.manifest);
    let m: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(m["artifactType"], oci::QCOW2_CONFIG_MEDIA_TYPE);
    assert_eq!(m["config"]["mediaType"], oci::QCOW2_CONFIG_MEDIA_TYPE);
    assert_eq!(m["layers"][0]["mediaType"], oci::QCOW2_LAYER_MEDIA_TYPE);
    assert_eq!(
        m["layers"][0]["annotations"]["org.opencontainers.image.title"],
        "image.qcow2"
    );
    // The config blob, fetched by curl, carries the caller's metadata.
    let cfg = run_ok(Command::new("curl").arg("-fsS").arg(format!(
        "http://{}/v2/vm/disk/blobs/{}",
        reg.addr,
        m["config"]["digest"].as_str().unwrap()
    )));
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(cfg["name"], "testimg");
    assert_eq!(cfg["version"], "0.3.1");
    assert_eq!(cfg["os"], "solaris");
    assert_eq!(cfg["description"], "a test disk");

    let dest = tmp.path().join("back.qcow2");
    let cache = tmp.path().join("cache");
    let popts = PullOptions {
        cache_dir: Some(cache.clone()),
        ..Default::default()
    };
    let pulled = oci::pull_artifact(&format!("oci://{reference}"), &dest, &popts).unwrap();
    assert!(!pulled.from_cache);
    assert_eq!(pulled.media_type, oci::QCOW2_LAYER_MEDIA_TYPE);
    assert!(std::fs::read(&dest).unwrap() == std::fs::read(&q).unwrap());
    run_ok(Command::new("qemu-img").arg("check").arg(&dest));
    let again = oci::pull_artifact(&reference, &tmp.path().join("b2.qcow2"), &popts).unwrap();
    assert!(again.from_cache);
    // A tag is re-resolved on every pull: a new push under it is fetched, not the cached blob.
    let q2 = tmp.path().join("second.qcow2");
    run_ok(
        Command::new("qemu-img")
            .args(["create", "-f", "qcow2"])
            .arg(&q2)
            .arg("16M"),
    );
    oci::push_artifact(&q2, &reference, &meta(), &PushOptions::default()).unwrap();
    let third = tmp.path().join("b3.qcow2");
    let newer = oci::pull_artifact(&reference, &third, &popts).unwrap();
    assert!(!newer.from_cache && newer.layer != pulled.layer);
    assert!(std::fs::read(&third).unwrap() == std::fs::read(&q2).unwrap());
    // skopeo copies the artifact too.
    run_ok(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{reference}"),
        &format!("oci:{}:a", tmp.path().join("art").display()),
    ]));
}

#[test]
fn htpasswd_registry_accepts_right_and_refuses_wrong_credentials() {
    let reg = Registry::start(Some(("forger", "correct-horse")));
    let tmp = tempfile::tempdir().unwrap();
    let q = qcow2_file(tmp.path(), 1);
    let reference = reg.reference("private/disk:v1");
    let good = tmp.path().join("good.json");
    std::fs::write(&good, r#"{"username":"forger","password":"correct-horse"}"#).unwrap();
    let opts = PushOptions {
        auth_file: Some(good.clone()),
        ..Default::default()
    };
    let pushed = oci::push_artifact(&q, &reference, &meta(), &opts).unwrap();
    let raw = skopeo_raw(&reference, Some("forger:correct-horse"));
    assert_eq!(Digest::of(raw.as_bytes()), pushed.manifest);
    let popts = PullOptions {
        auth_file: Some(good),
        ..Default::default()
    };
    let dest = tmp.path().join("back.qcow2");
    oci::pull_artifact(&reference, &dest, &popts).unwrap();
    assert!(std::fs::read(&dest).unwrap() == std::fs::read(&q).unwrap());

    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"username":"forger","password":"wrong-battery-staple"}"#,
    )
    .unwrap();
    let opts = PushOptions {
        auth_file: Some(bad),
        ..Default::default()
    };
    let err =
        oci::push_artifact(&q, &reg.reference("private/other:v1"), &meta(), &opts).unwrap_err();
    let plain = format!("{err}\n{err:?}");
    let shown = format!("{plain}\n{:?}", miette::Report::new(err));
    assert!(shown.contains("refused access"), "{shown}");
    assert!(
        !shown.contains("wrong-battery-staple"),
        "secret leaked: {shown}"
    );
    assert!(!shown.contains("correct-horse"), "secret leaked: {shown}");

    // Anonymous gets a clear refusal too, and nothing was tagged.
    let err =
        oci::pull_artifact(&reference, &tmp.path().join("x"), &PullOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("refused") || err.to_string().contains("nauthorized"),
        "{err}"
    );
    let tags = run_ok(
        Command::new("curl")
            .args(["-sS", "-u", "forger:correct-horse"])
            .arg(format!("http://{}/v2/private/other/tags/list", reg.addr)),
    );
    assert!(!tags.contains("v1"), "{tags}");
}

#[test]
fn registry_killed_mid_chunked_upload_then_restarted_push_completes() {
    killed_mid_upload(1 << 20);
}

#[test]
fn registry_killed_mid_streamed_upload_then_restarted_push_completes() {
    killed_mid_upload(0);
}

fn killed_mid_upload(chunk_size: usize) {
    let mut reg = Registry::start(None);
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.tar");
    {
        let mut f = std::fs::File::create(&big).unwrap();
        let mut state = 7u64;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..96 {
            for b in block.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            f.write_all(&block).unwrap();
        }
    }
    let reference = reg.reference("fault/big:v1");
    let opts = PushOptions {
        chunk_size,
        retry: fast_retry(),
        ..Default::default()
    };
    let mut m = meta();
    m.kind = ArtifactKind::Tarball;
    let (file, r2, o2, m2) = (big.clone(), reference.clone(), opts.clone(), m.clone());
    let pusher = std::thread::spawn(move || oci::push_artifact(&file, &r2, &m2, &o2));

    // Wait until part of the big blob is in the registry's upload area, then kill it.
    let uploads = reg
        .storage
        .join("docker/registry/v2/repositories/fault/big/_uploads");
    let start = Instant::now();
    let mut seen = 0u64;
    while seen < 16 << 20 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "upload never started"
        );
        seen = std::fs::read_dir(&uploads)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::metadata(e.path().join("data")).ok())
            .map(|m| m.len())
            .max()
            .unwrap_or(0);
        std::thread::sleep(Duration::from_millis(5));
    }
    reg.kill();
    // While it is down nothing is tagged.
    std::thread::sleep(Duration::from_millis(700));
    reg.restart();
    let result = pusher.join().unwrap();
    let pushed = result.expect("push completes after the restart");
    let big_outcome = pushed.blobs[1].1;
    eprintln!("interrupted upload: {big_outcome:?}");
    assert!(
        matches!(big_outcome, BlobOutcome::Uploaded { resumed, restarted } if resumed + restarted >= 1),
        "the upload was interrupted and resumed or restarted: {big_outcome:?}"
    );
    let dest = tmp.path().join("back.tar");
    oci::pull_artifact(&reference, &dest, &PullOptions::default()).unwrap();
    assert!(std::fs::read(&dest).unwrap() == std::fs::read(&big).unwrap());
    let raw = skopeo_raw(&reference, None);
    assert_eq!(Digest::of(raw.as_bytes()), pushed.manifest);
}

#[test]
fn unreachable_registry_fails_clearly() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("x.tar");
    std::fs::write(&f, b"data").unwrap();
    let opts = PushOptions {
        retry: Retry {
            attempts: 2,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
        },
        ..Default::default()
    };
    let mut m = meta();
    m.kind = ArtifactKind::Tarball;
    let err = oci::push_artifact(&f, &format!("127.0.0.1:{port}/a/b:c"), &m, &opts).unwrap_err();
    assert!(err.to_string().contains("could not reach"), "{err}");
}

#[test]
fn token_auth_registry_push_with_basic_exchange_and_anonymous_pull() {
    let reg = Registry::start_token();
    let tmp = tempfile::tempdir().unwrap();
    let q = qcow2_file(tmp.path(), 1);
    let reference = reg.reference("tok/disk:v1");
    let good = tmp.path().join("good.json");
    std::fs::write(&good, r#"{"username":"testuser","password":"testpass"}"#).unwrap();
    let opts = PushOptions {
        auth_file: Some(good),
        ..Default::default()
    };
    let pushed = oci::push_artifact(&q, &reference, &meta(), &opts).unwrap();
    let raw = skopeo_raw(&reference, Some("testuser:testpass"));
    assert_eq!(Digest::of(raw.as_bytes()), pushed.manifest);
    // Anonymous tokens allow pull only.
    let dest = tmp.path().join("back.qcow2");
    oci::pull_artifact(&reference, &dest, &PullOptions::default()).unwrap();
    assert!(std::fs::read(&dest).unwrap() == std::fs::read(&q).unwrap());
    let err = oci::push_artifact(
        &q,
        &reg.reference("tok/anon:v1"),
        &meta(),
        &PushOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("refused access"), "{err}");
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"{"username":"testuser","password":"not-the-pass"}"#).unwrap();
    let opts = PushOptions {
        auth_file: Some(bad),
        ..Default::default()
    };
    let err = oci::push_artifact(&q, &reg.reference("tok/bad:v1"), &meta(), &opts).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("refused access") && !shown.contains("not-the-pass"),
        "{shown}"
    );
}

#[test]
fn registry_killed_and_not_back_fails_clearly_without_a_tag() {
    let mut reg = Registry::start(None);
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.tar");
    std::fs::write(&big, vec![0x5au8; 48 << 20]).unwrap();
    let reference = reg.reference("gone/big:v1");
    let opts = PushOptions {
        chunk_size: 1 << 20,
        retry: Retry {
            attempts: 3,
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(100),
        },
        ..Default::default()
    };
    let mut m = meta();
    m.kind = ArtifactKind::Tarball;
    let (file, r2, o2, m2) = (big.clone(), reference.clone(), opts, m);
    let pusher = std::thread::spawn(move || oci::push_artifact(&file, &r2, &m2, &o2));
    let uploads = reg
        .storage
        .join("docker/registry/v2/repositories/gone/big/_uploads");
    let start = Instant::now();
    while std::fs::read_dir(&uploads)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::metadata(e.path().join("data")).ok())
        .all(|m| m.len() < 4 << 20)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "upload never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    reg.kill();
    let err = pusher.join().unwrap().unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("could not reach") || text.contains("failed after"),
        "{text}"
    );
    reg.restart();
    let tags = run_ok(
        Command::new("curl")
            .arg("-sS")
            .arg(format!("http://{}/v2/gone/big/tags/list", reg.addr)),
    );
    assert!(
        !tags.contains("v1"),
        "a tag points at a partial upload: {tags}"
    );
}

#[test]
fn tarball_artifact_from_archive_round_trips() {
    let reg = Registry::start(None);
    let tmp = tempfile::tempdir().unwrap();
    let tree = crate::archive::sample_tree(tmp.path());
    let tgz = tmp.path().join("rootfs.tar.gz");
    forger::archive::write(
        &tree,
        &tgz,
        &forger::archive::ArchiveOptions::new(Compression::Gzip, crate::archive::EPOCH),
    )
    .unwrap();
    let mut m = meta();
    m.kind = ArtifactKind::Tarball;
    let reference = reg.reference("tar/rootfs:1");
    let pushed = oci::push_artifact(&tgz, &reference, &m, &PushOptions::default()).unwrap();
    let raw = skopeo_raw(&reference, None);
    assert_eq!(Digest::of(raw.as_bytes()), pushed.manifest);
    let doc: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(doc["artifactType"], oci::TARBALL_CONFIG_MEDIA_TYPE);
    assert_eq!(
        doc["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        doc["layers"][0]["annotations"]["org.opencontainers.image.title"],
        "rootfs.tar.gz"
    );
    let back = tmp.path().join("back.tar.gz");
    let r = oci::pull_artifact(
        &format!("oci://{reference}"),
        &back,
        &PullOptions::default(),
    )
    .unwrap();
    assert_eq!(r.layer.to_string(), doc["layers"][0]["digest"]);
    let list = run_ok(Command::new("tar").arg("-tzf").arg(&back));
    assert!(list.lines().any(|l| l == "./usr/bin/tool-alias"), "{list}");
}

#[test]
fn cli_push_artifact_carries_the_os_and_architecture_it_is_given() {
    use clap::Parser;
    let reg = Registry::start(None);
    let tmp = tempfile::tempdir().unwrap();
    let q = qcow2_file(tmp.path(), 1);
    let reference = reg.reference("omnios/disk:1.0");
    let cli = forger::cli::Cli::parse_from([
        "forger",
        "--output",
        "quiet",
        "push",
        "--image",
        q.to_str().unwrap(),
        "--reference",
        &reference,
        "--artifact",
        "--name",
        "omnios-disk",
        "--version",
        "1.0",
        "--os",
        "illumos",
        "--arch",
        "amd64",
        "--description",
        "an OmniOS disk",
    ]);
    forger::cli::run_cli(cli, |_| unreachable!("push needs no image")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&skopeo_raw(&reference, None)).unwrap();
    let cfg = run_ok(Command::new("curl").arg("-fsS").arg(format!(
        "http://{}/v2/omnios/disk/blobs/{}",
        reg.addr,
        m["config"]["digest"].as_str().unwrap()
    )));
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(
        (
            &cfg["name"],
            &cfg["version"],
            &cfg["os"],
            &cfg["architecture"]
        ),
        (
            &"omnios-disk".into(),
            &"1.0".into(),
            &"illumos".into(),
            &"amd64".into()
        )
    );
    assert_eq!(cfg["description"], "an OmniOS disk");
}
