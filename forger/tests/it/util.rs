//! Running external tools from tests: the exact command line and its stderr are printed on
//! failure, and a missing tool names the install script.

#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `cmd` and returns its output, panicking if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    let line = format!("{cmd:?}");
    cmd.output().unwrap_or_else(|e| {
        panic!("could not run {line}: {e}\n(install the test tools: scripts/install-test-deps.sh)")
    })
}

/// Runs `cmd`, panics unless it exits 0, and returns stdout as text.
pub fn run_ok(cmd: &mut Command) -> String {
    let line = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{line} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
