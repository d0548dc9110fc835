//! The `forger` binary: the earlier tool's command line on KDL specs.
//!
//! `forger build --spec F [-t T] [-p P]… [-o DIR] [--skip-push] [--output-name N]
//! [--rootfs PATH]`, `forger validate|inspect|targets|plan --spec F [-p P]`, `forger push
//! --image P --reference R [--artifact]`, global `--output pretty|json|quiet`. Specs are read
//! by `kdl-compat`; everything else is the same pipeline image programs use.

use std::process::ExitCode;

fn main() -> ExitCode {
    let result = forger::cli::run_spec(|spec| {
        kdl_compat::load(spec).map_err(|e| forger::frontend::FrontendError::new(e).into())
    });
    // Errors were rendered by the CLI.
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
