//! Composition cases with small specs of their own: base chains, include order, diamonds,
//! cycles, missing files, escapes from the spec tree; checked on the Image structure.

use std::path::{Path, PathBuf};

use forger::model::{Distro, Image};
use kdl_compat::{Error, Problem};

const META: &str = "metadata name=\"{}\" version=\"1\"\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn meta(name: &str) -> String {
    META.replace("{}", name)
}

fn canonical(p: &Path) -> String {
    p.canonicalize().unwrap().display().to_string()
}

/// The first problem of an Invalid error, descending through composed files.
fn innermost(e: &Error) -> &Problem {
    let p = &e.problems()[0];
    match p {
        Problem::InComposedFile { errors, .. } => innermost(&errors[0]),
        other => other,
    }
}

#[test]
fn base_chain_is_loaded_fully_and_distro_is_inherited() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "c.kdl",
        &format!(
            "{}distro \"debian-12\"\npackages {{ package \"c\" }}\ntarget \"t\" kind=\"tar\"\n",
            meta("c")
        ),
    );
    write(
        t.path(),
        "b.kdl",
        &format!(
            "{}base \"c.kdl\"\npackages {{ package \"b\" }}\n",
            meta("b")
        ),
    );
    let a = write(t.path(), "a.kdl", &format!("{}base \"b.kdl\"\n", meta("a")));
    let image: Image = kdl_compat::load(&a).unwrap();
    let b = image.base.as_deref().unwrap();
    let c = b.base.as_deref().unwrap();
    assert_eq!(
        (
            image.metadata.name.as_str(),
            b.metadata.name.as_str(),
            c.metadata.name.as_str()
        ),
        ("a", "b", "c")
    );
    assert!(c.base.is_none());
    assert_eq!(image.distro, None, "kept as written");
    assert_eq!(
        image.distro(),
        Distro::Debian("12".into()),
        "inherited from c"
    );
    assert_eq!(c.distro, Some(Distro::Debian("12".into())));
    assert!(image.targets.is_empty(), "targets stay with the base");
    assert_eq!(c.targets.len(), 1);
    assert_eq!(b.content.packages[0].packages[0].as_str(), "b");
    assert_eq!(
        c.content.name.as_deref(),
        Some(canonical(&t.path().join("c.kdl")).as_str())
    );
}

#[test]
fn includes_keep_order_nest_and_resolve_next_to_their_file() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "parts/q.kdl", "packages { package \"q\" }\n");
    write(
        t.path(),
        "parts/p.kdl",
        "include \"q.kdl\"\npackages { package \"p\" }\n",
    );
    write(t.path(), "y.kdl", "overlays { devfsadm }\n");
    let root = write(
        t.path(),
        "root.kdl",
        &format!(
            "{}include \"parts/p.kdl\"\ninclude \"y.kdl\"\n",
            meta("root")
        ),
    );
    let image = kdl_compat::load(&root).unwrap();
    let inc = &image.content.includes;
    assert_eq!(inc.len(), 2);
    assert_eq!(
        inc[0].name.as_deref(),
        Some(canonical(&t.path().join("parts/p.kdl")).as_str())
    );
    assert_eq!(
        inc[1].name.as_deref(),
        Some(canonical(&t.path().join("y.kdl")).as_str())
    );
    assert_eq!(
        inc[0].base_dir.as_deref(),
        Some(t.path().join("parts").canonicalize().unwrap().as_path())
    );
    assert_eq!(inc[0].includes[0].packages[0].packages[0].as_str(), "q");
    assert_eq!(
        image.content.base_dir.as_deref(),
        Some(t.path().canonicalize().unwrap().as_path())
    );
}

#[test]
fn a_diamond_gives_the_same_named_fragment_on_both_routes() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "shared.kdl", "packages { package \"s\" }\n");
    write(t.path(), "l.kdl", "include \"shared.kdl\"\n");
    write(t.path(), "r.kdl", "include \"./shared.kdl\"\n");
    let root = write(
        t.path(),
        "root.kdl",
        &format!("{}include \"l.kdl\"\ninclude \"r.kdl\"\n", meta("root")),
    );
    let image = kdl_compat::load(&root).unwrap();
    let l = &image.content.includes[0].includes[0];
    let r = &image.content.includes[1].includes[0];
    assert_eq!(l, r);
    assert_eq!(
        l.name.as_deref(),
        Some(canonical(&t.path().join("shared.kdl")).as_str())
    );
}

#[test]
fn an_include_cycle_is_an_error_naming_the_chain() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "b.kdl", "include \"a.kdl\"\n");
    let a = write(
        t.path(),
        "a.kdl",
        &format!("{}include \"b.kdl\"\n", meta("a")),
    );
    let e = kdl_compat::load(&a).unwrap_err();
    let Problem::Cycle { chain, .. } = innermost(&e) else {
        panic!("cycle expected: {e:?}")
    };
    let d = t.path().display();
    assert_eq!(chain, &format!("{d}/a.kdl → {d}/b.kdl → {d}/a.kdl"));
}

#[test]
fn a_base_on_itself_is_a_cycle() {
    let t = tempfile::tempdir().unwrap();
    let a = write(t.path(), "a.kdl", &format!("{}base \"a.kdl\"\n", meta("a")));
    let e = kdl_compat::load(&a).unwrap_err();
    let Problem::Cycle { chain, .. } = &e.problems()[0] else {
        panic!("{e:?}")
    };
    let d = t.path().display();
    assert_eq!(chain, &format!("{d}/a.kdl → {d}/a.kdl"));
}

#[test]
fn a_missing_include_names_the_resolved_path() {
    let t = tempfile::tempdir().unwrap();
    let a = write(
        t.path(),
        "sub/a.kdl",
        &format!("{}include \"../nope/x.kdl\"\n", meta("a")),
    );
    let e = kdl_compat::load(&a).unwrap_err();
    let Problem::NotFound {
        resolved, written, ..
    } = &e.problems()[0]
    else {
        panic!("{e:?}")
    };
    assert_eq!(written, "../nope/x.kdl");
    assert_eq!(resolved, &t.path().join("nope/x.kdl"));
}

#[test]
fn nothing_resolves_outside_the_spec_tree() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "outside.kdl", "packages { package \"x\" }\n");
    let a = write(
        t.path(),
        "tree/a.kdl",
        &format!(
            "{}include \"../outside.kdl\"\noverlays {{ file destination=\"/x\" source=\"../../etc/passwd\"; file destination=\"/y\" source=\"/etc/passwd\" }}\n",
            meta("a")
        ),
    );
    let e = kdl_compat::load(&a).unwrap_err();
    let problems = e.problems();
    assert!(
        matches!(&problems[2], Problem::BadValue { key, .. } if key == "source"),
        "{e:?}"
    );
    assert!(
        matches!(&problems[1], Problem::BadValue { key, .. } if key == "source"),
        "{e:?}"
    );
    assert!(
        matches!(&problems[0], Problem::OutsideTree { written, .. } if written == "../outside.kdl"),
        "{e:?}"
    );
    // A symlink inside the tree that points out is refused too.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(t.path().join("outside.kdl"), t.path().join("tree/link.kdl"))
            .unwrap();
        let b = write(
            t.path(),
            "tree/b.kdl",
            &format!("{}include \"link.kdl\"\n", meta("b")),
        );
        let e = kdl_compat::load(&b).unwrap_err();
        assert!(
            matches!(&e.problems()[0], Problem::OutsideTree { .. }),
            "{e:?}"
        );
    }
}

#[test]
fn includes_may_omit_metadata_but_roots_and_bases_may_not() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "frag.kdl", "packages { package \"f\" }\n");
    let root = write(t.path(), "root.kdl", "base \"frag.kdl\"\n");
    let e = kdl_compat::load(&root).unwrap_err();
    // The root lacks metadata, and so does its base.
    assert!(
        matches!(&e.problems()[0], Problem::MissingMetadata { .. }),
        "{e:?}"
    );
    let Problem::InComposedFile { errors, how, .. } = &e.problems()[1] else {
        panic!("{e:?}")
    };
    assert_eq!(*how, "used as base");
    assert!(
        matches!(&errors[0].problems()[0], Problem::MissingMetadata { .. }),
        "{e:?}"
    );
    let ok = write(
        t.path(),
        "ok.kdl",
        &format!("{}include \"frag.kdl\"\n", meta("ok")),
    );
    let image = kdl_compat::load(&ok).unwrap();
    assert_eq!(
        image.content.includes[0].packages[0].packages[0].as_str(),
        "f"
    );
}

#[test]
fn an_include_with_a_base_is_refused() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "b.kdl", &meta("b"));
    write(t.path(), "frag.kdl", "base \"b.kdl\"\n");
    let root = write(
        t.path(),
        "root.kdl",
        &format!("{}include \"frag.kdl\"\n", meta("r")),
    );
    let e = kdl_compat::load(&root).unwrap_err();
    assert!(
        matches!(innermost(&e), Problem::BaseInInclude { .. }),
        "{e:?}"
    );
}

#[test]
fn files_of_one_composition_may_mix_kdl_versions() {
    let t = tempfile::tempdir().unwrap();
    // v1 (bare `true`), included from a v2 root (`#false`).
    write(
        t.path(),
        "v1.kdl",
        "facets { set name=\"doc.man\" value=true; }\n",
    );
    let root = write(
        t.path(),
        "root.kdl",
        "metadata name=root version=\"1\"\ninclude v1.kdl\nfacets { set name=doc.info value=#false }\n",
    );
    let image = kdl_compat::load(&root).unwrap();
    assert!(image.content.includes[0].facets[0].value);
    assert!(!image.content.facets[0].value);
}

/// Found by fuzzing: the KDL parser recurses per nesting level. Absurd nesting is a syntax
/// error, not a stack overflow (the test thread has the default 2 MiB stack).
#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for text in [
        "a {".repeat(10_000),
        "/*".repeat(10_000),
        format!("metadata name=\"x\" version=\"1\"\n{}", "a {".repeat(64)),
        format!("a {}", "{ ".repeat(64)),
    ] {
        let e = kdl_compat::load_str("deep.kdl", &text).unwrap_err();
        assert!(matches!(e, Error::Syntax { .. }), "{e:?}");
    }
}

/// The CLI turns errors into `miette::Report`s, which need `Send + Sync + 'static`.
#[test]
fn errors_convert_to_miette_reports() {
    fn report<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    let e = kdl_compat::load_str("x.kdl", "pakages {}").unwrap_err();
    report(&e);
    let r = miette::Report::new(e);
    assert!(r.to_string().contains("x.kdl"));
}
