//! The `pkg(1)` driver ([`SystemPkg`]) on a host without pkg: a stand-in `pkg` script records
//! every command line and, for `install`, delivers what a real pkg would leave behind — files
//! with the builder's owner and umask modes, the installed state catalog and the installed
//! manifests under `/var/pkg`. This checks the order and flags of the commands, exit status
//! handling, and that owners and modes come from the manifests; it does not prove that a real
//! pkg accepts these command lines (that needs an illumos host).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use forger::payload::ips::{IpsPayload, Publisher, SystemPkg};
use forger::stage::{EntryKind, StagePath, StagingTree};

/// The stand-in: logs argv to `$PKG_LOG`; `install` delivers the packages whose manifests are
/// `$PKG_FIXTURE/<stem>` into the image; `$PKG_EXIT_<verb>` makes a verb fail with that status.
const STAND_IN: &str = r#"#!/usr/bin/env python3
import json, os, re, sys, urllib.parse
args = sys.argv[1:]
with open(os.environ["PKG_LOG"], "a") as log:
    log.write(" ".join(args) + "\n")
root = ""
if args[0] == "-R":
    root, args = args[1], args[2:]
verb, args = args[0], args[1:]
code = int(os.environ.get("PKG_EXIT_" + verb.replace("-", "_"), "0"))
if code:
    sys.stderr.write("pkg: %s refused by the stand-in\n" % verb)
    sys.exit(code)
state = lambda r: os.path.join(r, "var/pkg/state/installed/catalog.base.C")
if verb == "image-create":
    os.makedirs(os.path.dirname(state(args[-1])))
    json.dump({"_SIGNATURE": {}}, open(state(args[-1]), "w"))
elif verb == "install":
    catalog = json.load(open(state(root)))
    for spec in (a for a in args if not a.startswith("--")):
        stem = spec.split("@")[0]
        text = open(os.path.join(os.environ["PKG_FIXTURE"], stem)).read()
        version = re.search(r"pkg.fmri value=pkg://[^/]+/[^@]+@(\S+)", text).group(1)
        d = os.path.join(root, "var/pkg/publisher/test/pkg", urllib.parse.quote(stem, safe=""))
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, urllib.parse.quote(version, safe="")), "w").write(text)
        for line in text.splitlines():
            kind, attrs = line.split(" ")[0], dict(re.findall(r"(\S+)=(\S+)", line))
            path = os.path.join(root, attrs.get("path", ""))
            if kind == "dir":
                os.makedirs(path, exist_ok=True)
            elif kind == "file":
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "w").write(stem + "\n")
                os.chmod(path, 0o644)
            elif kind == "hardlink":
                os.link(os.path.join(os.path.dirname(path), attrs["target"]), path)
        catalog.setdefault("test", {})[stem] = [{"version": version}]
    json.dump(catalog, open(state(root), "w"))
"#;

const INCORPORATION: &str = "\
set name=pkg.fmri value=pkg://test/entire@11,5.11-151054.0:20250101T000000Z
depend fmri=pkg:/web/server@2.0 type=incorporate
";

const SERVER: &str = "\
set name=pkg.fmri value=pkg://test/web/server@2.0,5.11-151054.0:20250101T000000Z
dir path=srv group=sys mode=0755 owner=root
dir path=srv/www group=bin mode=0750 owner=daemon
file 0123abcd path=srv/www/server group=bin mode=0555 owner=daemon
file 4567abcd path=srv/www/debug.so group=bin mode=0555 owner=daemon variant.debug.test=true
hardlink path=srv/www/server-alias target=server
file 89abcdef path=etc/passwd group=sys mode=0644 owner=root preserve=true
file 89abcdee path=etc/group group=sys mode=0644 owner=root preserve=true
";

struct Fixture {
    _dir: tempfile::TempDir,
    program: PathBuf,
    log: PathBuf,
    tree_root: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("pkg");
    std::fs::write(&program, STAND_IN).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(manifests.join("web")).unwrap();
    std::fs::write(manifests.join("entire"), INCORPORATION).unwrap();
    std::fs::write(manifests.join("web/server"), SERVER).unwrap();
    Fixture {
        log: dir.path().join("log"),
        tree_root: dir.path().join("work/tree"),
        program,
        _dir: dir,
    }
}

fn request() -> IpsPayload {
    IpsPayload {
        publishers: vec![
            Publisher {
                name: "test".into(),
                origin: "file:///repo/one".into(),
                ..Publisher::default()
            },
            Publisher {
                name: "extra".into(),
                origin: "https://depot.example/extra/".into(),
                ..Publisher::default()
            },
        ],
        incorporation: Some("entire@11".into()),
        packages: vec!["web/server".into()],
        variants: [("variant.debug.test".to_owned(), "false".to_owned())].into(),
        facets: [("facet.doc.man".to_owned(), false)].into(),
        ..IpsPayload::default()
    }
}

fn run(f: &Fixture, exits: &[(&str, &str)]) -> Result<(StagingTree, Vec<String>), String> {
    let pkg = SystemPkg {
        program: f.program.clone(),
        request: request(),
        approve_ca_certs: vec![("extra".into(), PathBuf::from("/certs/extra-ca.pem"))],
    };
    // The stand-in reads its settings from the environment of the child only.
    let script = Path::new(&f.program).with_file_name("pkg-env");
    let mut env = format!(
        "#!/bin/sh\nexport PKG_LOG='{}' PKG_FIXTURE='{}'\n",
        f.log.display(),
        f.program.with_file_name("manifests").display()
    );
    for (k, v) in exits {
        env.push_str(&format!("export PKG_EXIT_{k}={v}\n"));
    }
    env.push_str(&format!("exec '{}' \"$@\"\n", f.program.display()));
    std::fs::write(&script, env).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pkg = SystemPkg {
        program: script,
        ..pkg
    };
    std::fs::create_dir_all(f.tree_root.parent().unwrap()).unwrap();
    let mut tree = StagingTree::create(&f.tree_root).unwrap();
    match pkg.install(&mut tree) {
        Ok(installed) => Ok((tree, installed)),
        Err(e) => Err(format!("{e:?} {e}")),
    }
}

fn log_lines(f: &Fixture) -> Vec<String> {
    std::fs::read_to_string(&f.log)
        .unwrap()
        .lines()
        .map(|l| {
            // The scratch image's name is random: show it as IMG.
            l.split(' ')
                .map(|w| {
                    if w.contains(".forger-pkg-image-") {
                        "IMG"
                    } else {
                        w
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn pkg_commands_come_in_kayaks_order_with_every_setting() {
    let f = fixture();
    let (_, installed) = run(&f, &[]).unwrap();
    assert_eq!(
        log_lines(&f),
        [
            "image-create --full --publisher test=file:///repo/one \
             --variant variant.arch=i386 --variant variant.debug.test=false \
             --variant variant.opensolaris.imagetype=full \
             --variant variant.opensolaris.zone=global --facet facet.doc.man=False IMG",
            "-R IMG set-publisher -g https://depot.example/extra/ extra",
            "-R IMG set-publisher --approve-ca-cert /certs/extra-ca.pem extra",
            "-R IMG install --accept --no-index entire@11",
            "-R IMG install --accept --no-index web/server",
        ]
    );
    assert_eq!(
        installed,
        [
            "pkg://test/entire@11,5.11-151054.0:20250101T000000Z",
            "pkg://test/web/server@2.0,5.11-151054.0:20250101T000000Z",
        ]
    );
}

#[test]
fn owners_and_modes_come_from_the_installed_manifests() {
    let f = fixture();
    let (tree, _) = run(&f, &[]).unwrap();
    // The stand-in's passwd/group hold no entries, so names resolve through illumos's fixed
    // system ids (daemon 1, bin 2, sys 3), as the native client does for a bare image.
    let m = |p: &str| {
        tree.manifest
            .get(&StagePath::new(p).unwrap())
            .unwrap()
            .clone()
    };
    let server = m("srv/www/server");
    assert_eq!(
        (server.uid, server.gid, server.mode & 0o7777),
        (1, 2, 0o555)
    );
    let www = m("srv/www");
    assert_eq!((www.uid, www.gid, www.mode & 0o7777), (1, 2, 0o750));
    let srv = m("srv");
    assert_eq!((srv.uid, srv.gid), (0, 3));
    let alias = m("srv/www/server-alias");
    assert!(
        matches!(alias.kind, EntryKind::Hardlink { .. }),
        "{alias:?}"
    );
    assert_eq!((alias.uid, alias.mode & 0o7777), (1, 0o555));
    // Made by pkg, delivered by no action: root's, not the builder's.
    let state = m("var/pkg/state/installed");
    assert_eq!((state.uid, state.gid), (0, 0));
    // The debug variant is off: the stand-in delivered the file anyway, and the action the
    // image excludes did not lend it its mode or owner.
    let debug = m("srv/www/debug.so");
    assert_eq!((debug.uid, debug.mode & 0o7777), (0, 0o644));
}

#[test]
fn exit_status_4_is_nothing_to_do_and_other_failures_carry_pkgs_reason() {
    let f = fixture();
    // set-publisher answering 4 ("no changes") is fine.
    run(&f, &[("set_publisher", "4")]).unwrap();

    let f = fixture();
    let err = run(&f, &[("install", "1")]).unwrap_err();
    assert!(
        err.contains("pkg install --accept --no-index entire@11"),
        "{err}"
    );
    assert!(err.contains("exit 1"), "{err}");
    assert!(err.contains("install refused by the stand-in"), "{err}");
    assert!(!f.tree_root.join("srv").exists());
    // The scratch image is gone with the failed build.
    let leftovers: Vec<_> = std::fs::read_dir(f.tree_root.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("forger-pkg-image"))
        .collect();
    assert!(leftovers.is_empty());
}
