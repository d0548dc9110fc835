//! Users and overlays applied to a staged tree: owners and groups come from the image's own
//! account files, every action behaves as the spec language says, and the manifest (not the
//! host) carries ownership.

use std::fs;
use std::path::Path;

use forger::model::*;
use forger::plan::{Plan, PlanOptions};
use forger::stage::{EntryKind, StagePath, StagingTree, apply, read_text};

fn p(s: &str) -> StagePath {
    StagePath::new(s).unwrap()
}

/// A tree whose account files know `daemon` (uid 1) and group `sys` (gid 3) but not the
/// build host's users.
fn base_tree(dir: &Path) -> StagingTree {
    let root = dir.join("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:\n",
    )
    .unwrap();
    fs::write(
        root.join("etc/group"),
        "root:x:0:\nother:x:1:\nsys:x:3:root\n",
    )
    .unwrap();
    fs::write(root.join("etc/shadow"), "root:*:19000::::::\n").unwrap();
    fs::create_dir_all(root.join("var/lib/cloud/instance")).unwrap();
    fs::write(root.join("var/lib/cloud/instance/x"), "state").unwrap();
    for k in ["ssh_host_rsa_key", "ssh_host_rsa_key.pub", "sshd_config"] {
        fs::create_dir_all(root.join("etc/ssh")).unwrap();
        fs::write(root.join("etc/ssh").join(k), k).unwrap();
    }
    let mut tree = StagingTree::create(dir.join("stage")).unwrap();
    tree.import_dir(&root).unwrap();
    tree
}

fn plan_for(dir: &Path, users: Vec<User>, actions: Vec<Overlay>) -> Plan {
    fs::write(dir.join("motd.src"), "welcome\n").unwrap();
    let image = Image::builder()
        .metadata(Metadata::builder().name("t").version("1").build())
        .distro(Distro::Debian("12".into()))
        .content(
            Fragment::builder()
                .base_dir(dir)
                .customizations(vec![Customization::builder().users(users).build()])
                .overlays(vec![OverlaySet::builder().actions(actions).build()])
                .build(),
        )
        .build();
    Plan::new(
        &image,
        &PlanOptions {
            epoch: 1_700_000_000,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn users_get_passwd_group_shadow_entries_and_homes() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = base_tree(dir.path());
    let ci = User::named("ci")
        .groups(vec!["sys".into(), "docker".into()])
        .authorized_keys(vec!["ssh-ed25519 AAAA test".into()])
        .password_hash("$6$salt$hash")
        .build();
    let plan = plan_for(dir.path(), vec![ci], vec![]);
    apply(&mut tree, &plan).unwrap();
    let passwd = read_text(&tree, "/etc/passwd").unwrap();
    assert!(
        passwd.contains("ci:x:1000:1000::/home/ci:/bin/bash\n"),
        "{passwd}"
    );
    let group = read_text(&tree, "/etc/group").unwrap();
    assert!(group.contains("ci:x:1000:\n"), "{group}");
    assert!(group.contains("sys:x:3:root,ci\n"), "{group}");
    assert!(group.contains("docker:x:1001:ci\n"), "{group}");
    let shadow = read_text(&tree, "/etc/shadow").unwrap();
    assert!(shadow.contains("ci:$6$salt$hash:19675:"), "{shadow}");
    let home = tree.manifest.get(&p("/home/ci")).unwrap();
    assert_eq!((home.uid, home.gid, home.mode), (1000, 1000, 0o755));
    let keys = tree
        .manifest
        .get(&p("/home/ci/.ssh/authorized_keys"))
        .unwrap();
    assert_eq!((keys.uid, keys.gid, keys.mode), (1000, 1000, 0o600));
    assert_eq!(
        read_text(&tree, "/home/ci/.ssh/authorized_keys").unwrap(),
        "ssh-ed25519 AAAA test\n"
    );
}

#[test]
fn overlay_owners_resolve_against_the_image_not_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = base_tree(dir.path());
    let plan = plan_for(
        dir.path(),
        vec![User::new("admin")],
        vec![
            Overlay::File(
                FileOverlay::to("/etc/motd")
                    .source("motd.src")
                    .owner("daemon")
                    .group("sys")
                    .mode("640".parse().unwrap())
                    .build(),
            ),
            Overlay::EnsureDir(
                EnsureDir::at("/home/admin/.ssh")
                    .owner("admin")
                    .mode("700".parse().unwrap())
                    .build(),
            ),
            Overlay::EnsureSymlink(
                EnsureSymlink::at("/etc/nsswitch.conf")
                    .target("nsswitch.dns")
                    .build(),
            ),
            Overlay::File(FileOverlay::to("/new/dir/empty").build()),
        ],
    );
    apply(&mut tree, &plan).unwrap();
    let motd = tree.manifest.get(&p("/etc/motd")).unwrap();
    assert_eq!((motd.uid, motd.gid, motd.mode), (1, 3, 0o640));
    assert_eq!(read_text(&tree, "/etc/motd").unwrap(), "welcome\n");
    let ssh = tree.manifest.get(&p("/home/admin/.ssh")).unwrap();
    assert_eq!(
        (ssh.uid, ssh.gid, ssh.mode),
        (1000, 1000, 0o700),
        "group defaults to the owner's primary"
    );
    let link = tree.manifest.get(&p("/etc/nsswitch.conf")).unwrap();
    assert_eq!(
        link.kind,
        EntryKind::Symlink {
            target: "nsswitch.dns".into()
        }
    );
    let parent = tree.manifest.get(&p("/new/dir")).unwrap();
    assert!(parent.is_dir() && parent.mode == 0o755 && parent.uid == 0);
    assert_eq!(
        fs::metadata(tree.host_path(&p("/new/dir/empty")))
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn an_owner_unknown_to_the_image_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = base_tree(dir.path());
    let plan = plan_for(
        dir.path(),
        vec![],
        vec![Overlay::EnsureDir(
            EnsureDir::at("/srv").owner("postgres").build(),
        )],
    );
    let err = apply(&mut tree, &plan).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ensure-dir /srv: owner `postgres` is not a user of the image"
    );
    let plan = plan_for(
        dir.path(),
        vec![],
        vec![Overlay::EnsureDir(
            EnsureDir::at("/srv").group("wheel").build(),
        )],
    );
    assert!(
        apply(&mut tree, &plan)
            .unwrap_err()
            .to_string()
            .contains("group `wheel`")
    );
}

#[test]
fn remove_files_by_file_dir_and_pattern_and_shadow() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = base_tree(dir.path());
    let plan = plan_for(
        dir.path(),
        vec![],
        vec![
            Overlay::RemoveFiles(
                RemoveFiles::builder()
                    .files(vec![
                        "/etc/ssh/sshd_config".into(),
                        "/does/not/exist".into(),
                    ])
                    .dirs(vec!["/var/lib/cloud".into()])
                    .patterns(vec!["/etc/ssh/ssh_host_*".into()])
                    .build(),
            ),
            Overlay::Shadow(Shadow {
                username: "root".into(),
                password: "$5$abc".into(),
            }),
            Overlay::Shadow(Shadow {
                username: "nobody".into(),
                password: "*".into(),
            }),
        ],
    );
    apply(&mut tree, &plan).unwrap();
    assert!(tree.manifest.get(&p("/etc/ssh")).unwrap().is_dir());
    assert_eq!(tree.manifest.children(&p("/etc/ssh")).count(), 0);
    assert!(!tree.host_path(&p("/etc/ssh/ssh_host_rsa_key")).exists());
    assert!(tree.manifest.get(&p("/var/lib/cloud")).is_some());
    assert!(tree.manifest.get(&p("/var/lib/cloud/instance")).is_none());
    let shadow = read_text(&tree, "/etc/shadow").unwrap();
    assert!(shadow.starts_with("root:$5$abc:19000::::::\n"), "{shadow}");
    assert!(shadow.contains("nobody:*:19675:"), "{shadow}");
}

#[test]
fn ensure_symlink_replaces_a_directory_and_devfsadm_warns() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = base_tree(dir.path());
    let plan = plan_for(
        dir.path(),
        vec![],
        vec![
            Overlay::EnsureSymlink(EnsureSymlink::at("/var/lib/cloud").target("/tmp").build()),
            Overlay::Devfsadm,
        ],
    );
    let warnings = apply(&mut tree, &plan).unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].code, "devfsadm-offline");
    assert!(tree.manifest.get(&p("/var/lib/cloud/instance/x")).is_none());
    assert!(!tree.host_path(&p("/var/lib/cloud")).exists());
}

#[test]
fn tarball_payload_keeps_header_owners_modes_links_and_devices() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("etc")).unwrap();
    fs::write(src.join("etc/a"), "aaa").unwrap();
    // GNU tar writes owners and device nodes from its command line, as a root-made rootfs has.
    let tarball = dir.path().join("rootfs.tar.gz");
    let status = std::process::Command::new("tar")
        .args(["-czf"])
        .arg(&tarball)
        .args(["--owner=123", "--group=456", "--mode=u+s", "-C"])
        .arg(&src)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let mut tree = StagingTree::create(dir.path().join("stage")).unwrap();
    forger::payload::Payload::tarball(&tarball)
        .install(&mut tree)
        .unwrap();
    let a = tree.manifest.get(&p("/etc/a")).unwrap();
    assert_eq!((a.uid, a.gid), (123, 456));
    assert_eq!(a.mode & 0o4000, 0o4000);
    assert_eq!(read_text(&tree, "/etc/a").unwrap(), "aaa");
}
