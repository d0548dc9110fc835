//! Every class of diagnostic, rendered with miette's graphical handler (no colours) and
//! compared with a reviewed snapshot in `tests/snapshots/<case>.txt`. Run with
//! `UPDATE_SNAPSHOTS=1` to rewrite them after a deliberate change, then review the diff.

use std::path::Path;

use miette::{GraphicalReportHandler, GraphicalTheme};

fn render(case: &str) -> String {
    // Reports name files as given; a path relative to the package keeps snapshots stable.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(manifest).unwrap();
    let err =
        kdl_compat::load(format!("tests/diag/{case}.kdl")).expect_err("the case has an error");
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false)
        .render_report(&mut out, &err)
        .unwrap();
    // The escape case names the absolute spec tree; make it machine independent.
    out.replace(&manifest.display().to_string(), "<crate>")
}

fn check(case: &str) {
    let text = render(case);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{}.txt", case.replace('/', "-")));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    assert_eq!(text, expected, "rendered report of {case} changed:\n{text}");
}

macro_rules! cases {
    ($($name:ident => $file:literal,)*) => {$(
        #[test]
        fn $name() {
            check($file);
        }
    )*};
}

cases! {
    syntax_error => "syntax",
    unknown_node_with_suggestion => "unknown-node",
    unknown_property_with_suggestion => "unknown-property",
    missing_property => "missing-property",
    wrong_value_type => "wrong-type",
    bad_size_and_mode => "bad-value",
    child_not_valid_for_target_kind => "wrong-target-child",
    include_not_found => "include-not-found",
    include_cycle => "cycle-a",
    error_inside_an_included_file => "in-include",
    include_outside_the_tree => "escape/root",
    many_errors_reported_together => "many",
    spans_in_a_v1_file => "v1-spans",
}
