//! Fuzz target: arbitrary bytes as a spec. Loading may fail with a report, never panic;
//! whatever loads must export to KDL that loads back to an equal model, and every labelled
//! span of a report must lie inside the text it points into (what a renderer reads). Links
//! resolve next to a name in an empty directory, so no file is read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miette::{Diagnostic, SourceCode};

const NAME: &str = "/nonexistent-fuzz-dir/spec.kdl";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match kdl_compat::load_str(NAME, text) {
        Ok(image) => {
            let out = kdl_compat::to_kdl(&image);
            let back = kdl_compat::load_str(NAME, &out)
                .unwrap_or_else(|e| panic!("export does not re-import: {e:?}\n{out}"));
            assert_eq!(image, back, "round trip differs:\n{out}");
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            spans_inside(&e, None);
        }
    }
});

/// Every label of `d` and of its related diagnostics reads from its source.
fn spans_inside(d: &dyn Diagnostic, parent: Option<&dyn SourceCode>) {
    let src = d.source_code().or(parent);
    if let Some(labels) = d.labels() {
        let src = src.expect("a labelled diagnostic has source code");
        for l in labels {
            src.read_span(l.inner(), 0, 0)
                .unwrap_or_else(|e| panic!("label {l:?} outside its source: {e}"));
        }
    }
    if let Some(related) = d.related() {
        for r in related {
            spans_inside(r, src);
        }
    }
}
