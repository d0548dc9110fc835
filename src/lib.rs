//! Shared support for the example image programs and the integration tests of the Forger
//! workspace: running an external reader and reporting its exact command line on failure.

use std::process::{Command, Output};

/// Runs `cmd`, returning its output; panics with the command line, status and stderr when it
/// cannot be started (with a hint to run the README's test command, which installs it).
pub fn run_tool(cmd: &mut Command) -> Output {
    let line = format!("{cmd:?}");
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!(
            "could not run {line}: {e}\nInstall the test tools with scripts/install-test-deps.sh"
        ),
    }
}

/// Runs `cmd` and panics unless it exits 0; returns its stdout as text.
pub fn run_ok(cmd: &mut Command) -> String {
    let line = format!("{cmd:?}");
    let out = run_tool(cmd);
    if !out.status.success() {
        panic!(
            "{line} failed with {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}
