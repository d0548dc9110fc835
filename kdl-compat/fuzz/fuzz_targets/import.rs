//! Fuzz target: arbitrary bytes as a spec. Loading may fail with a report, never panic;
//! whatever loads must export to KDL that loads back to an equal model, and every error must
//! render with its labelled spans. Links resolve next to a name in an empty directory, so no file is read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match kdl_compat::load_str("/nonexistent-fuzz-dir/spec.kdl", text) {
        Ok(image) => {
            let out = kdl_compat::to_kdl(&image);
            let back = kdl_compat::load_str("/nonexistent-fuzz-dir/spec.kdl", &out)
                .unwrap_or_else(|e| panic!("export does not re-import: {e:?}\n{out}"));
            assert_eq!(image, back, "round trip differs:\n{out}");
        }
        Err(e) => {
            // Every span must lie inside its file: rendering the report checks them all.
            let mut out = String::new();
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .render_report(&mut out, &e)
                .expect("a report renders");
        }
    }
});
