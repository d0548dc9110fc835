//! The native IPS client against real data and against pkg5-layout fixture repositories.
//!
//! Real data (`shared/corpus/ips/`): the OpenIndiana catalog (all four signatures, byte-exact
//! re-serialisation by our canonical writer, resolution) and published manifest lines (parsed
//! and re-serialised exactly). Fixture repositories built by `ips_fixture` in the v4 layout are
//! installed from `file://` and from an HTTP depot on 127.0.0.1, and the staged trees are
//! checked file by file against the manifests. Python's `json` and `configparser` (real
//! readers, the same modules pkg5 itself uses) check the written `/var/pkg`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use forger::payload::ips::{
    self, Action, Error, Fmri, IpsPayload, Publisher, PublisherCatalog, Varcets,
};
use forger::stage::{EntryKind, StagePath, StagingTree};

use crate::ips_fixture::{Depot, Line, RepoBuilder, TlsDepotConfig, file, quote, raw, sha1_hex};
use crate::util::run_ok;

/// `shared/corpus/ips`, found beside the repository (worktree or CI clone).
fn corpus() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for up in ["../../shared", "../../../shared", "../../main/../shared"] {
        let p = here.join(up).join("corpus/ips");
        if p.is_dir() {
            return p;
        }
    }
    panic!(
        "shared/corpus/ips not found beside the repository ({})",
        here.display()
    );
}

fn load_oi() -> PublisherCatalog {
    let dir = corpus().join("oi-userland-2016-catalog");
    PublisherCatalog::load("userland", |name| {
        std::fs::read(dir.join(name)).map_err(Error::io(dir.join(name)))
    })
    .unwrap()
}

#[test]
fn ips_oi_catalog_signatures_verify_and_reserialise_byte_for_byte() {
    let cat = load_oi();
    assert_eq!(cat.packages.len(), 2);
    let m = &cat.packages["library/desktop/mate/libmatemixer"][0];
    assert_eq!(
        m.fmri.to_string(),
        "pkg://userland/library/desktop/mate/libmatemixer@1.16.0,5.11-2016.1.1.0:20161224T161749Z"
    );
    assert_eq!(
        m.signature_sha1.as_deref(),
        Some("0a53b57199ea1fc417cb39d9c28ea16c89f8be2c")
    );
    assert_eq!(m.depends.len(), 4);
    assert_eq!(m.summary.len(), 10);
    // Every stored file verifies, and our canonical writer reproduces pkg5's bytes exactly.
    let dir = corpus().join("oi-userland-2016-catalog");
    for name in [
        "catalog.attrs",
        "catalog.base.C",
        "catalog.dependency.C",
        "catalog.summary.C",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let sig = ips::verify_signed(name, &bytes).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v.as_object_mut().unwrap().remove("_SIGNATURE");
        let (ours, our_sig) = ips::signed_json(&v);
        assert_eq!(our_sig, sig, "{name}");
        assert_eq!(ours, bytes, "{name} re-serialised differently");
        assert_eq!(cat.files[name], bytes);
    }
    // Tampering with one byte is caught.
    let mut bad = std::fs::read(dir.join("catalog.base.C")).unwrap();
    bad[20] ^= 1;
    assert!(matches!(
        ips::verify_signed("catalog.base.C", &bad),
        Err(Error::CatalogSignature { .. })
    ));
    // The catalog's action strings re-serialise exactly as pkg wrote them.
    for p in cat.iter() {
        let text = std::fs::read_to_string(dir.join("catalog.dependency.C")).unwrap()
            + &std::fs::read_to_string(dir.join("catalog.summary.C")).unwrap();
        for a in p.depends.iter().chain(&p.summary) {
            let line = serde_json::to_string(&a.to_string()).unwrap();
            assert!(text.contains(&line), "{line} not in the catalog");
        }
    }
}

#[test]
fn ips_oi_catalog_dependencies_resolve_and_explain() {
    let cat = load_oi();
    let v = Varcets {
        variants: BTreeMap::from([("variant.arch".to_owned(), "i386".to_owned())]),
        ..Varcets::default()
    };
    // The corpus holds two leaf packages of a bigger repository: their dependencies are
    // absent, which the resolver must report by name and dependent.
    let req: Vec<Fmri> = vec!["library/desktop/mate/mate-common".parse().unwrap()];
    match ips::resolve(std::slice::from_ref(&cat), &v, &req) {
        Err(Error::MissingPackage { stem, needed_by }) => {
            assert!(["SUNWcs", "shell/bash"].contains(&stem.as_str()), "{stem}");
            assert!(needed_by.contains("mate-common@1.16.0,5.11-2016.1.1.0:20161224T160903Z"));
        }
        other => panic!("expected a missing dependency, got {other:?}"),
    }
    // With a sparc image, the package itself is excluded by its variant.arch=i386.
    let sparc = Varcets {
        variants: BTreeMap::from([("variant.arch".to_owned(), "sparc".to_owned())]),
        ..Varcets::default()
    };
    let err = ips::resolve(std::slice::from_ref(&cat), &sparc, &req).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Unresolvable { .. }), "{text}");
    assert!(
        text.contains("variant.arch") && text.contains("sparc"),
        "{text}"
    );
    // Add the missing dependencies as a second publisher: now the request resolves, each
    // dependency newest-first and at least the required version.
    let tmp = tempfile::tempdir().unwrap();
    let mut repo = RepoBuilder::new(tmp.path(), "extra");
    repo.add(
        "SUNWcs",
        "0.5.11,5.11-2016.1.1.16068:20161201T000000Z",
        vec![],
    )
    .add(
        "SUNWcs",
        "0.5.11,5.11-2016.1.1.16070:20161202T000000Z",
        vec![],
    )
    .add(
        "shell/bash",
        "4.3.46,5.11-2016.0.0.0:20161201T000000Z",
        vec![],
    )
    .add(
        "shell/bash",
        "4.3.45,5.11-2016.0.0.0:20161101T000000Z",
        vec![],
    );
    repo.finish();
    let extra = PublisherCatalog::load("extra", |n| {
        let p = tmp.path().join("publisher/extra/catalog").join(n);
        std::fs::read(&p).map_err(Error::io(p))
    })
    .unwrap();
    let r = ips::resolve(&[cat, extra], &v, &req).unwrap();
    let got: Vec<String> = r.packages.iter().map(|p| p.fmri.to_string()).collect();
    assert_eq!(
        got,
        [
            "pkg://extra/SUNWcs@0.5.11,5.11-2016.1.1.16070:20161202T000000Z",
            "pkg://userland/library/desktop/mate/mate-common@1.16.0,5.11-2016.1.1.0:20161224T160903Z",
            "pkg://extra/shell/bash@4.3.46,5.11-2016.0.0.0:20161201T000000Z",
        ]
    );
}

#[test]
fn ips_real_manifest_lines_parse_and_reserialise_exactly() {
    let dir = corpus().join("manifests");
    let mut n = 0;
    for name in ["oi-nginx-1.18.0.excerpt.p5m", "oi-depend-lines.excerpt.txt"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        for line in ips::logical_lines(&text) {
            let a = Action::parse(&line).unwrap();
            assert_eq!(a.to_string(), line, "re-serialisation of a published line");
            n += 1;
        }
    }
    assert_eq!(n, 29);
    let text = std::fs::read_to_string(dir.join("oi-nginx-1.18.0.excerpt.p5m")).unwrap();
    let acts = ips::parse_manifest(&text).unwrap();
    let f = acts.iter().find(|a| a.kind == "file").unwrap();
    assert_eq!(
        f.hash.as_deref(),
        Some("4b76e83bb4bb7c87176b72ef805fe78ecae60d2c")
    );
    assert_eq!(f.values("pkg.content-hash").len(), 2);
    let summary = acts
        .iter()
        .find(|a| a.set_name() == Some("info.classification"))
        .unwrap();
    assert_eq!(
        summary.attr("value"),
        Some("org.opensolaris.category.2008:Web Services/Application and Web Servers")
    );
    // Source manifests (pkgmogrify input) use continuation lines; every action line that
    // is not a `<transform>`/`<include>` directive or macro-bearing must parse.
    for name in [
        "pkg5-src_package-pkg.p5m",
        "pkg5-src_system-zones-brand-ipkg.p5m",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let mut parsed = 0;
        for line in ips::logical_lines(&text) {
            if line.starts_with('<') || line.contains("$(") {
                continue;
            }
            Action::parse(&line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
            parsed += 1;
        }
        assert!(parsed > 5, "{name}: only {parsed} lines");
    }
}

const ROOT_TS: &str = "20250101T000000Z";

/// The OmniOS-shaped fixture repository: base system, an incorporation locking `app`, two
/// `app` versions with variant/facet-tagged files, mediated python links, a driver, users and
/// groups, hard links, preserve rules, a license, a legacy record, obsolete and renamed
/// packages.
fn build_fixture(root: &Path) -> RepoBuilder {
    let mut r = RepoBuilder::new(root, "omnios");
    let d = |p: &str, m: &str, o: &str, g: &str| {
        raw(&format!("dir group={g} mode={m} owner={o} path={p}"))
    };
    r.add(
        "SUNWcs",
        &format!("0.5.11,5.11-151054.0:{ROOT_TS}"),
        vec![
            raw("set name=pkg.summary value=\"Core Solaris\""),
            raw("set name=variant.arch value=i386 value=aarch64"),
            d("etc", "0755", "root", "sys"),
            d("etc/ftpd", "0755", "root", "sys"),
            d("etc/security", "0755", "root", "sys"),
            d("usr", "0755", "root", "sys"),
            d("usr/bin", "0755", "root", "bin"),
            d("var", "0755", "root", "sys"),
            d("var/sadm", "0755", "root", "sys"),
            d("var/sadm/install", "0755", "root", "sys"),
            file("etc/passwd", "0644", "root", "sys", "preserve=true",
                b"root:x:0:0:Super-User:/root:/usr/bin/bash\ndaemon:x:1:1::/:\nbin:x:2:2::/usr/bin:\nsys:x:3:3::/:\n"),
            file("etc/shadow", "0400", "root", "sys", "preserve=true",
                b"root:$5$abc:6445::::::\ndaemon:NP:6445::::::\nbin:NP:6445::::::\nsys:NP:6445::::::\n"),
            file("etc/group", "0644", "root", "sys", "preserve=true",
                b"root::0:\nother::1:root\nbin::2:root,daemon\nsys::3:root,bin,adm\nstaff::10:\n"),
            file("etc/ftpd/ftpusers", "0644", "root", "sys", "preserve=true", b"root\n"),
            file("etc/name_to_major", "0644", "root", "sys", "preserve=true", b"cn 0\nconsms 1\nzfs 182\n"),
            file("etc/rem_name_to_major", "0644", "root", "sys", "preserve=true", b"olddrv 190\n"),
            file("etc/driver_aliases", "0644", "root", "sys", "preserve=true", b"cn \"cn\"\n"),
            file("etc/minor_perm", "0644", "root", "sys", "preserve=true", b"cn:* 0620 root tty\n"),
            file("etc/motd.local", "0644", "root", "sys", "preserve=legacy", b"only on upgrade\n"),
            file("usr/bin/ksh93", "0555", "root", "bin", "timestamp=20200102T030405Z", b"#!ksh93 binary\n"),
            raw("hardlink path=usr/bin/ksh target=ksh93"),
            raw("hardlink path=usr/bin/rksh target=../bin/ksh93"),
            raw("link path=usr/bin/sh target=ksh93"),
            raw("legacy arch=i386 category=system desc=\"core software\" hotline=\"Please contact your local service provider\" name=\"Core Solaris, (Root)\" pkg=SUNWcsr vendor=\"OmniOS\" version=11.11,REV=2009.11.11"),
            raw("depend fmri=consolidation/osnet/osnet-incorporation type=require"),
        ],
    );
    r.add(
        "consolidation/osnet/osnet-incorporation",
        &format!("0.5.11,5.11-151054.0:{ROOT_TS}"),
        vec![raw(
            "depend fmri=SUNWcs@0.5.11,5.11-151054.0 type=incorporate",
        )],
    );
    for (ver, body) in [("1.0", "app one\n"), ("2.0", "app two\n")] {
        r.add(
            "app",
            &format!("{ver},5.11-151054.0:{ROOT_TS}"),
            vec![
                raw("set name=pkg.summary value=\"An application\""),
                raw("dir group=bin mode=0755 owner=root path=usr/share"),
                raw("dir group=bin mode=0755 owner=root path=usr/share/app"),
                file("usr/bin/app", "0555", "root", "bin", "", body.as_bytes()),
                file(
                    "usr/bin/app.sparc",
                    "0555",
                    "root",
                    "bin",
                    "variant.arch=sparc",
                    b"sparc\n",
                ),
                file(
                    "usr/bin/app.i386",
                    "0555",
                    "root",
                    "bin",
                    "variant.arch=i386",
                    b"i386\n",
                ),
                file(
                    "usr/share/app/app.1",
                    "0444",
                    "root",
                    "bin",
                    "facet.doc.man=true",
                    b".TH app\n",
                ),
                file(
                    "usr/share/app/README.de",
                    "0444",
                    "root",
                    "bin",
                    "facet.locale.de=true",
                    b"Hallo\n",
                ),
                file(
                    "usr/share/app/debug",
                    "0444",
                    "root",
                    "bin",
                    "variant.debug.illumos=true",
                    b"dbg\n",
                ),
                Line::License {
                    name: "CDDL".into(),
                    content: b"COMMON DEVELOPMENT AND DISTRIBUTION LICENSE\n".to_vec(),
                },
                raw("depend fmri=SUNWcs type=require"),
            ],
        );
    }
    for (stem, ver, prio) in [
        ("runtime/python-39", "3.9", ""),
        ("runtime/python-311", "3.11", ""),
    ] {
        let _ = prio;
        r.add(
            stem,
            &format!("{ver},5.11-151054.0:{ROOT_TS}"),
            vec![
                file(&format!("usr/bin/python{ver}"), "0555", "root", "bin", "", format!("python {ver}\n").as_bytes()),
                raw(&format!("link mediator=python mediator-version={ver} path=usr/bin/python target=python{ver}")),
                raw(&format!("link mediator=python mediator-version={ver} path=usr/bin/pydoc target=pydoc{ver}")),
                raw("depend fmri=SUNWcs type=require"),
            ],
        );
    }
    r.add(
        "driver/fuse",
        &format!("1.4,5.11-151054.0:{ROOT_TS}"),
        vec![
            raw("dir group=sys mode=0755 owner=root path=kernel"),
            raw("dir group=sys mode=0755 owner=root path=kernel/drv"),
            file("kernel/drv/fuse", "0755", "root", "sys", "", b"\x7fELF fuse module"),
            raw("driver name=fuse alias=fuse alias='\"pci1af4,1000\"' class=fs perms=\"* 0666 root sys\" policy=\"read_priv_set=none write_priv_set=none\" privs=sys_mount,sys_config clone_perms=\"fuse 0666 root sys\" devlink=type=ddi_pseudo;name=fuse\\t\\D"),
            raw("driver name=zonedrv variant.opensolaris.zone=nonglobal"),
            raw("depend fmri=SUNWcs type=require"),
        ],
    );
    r.add(
        "service/web",
        &format!("1.0,5.11-151054.0:{ROOT_TS}"),
        vec![
            raw("group gid=150 groupname=webgrp"),
            raw("group groupname=autogrp"),
            raw("user ftpuser=false gcos-field=\"Web Server\" group=webgrp group-list=staff home-dir=/var/web login-shell=/bin/false username=webusr"),
            raw("user group=autogrp uid=200 username=other1"),
            raw("dir group=webgrp mode=0750 owner=webusr path=var/web"),
            file("var/web/index.html", "0640", "webusr", "webgrp", "", b"<html/>\n"),
            raw("depend fmri=SUNWcs type=require"),
        ],
    );
    r.add(
        "old/thing",
        &format!("1.0,5.11-151054.0:{ROOT_TS}"),
        vec![raw("set name=pkg.obsolete value=true")],
    );
    r.add(
        "old/name",
        &format!("1.0,5.11-151054.0:{ROOT_TS}"),
        vec![
            raw("set name=pkg.renamed value=true"),
            raw("depend fmri=service/web@1.0 type=require"),
        ],
    );
    r.add(
        "extra/tools",
        &format!("1.0,5.11-151054.0:{ROOT_TS}"),
        vec![],
    );
    r.add(
        "extra/zonetools",
        &format!("1.0,5.11-151054.0:{ROOT_TS}"),
        vec![],
    );
    r.add(
        "entire",
        &format!("11,5.11-151054.0:{ROOT_TS}"),
        vec![
            raw("set name=pkg.depend.install-hold value=core-os"),
            raw("depend fmri=SUNWcs type=require"),
            raw("depend fmri=app@1.0 type=incorporate"),
            raw("depend fmri=app type=require"),
            raw("depend fmri=old/thing type=group"),
            raw("depend fmri=driver/fuse type=require variant.opensolaris.zone=global"),
            raw("depend fmri=runtime/python-39 type=require"),
            raw("depend fmri=runtime/python-311 type=require"),
            raw("depend fmri=old/name type=require"),
            raw("depend fmri=absent/opt type=optional"),
            raw("depend fmri=extra/tools@1.0 type=optional"),
            raw("depend fmri=extra/zonetools type=optional variant.opensolaris.zone=nonglobal"),
        ],
    );
    r.finish();
    r
}

fn payload(origin: &str, cache: &Path) -> IpsPayload {
    IpsPayload {
        publishers: vec![Publisher {
            name: "omnios".into(),
            origin: origin.into(),
            ..Publisher::default()
        }],
        incorporation: Some("entire@11-151054".into()),
        facets: BTreeMap::from([
            ("doc.man".to_owned(), false),
            ("locale.*".to_owned(), false),
            ("locale.de".to_owned(), true),
        ]),
        cache_dir: Some(cache.to_owned()),
        source_date_epoch: 1_735_689_600,
        ..IpsPayload::default()
    }
}

fn read(tree: &StagingTree, p: &str) -> Vec<u8> {
    let mut v = Vec::new();
    tree.open_file(&StagePath::new(p).unwrap())
        .unwrap()
        .read_to_end(&mut v)
        .unwrap();
    v
}

fn text(tree: &StagingTree, p: &str) -> String {
    String::from_utf8(read(tree, p)).unwrap()
}

fn ids(tree: &StagingTree, file: &str) -> BTreeMap<String, u32> {
    text(tree, file)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.first()?.to_string(), f.get(2)?.parse().ok()?))
        })
        .collect()
}

/// Checks every applicable action of every installed manifest against the staged tree.
fn check_against_manifests(tree: &StagingTree, v: &Varcets) -> usize {
    let (users, groups) = (ids(tree, "etc/passwd"), ids(tree, "etc/group"));
    let base = tree.root().join("var/pkg/publisher/omnios/pkg");
    let mut checked = 0;
    for stem_dir in std::fs::read_dir(&base).unwrap() {
        for m in std::fs::read_dir(stem_dir.unwrap().path()).unwrap() {
            let text = std::fs::read_to_string(m.unwrap().path()).unwrap();
            for a in ips::parse_manifest(&text).unwrap() {
                if !v.includes(&a) {
                    if let Some(p) = a.attr("path") {
                        assert!(
                            tree.manifest.get(&StagePath::new(p).unwrap()).is_none(),
                            "{p} should be filtered"
                        );
                    }
                    continue;
                }
                let Some(p) = a.attr("path") else { continue };
                let sp = StagePath::new(p).unwrap();
                if a.attr("preserve") == Some("legacy") {
                    assert!(tree.manifest.get(&sp).is_none(), "{p} has preserve=legacy");
                    continue;
                }
                if a.attr("mediator").is_some() {
                    continue;
                }
                let e = tree
                    .manifest
                    .get(&sp)
                    .unwrap_or_else(|| panic!("{p} missing"));
                match a.kind.as_str() {
                    "file" | "dir" => {
                        if !(p.starts_with("etc/") && a.attr("preserve").is_some()) {
                            assert_eq!(
                                e.mode,
                                u32::from_str_radix(a.attr("mode").unwrap(), 8).unwrap(),
                                "{p}"
                            );
                        }
                        assert_eq!(e.uid, users[a.attr("owner").unwrap()], "{p} owner");
                        assert_eq!(e.gid, groups[a.attr("group").unwrap()], "{p} group");
                        if a.kind == "file" {
                            // The first name of a hard-linked inode is the File entry.
                            assert!(
                                matches!(e.kind, EntryKind::File | EntryKind::Hardlink { .. }),
                                "{p}"
                            );
                            if a.attr("preserve").is_none() {
                                assert_eq!(
                                    sha1_hex(&read(tree, p)),
                                    a.hash.clone().unwrap(),
                                    "{p} content"
                                );
                            }
                        } else {
                            assert!(e.is_dir(), "{p}");
                        }
                    }
                    "link" => assert_eq!(
                        e.kind,
                        EntryKind::Symlink {
                            target: a.attr("target").unwrap().into()
                        },
                        "{p}"
                    ),
                    "hardlink" => {
                        let t = tree.manifest.content_path(&sp).unwrap();
                        assert!(tree.manifest.link_count(&sp) >= 2, "{p}");
                        assert_eq!(read(tree, p), read(tree, t.as_str()));
                        assert_eq!(e.mode, tree.manifest.get(t).unwrap().mode);
                        assert_eq!((e.uid, e.gid), (users["root"], groups["bin"]));
                    }
                    _ => {}
                }
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn ips_fixture_installs_from_file_and_http_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("repo");
    build_fixture(&repo_dir);
    let origin = format!("file://{}", repo_dir.display());
    let mut tree = StagingTree::create(tmp.path().join("root")).unwrap();
    let p = payload(&origin, &tmp.path().join("cache"));
    let report = p.install(&mut tree).unwrap();
    assert_eq!(
        report.installed,
        [
            "pkg://omnios/SUNWcs@0.5.11,5.11-151054.0:20250101T000000Z",
            "pkg://omnios/app@1.0,5.11-151054.0:20250101T000000Z",
            "pkg://omnios/consolidation/osnet/osnet-incorporation@0.5.11,5.11-151054.0:20250101T000000Z",
            "pkg://omnios/driver/fuse@1.4,5.11-151054.0:20250101T000000Z",
            "pkg://omnios/entire@11,5.11-151054.0:20250101T000000Z",
            "pkg://omnios/old/name@1.0,5.11-151054.0:20250101T000000Z",
            "pkg://omnios/runtime/python-311@3.11,5.11-151054.0:20250101T000000Z",
            "pkg://omnios/runtime/python-39@3.9,5.11-151054.0:20250101T000000Z",
            "pkg://omnios/service/web@1.0,5.11-151054.0:20250101T000000Z",
        ],
        "the incorporation locks app at 1.0; obsolete old/thing is not installed"
    );
    let v = p.varcets();
    let checked = check_against_manifests(&tree, &v);
    assert!(checked > 25, "{checked}");

    // Every installed entry carries the build time (or its own timestamp attribute).
    for (path, e) in tree.manifest.iter() {
        if !path.is_root()
            && path.as_str() != "usr/bin/ksh93"
            && !path.as_str().starts_with("usr/bin/ksh")
            && path.as_str() != "usr/bin/rksh"
        {
            assert_eq!(e.mtime, 1_735_689_600, "{path}");
        }
    }
    // Incorporation locking: app 1.0, not the newer 2.0.
    assert_eq!(text(&tree, "usr/bin/app"), "app one\n");
    // Variants and facets.
    for gone in [
        "usr/bin/app.sparc",
        "usr/share/app/app.1",
        "usr/share/app/debug",
        "etc/motd.local",
    ] {
        assert!(
            tree.manifest.get(&StagePath::new(gone).unwrap()).is_none(),
            "{gone}"
        );
    }
    assert_eq!(text(&tree, "usr/share/app/README.de"), "Hallo\n");
    assert_eq!(text(&tree, "usr/bin/app.i386"), "i386\n");
    // Mediated links: 3.11 beats 3.9, both links of the mediation are installed.
    let link = |p: &str| {
        tree.manifest
            .get(&StagePath::new(p).unwrap())
            .unwrap()
            .kind
            .clone()
    };
    assert_eq!(
        link("usr/bin/python"),
        EntryKind::Symlink {
            target: "python3.11".into()
        }
    );
    assert_eq!(
        link("usr/bin/pydoc"),
        EntryKind::Symlink {
            target: "pydoc3.11".into()
        }
    );
    assert_eq!(report.counts.mediations.len(), 1);
    // Hard links share the file's inode and metadata, including the timestamp attribute.
    let ksh = tree
        .manifest
        .get(&StagePath::new("usr/bin/ksh93").unwrap())
        .unwrap();
    assert_eq!(ksh.mtime, 1_577_934_245);
    assert_eq!(
        tree.manifest
            .link_count(&StagePath::new("usr/bin/ksh").unwrap()),
        3
    );
    // Users and groups, edited in the image's own files.
    let passwd = text(&tree, "etc/passwd");
    assert!(
        passwd.contains("webusr:x:100:150:Web Server:/var/web:/bin/false\n"),
        "{passwd}"
    );
    assert!(passwd.contains("other1:x:200:100:& User:/:\n"), "{passwd}");
    let group = text(&tree, "etc/group");
    assert!(
        group.contains("webgrp::150:\n") && group.contains("autogrp::100:\n"),
        "{group}"
    );
    assert!(group.contains("staff::10:webusr\n"), "{group}");
    let shadow = text(&tree, "etc/shadow");
    assert!(shadow.contains("webusr:*LK*:20089::::::\n"), "{shadow}");
    assert_eq!(text(&tree, "etc/ftpd/ftpusers"), "root\nwebusr\n");
    let web = tree
        .manifest
        .get(&StagePath::new("var/web/index.html").unwrap())
        .unwrap();
    assert_eq!((web.uid, web.gid, web.mode), (100, 150, 0o640));
    // Driver, as add_drv -b would leave it (major after the highest incl. rem_name_to_major).
    assert_eq!(
        text(&tree, "etc/name_to_major"),
        "cn 0\nconsms 1\nzfs 182\nfuse 191\n"
    );
    assert_eq!(
        text(&tree, "etc/driver_aliases"),
        "cn \"cn\"\nfuse \"fuse\"\nfuse \"pci1af4,1000\"\n"
    );
    assert_eq!(text(&tree, "etc/driver_classes"), "fuse\tfs\n");
    assert_eq!(
        text(&tree, "etc/minor_perm"),
        "cn:* 0620 root tty\nfuse:* 0666 root sys\nclone:fuse 0666 root sys\n"
    );
    assert_eq!(
        text(&tree, "etc/security/device_policy"),
        "fuse\tread_priv_set=none write_priv_set=none\n"
    );
    assert_eq!(
        text(&tree, "etc/security/extra_privs"),
        "fuse:sys_mount\nfuse:sys_config\n"
    );
    assert_eq!(
        text(&tree, "etc/devlink.tab"),
        "type=ddi_pseudo;name=fuse\t\\D\n"
    );
    assert!(
        tree.manifest
            .get(&StagePath::new("reconfigure").unwrap())
            .is_some()
    );
    assert!(!text(&tree, "etc/name_to_major").contains("zonedrv"));
    // License and legacy records.
    let lic = tree
        .manifest
        .get(&StagePath::new("var/pkg/license/app/license.CDDL").unwrap())
        .unwrap();
    assert_eq!(lic.mode, 0o444);
    let pkginfo = text(&tree, "var/sadm/pkg/SUNWcsr/pkginfo");
    assert!(
        pkginfo.starts_with("ARCH=i386\nBASEDIR=/\nCATEGORY=system\nDESC=core software\n"),
        "{pkginfo}"
    );
    assert!(
        pkginfo.contains("VERSION=11.11,REV=2009.11.11\nINSTDATE=Jan 01 2025 00:00\n"),
        "{pkginfo}"
    );

    // The same through an HTTP depot, with a fresh cache: identical tree.
    let depot = Depot::start(&repo_dir, "omnios");
    let mut tree2 = StagingTree::create(tmp.path().join("root2")).unwrap();
    let mut p2 = payload(&depot.url, &tmp.path().join("cache2"));
    p2.publishers[0].origin = depot.url.clone();
    let report2 = p2.install(&mut tree2).unwrap();
    assert_eq!(report2.installed, report.installed);
    assert!(report2.fetch.downloaded > 10);
    let reqs = depot.requests.lock().unwrap().clone();
    assert_eq!(reqs[0], "/versions/0/");
    assert!(
        reqs.iter()
            .any(|r| r.starts_with("/omnios/manifest/0/SUNWcs@0.5.11%2C5.11-151054.0%3A")),
        "{reqs:?}"
    );
    assert!(reqs.iter().any(|r| r.starts_with("/omnios/file/0/")));
    let strip = |t: &StagingTree| {
        let mut m = t.manifest.clone();
        // pkg5.image names the origin, which differs between the two installs.
        m.remove(&StagePath::new("var/pkg/pkg5.image").unwrap());
        m
    };
    assert_eq!(strip(&tree), strip(&tree2));
    for (path, e) in tree.manifest.iter() {
        if matches!(e.kind, EntryKind::File) && path.as_str() != "var/pkg/pkg5.image" {
            assert_eq!(
                read(&tree, path.as_str()),
                read(&tree2, path.as_str()),
                "{path}"
            );
        }
    }
    // An old depot without publisher prefixes is addressed without one.
    let plain = Depot::start_without_prefix(&repo_dir, "omnios");
    let mut p4 = payload(&plain.url, &tmp.path().join("cache4"));
    p4.publishers[0].origin = plain.url.clone();
    let r4 = p4
        .install(&mut StagingTree::create(tmp.path().join("root4")).unwrap())
        .unwrap();
    assert_eq!(r4.installed, report.installed);
    let reqs = plain.requests.lock().unwrap().clone();
    assert!(
        reqs.iter().skip(1).all(|r| !r.starts_with("/omnios/")),
        "{reqs:?}"
    );
    // A second install reuses the cache: nothing is downloaded.
    let mut tree3 = StagingTree::create(tmp.path().join("root3")).unwrap();
    let r3 = p2.install(&mut tree3).unwrap();
    assert_eq!(r3.fetch.downloaded, 0);
    assert!(r3.fetch.cached > 10);
}

#[test]
fn ips_var_pkg_is_a_consistent_format_4_image() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("repo");
    build_fixture(&repo_dir);
    let mut tree = StagingTree::create(tmp.path().join("root")).unwrap();
    let report = payload(
        &format!("file://{}", repo_dir.display()),
        &tmp.path().join("c"),
    )
    .install(&mut tree)
    .unwrap();
    let vp = tree.root().join("var/pkg");
    // Installed catalog lists exactly the chosen FMRIs, each manifest stored where ips.md §5
    // says and hashing to the catalog's signature-sha-1.
    let base: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vp.join("state/installed/catalog.base.C")).unwrap())
            .unwrap();
    let mut listed = Vec::new();
    for (stem, versions) in base["omnios"].as_object().unwrap() {
        for e in versions.as_array().unwrap() {
            let v = e["version"].as_str().unwrap();
            listed.push(format!("pkg://omnios/{stem}@{v}"));
            let m = std::fs::read(
                vp.join("publisher/omnios/pkg")
                    .join(quote(stem))
                    .join(quote(v)),
            )
            .unwrap();
            assert_eq!(
                sha1_hex(&m),
                e["signature-sha-1"].as_str().unwrap(),
                "{stem}"
            );
            let states: Vec<u64> = e["metadata"]["states"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_u64().unwrap())
                .collect();
            assert!(states.contains(&ips::STATE_INSTALLED));
        }
    }
    listed.sort();
    let mut want = report.installed.clone();
    want.sort();
    assert_eq!(listed, want);
    // The known catalog holds every version, the publisher catalog copies verify.
    let known: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vp.join("state/known/catalog.base.C")).unwrap())
            .unwrap();
    assert_eq!(known["omnios"]["app"].as_array().unwrap().len(), 2);
    let states = |v: &serde_json::Value| -> Vec<u64> {
        v["metadata"]["states"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_u64().unwrap())
            .collect()
    };
    // app 1.0 is installed and upgradable (2.0 is known); 2.0 is only known.
    assert_eq!(states(&known["omnios"]["app"][0]), [0, 7, 2, 4]);
    assert_eq!(states(&known["omnios"]["app"][1]), [0, 7]);
    assert_eq!(states(&known["omnios"]["old/thing"][0]), [0, 7, 8]);
    // Dependency entries of installed packages are the repository's, verbatim.
    let repo_dep: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo_dir.join("publisher/omnios/catalog/catalog.dependency.C")).unwrap(),
    )
    .unwrap();
    let inst_dep: serde_json::Value = serde_json::from_slice(
        &std::fs::read(vp.join("state/installed/catalog.dependency.C")).unwrap(),
    )
    .unwrap();
    assert_eq!(inst_dep["omnios"]["SUNWcs"], repo_dep["omnios"]["SUNWcs"]);
    assert_eq!(inst_dep["omnios"]["app"][0], repo_dep["omnios"]["app"][0]);
    assert!(inst_dep["omnios"]["app"].get(1).is_none());
    for part in [
        "catalog.attrs",
        "catalog.base.C",
        "catalog.dependency.C",
        "catalog.summary.C",
    ] {
        let b = std::fs::read(vp.join("publisher/omnios/catalog").join(part)).unwrap();
        assert_eq!(
            b,
            std::fs::read(repo_dir.join("publisher/omnios/catalog").join(part)).unwrap()
        );
    }
    for d in [
        "cache/index",
        "cache/tmp",
        "history",
        "license",
        "lost+found",
        "ssl",
        "state/known",
    ] {
        assert!(vp.join(d).is_dir(), "{d}");
    }
    // Python's json (what pkg5 reads catalogs with) and configparser (pkg5.image) accept them;
    // the signed copies verify with pkg5's own recipe.
    let script = r#"
import configparser, hashlib, json, sys
vp = sys.argv[1]
for state in ("known", "installed"):
    for part in ("catalog.attrs", "catalog.base.C", "catalog.dependency.C", "catalog.summary.C"):
        json.load(open(f"{vp}/state/{state}/{part}"))
for part in ("catalog.attrs", "catalog.base.C", "catalog.dependency.C", "catalog.summary.C"):
    d = json.load(open(f"{vp}/publisher/omnios/catalog/{part}"))
    sig = d.pop("_SIGNATURE")["sha-1"]
    assert hashlib.sha1((json.dumps(d, sort_keys=True, separators=(",", ":")) + "\n").encode()).hexdigest() == sig, part
c = configparser.RawConfigParser()
c.read(f"{vp}/pkg5.image")
assert c["image"]["version"] == "4"
assert c["variant"]["variant.arch"] == "i386"
assert c["authority_omnios"]["prefix"] == "omnios"
assert c["mediators"]["python.version"] == "3.11"
print("ok")
"#;
    let out = run_ok(Command::new("python3").arg("-c").arg(script).arg(&vp));
    assert_eq!(out.trim(), "ok");
}

#[test]
fn ips_corrupt_payload_is_refetched_once_then_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("repo");
    build_fixture(&repo_dir);
    let depot = Depot::start(&repo_dir, "omnios");
    // One damaged response: the refetch succeeds.
    depot
        .corrupt_next
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let mut tree = StagingTree::create(tmp.path().join("r1")).unwrap();
    let mut p = payload(&depot.url, &tmp.path().join("c1"));
    p.parallel_downloads = 1;
    let r = p.install(&mut tree).unwrap();
    assert_eq!(r.fetch.refetched, 1);
    // Every response damaged: a clear verification error, nothing corrupt left in the cache.
    depot
        .corrupt_next
        .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let mut tree = StagingTree::create(tmp.path().join("r2")).unwrap();
    let p = payload(&depot.url, &tmp.path().join("c2"));
    let err = p.install(&mut tree).unwrap_err();
    assert!(matches!(err, Error::PayloadHash { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("failed verification twice"), "{msg}");
    let cached = walk_files(&tmp.path().join("c2"));
    assert!(cached.is_empty(), "{cached:?}");
    // A corrupt file in a file:// repository: same error.
    let victim = walk_files(&repo_dir.join("publisher/omnios/file"))[0].clone();
    let mut b = std::fs::read(&victim).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x55;
    std::fs::write(&victim, b).unwrap();
    let mut tree = StagingTree::create(tmp.path().join("r3")).unwrap();
    let err = payload(
        &format!("file://{}", repo_dir.display()),
        &tmp.path().join("c3"),
    )
    .install(&mut tree)
    .unwrap_err();
    assert!(matches!(err, Error::PayloadHash { .. }), "{err:?}");
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn ips_resolution_failures_name_the_blocking_constraint() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("repo");
    build_fixture(&repo_dir);
    let origin = format!("file://{}", repo_dir.display());
    // A package nobody publishes.
    let mut p = payload(&origin, &tmp.path().join("c"));
    p.packages = vec!["editor/nonexistent".into()];
    let mut tree = StagingTree::create(tmp.path().join("r")).unwrap();
    let err = p.install(&mut tree).unwrap_err();
    assert!(
        matches!(&err, Error::MissingPackage { stem, .. } if stem == "editor/nonexistent"),
        "{err:?}"
    );
    // Asking for app@2 against entire's incorporation of app@1.0.
    p.packages = vec!["app@2.0".into()];
    let err = p.install(&mut tree).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Unresolvable { .. }), "{msg}");
    assert!(
        msg.contains("app@2.0") && msg.contains("incorporate 1.0") && msg.contains("entire@11"),
        "{msg}"
    );
    // kayak parity: the incorporation's optional members for this image, on request.
    p.packages.clear();
    p.with_optional = true;
    let r = p
        .install(&mut StagingTree::create(tmp.path().join("r2")).unwrap())
        .unwrap();
    assert!(
        r.installed.iter().any(|f| f.contains("/extra/tools@1.0")),
        "{:?}",
        r.installed
    );
    assert!(
        !r.installed.iter().any(|f| f.contains("zonetools")),
        "{:?}",
        r.installed
    );
    p.with_optional = false;
    // A manifest altered after publication no longer matches the catalog.
    let m = repo_dir
        .join("publisher/omnios/pkg/app")
        .join(quote(&format!("1.0,5.11-151054.0:{ROOT_TS}")));
    let mut text = std::fs::read_to_string(&m).unwrap();
    text.push_str("set name=extra value=1\n");
    std::fs::write(&m, text).unwrap();
    p.packages.clear();
    let err = p.install(&mut tree).unwrap_err();
    assert!(matches!(err, Error::ManifestHash { .. }), "{err:?}");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
fn make_pki(dir: &Path) {
    let sh = |args: &[&str]| {
        run_ok(Command::new("openssl").args(args).current_dir(dir));
    };
    sh(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=forger test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        ),
        (
            "client",
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
        ),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        sh(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ]);
        sh(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }
}

#[test]
fn ips_https_depot_with_ca_and_client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("repo");
    build_fixture(&repo_dir);
    let pki = tmp.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_pki(&pki);
    let depot = Depot::start_tls(
        &repo_dir,
        "omnios",
        TlsDepotConfig {
            cert: &pki.join("server.pem"),
            key: &pki.join("server.key"),
            client_ca: Some(&pki.join("ca.pem")),
        },
    );
    let client = ips::ClientCert {
        cert: pki.join("client.pem"),
        key: pki.join("client.key"),
    };
    let mut p = payload(&depot.url, &tmp.path().join("c"));
    p.ca_certs = vec![pki.join("ca.pem")];
    p.publishers[0].client_cert = Some(client.clone());
    let mut tree = StagingTree::create(tmp.path().join("r")).unwrap();
    let r = p.install(&mut tree).unwrap();
    assert_eq!(r.installed.len(), 9);
    assert_eq!(text(&tree, "usr/bin/app"), "app one\n");
    // Without the client certificate the depot refuses the handshake.
    p.publishers[0].client_cert = None;
    let err = p
        .install(&mut StagingTree::create(tmp.path().join("r2")).unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err:?}");
    // Without our CA the server certificate is not trusted.
    p.publishers[0].client_cert = Some(client);
    p.ca_certs.clear();
    let err = p
        .install(&mut StagingTree::create(tmp.path().join("r3")).unwrap())
        .unwrap_err();
    let chain = format!("{:?}", miette::Report::new(err));
    assert!(chain.contains("UnknownIssuer"), "{chain}");
    // A key file that is not PEM is a clear error.
    p.ca_certs = vec![pki.join("server.ext")];
    let err = p
        .install(&mut StagingTree::create(tmp.path().join("r4")).unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::Pem { .. }), "{err:?}");
}

#[test]
fn ips_two_publishers_overlays_and_conflicts() {
    let tmp = tempfile::tempdir().unwrap();
    let ts = ROOT_TS;
    let mut a = RepoBuilder::new(&tmp.path().join("a"), "alpha");
    a.add(
        "base",
        &format!("1.0,5.11-0:{ts}"),
        vec![
            raw("dir group=sys mode=0755 owner=root path=etc"),
            file(
                "etc/conf",
                "0644",
                "root",
                "sys",
                "overlay=allow",
                b"base\n",
            ),
        ],
    );
    a.add(
        "clash",
        &format!("1.0,5.11-0:{ts}"),
        vec![file("etc/conf", "0644", "root", "sys", "", b"clash\n")],
    );
    a.finish();
    let mut b = RepoBuilder::new(&tmp.path().join("b"), "beta");
    b.add(
        "site-conf",
        &format!("1.0,5.11-0:{ts}"),
        vec![
            file("etc/conf", "0644", "root", "sys", "overlay=true", b"site\n"),
            raw("depend fmri=pkg://alpha/base type=require"),
        ],
    );
    b.add("base", &format!("9.0,5.11-0:{ts}"), vec![]);
    b.finish();
    let depot = Depot::start(&tmp.path().join("b"), "beta");
    let mut p = IpsPayload {
        publishers: vec![
            Publisher {
                name: "alpha".into(),
                origin: format!("file://{}", tmp.path().join("a").display()),
                ..Publisher::default()
            },
            Publisher {
                name: "beta".into(),
                origin: depot.url.clone(),
                ..Publisher::default()
            },
        ],
        packages: vec!["site-conf".into()],
        ..IpsPayload::default()
    };
    let mut tree = StagingTree::create(tmp.path().join("r")).unwrap();
    let r = p.install(&mut tree).unwrap();
    // `base` comes from alpha (named in the dependency; also first in search order).
    assert_eq!(
        r.installed,
        [
            "pkg://alpha/base@1.0,5.11-0:20250101T000000Z",
            "pkg://beta/site-conf@1.0,5.11-0:20250101T000000Z"
        ]
    );
    // The overlaying file wins over the overlay=allow one.
    assert_eq!(text(&tree, "etc/conf"), "site\n");
    let image = text(&tree, "var/pkg/pkg5.image");
    assert!(
        image.contains("publisher-search-order = ['alpha', 'beta']"),
        "{image}"
    );
    // Two packages delivering one path without overlay attributes conflict.
    p.packages = vec!["base".into(), "clash".into()];
    let err = p
        .install(&mut StagingTree::create(tmp.path().join("r2")).unwrap())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Conflict { .. }), "{msg}");
    assert!(
        msg.contains("etc/conf") && msg.contains("alpha/base") && msg.contains("alpha/clash"),
        "{msg}"
    );
}
