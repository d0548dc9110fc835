//! The `forger` binary: the earlier tool's command line on KDL specs.
//!
//! `forger build --spec F [-t T] [-p P]… [-o DIR] [--skip-push] [--output-name N]
//! [--rootfs PATH] [--apt-mirror URL]… [--apt-suite S] [--apt-components C]
//! [--apt-keyring FILE]…`, `forger validate|inspect|targets|plan --spec F [-p P]`, `forger push
//! --image P --reference R [--artifact]`, global `--output pretty|json|quiet`. Specs are read
//! by `kdl-compat`; everything else is the same pipeline image programs use.

use std::path::Path;
use std::process::ExitCode;

use forger::frontend::FrontendError;
use forger::model::{Image, Metadata};

/// Loads a spec. A file meant only to be included (no `metadata`, like the corpus's
/// `common.kdl`) is checked as the content of an image named after the file, with no targets,
/// so `validate` and `inspect` work on it too.
fn load(spec: &Path) -> forger::Result<Image> {
    match kdl_compat::load(spec) {
        Ok(image) => Ok(image),
        Err(image_error) => match kdl_compat::load_fragment(spec) {
            Ok(fragment) if !has_metadata(spec) => {
                let stem = spec
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Ok(Image::builder()
                    .metadata(Metadata::builder().name(stem).version("include").build())
                    .content(fragment)
                    .build())
            }
            _ => Err(FrontendError::new(image_error).into()),
        },
    }
}

fn has_metadata(spec: &Path) -> bool {
    std::fs::read_to_string(spec)
        .is_ok_and(|t| t.lines().any(|l| l.trim_start().starts_with("metadata")))
}

fn main() -> ExitCode {
    // Errors were rendered by the CLI.
    if forger::cli::run_spec(load).is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
