//! Shared support for the example image programs and the end-to-end tests of the Forger
//! workspace: running external tools with their exact command line on failure, the opt-in
//! switch for slow tests, this machine's Debian mirror, and watching a VM's serial console
//! for markers.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd`, returning its output; panics with the command line when it cannot start
/// (with a hint to run the install script, which installs every tool the tests use).
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

/// True when slow tests (package installs, QEMU boots) are switched on with
/// `FORGER_SLOW_TESTS=1`; prints why a test returns early otherwise.
pub fn slow_tests_enabled(test: &str) -> bool {
    let on = std::env::var("FORGER_SLOW_TESTS").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("{test}: skipped (set FORGER_SLOW_TESTS=1 to run it)");
    }
    on
}

/// The Debian mirror this machine's apt uses (`/etc/apt/sources.list.d/debian.sources`),
/// else deb.debian.org: tests install from wherever the machine is allowed to reach.
pub fn host_debian_mirror() -> String {
    std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("URIs:").map(|u| u.trim().to_owned()))
        })
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_owned())
}

/// A headless q35 VM (TCG, 2 vCPUs, 1 GiB, serial console on stdio, no network, no reboot)
/// booting `disk` (`format`: `raw` or `qcow2`) as a snapshot that leaves the file alone:
/// under OVMF with a fresh copy of its variable store in `uefi_vars_dir` when given, else
/// under QEMU's default SeaBIOS.
pub fn qemu_vm(disk: &Path, format: &str, uefi_vars_dir: Option<&Path>) -> Command {
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args([
        "-machine",
        "q35",
        "-accel",
        "tcg",
        "-smp",
        "2",
        "-m",
        "1024",
        "-nographic",
        "-no-reboot",
        "-net",
        "none",
    ]);
    if let Some(dir) = uefi_vars_dir {
        let vars = dir.join("vars.fd");
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)
            .expect("OVMF is installed (scripts/install-test-deps.sh)");
        qemu.arg("-drive")
            .arg("if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=1,file={}",
                vars.display()
            ));
    }
    qemu.arg("-drive").arg(format!(
        "if=virtio,format={format},file={},snapshot=on",
        disk.display()
    ));
    qemu
}

/// What a console watch saw.
#[derive(Debug)]
pub struct ConsoleLog {
    /// Everything the VM printed, ANSI escapes removed.
    pub text: String,
    /// Seconds until each marker first appeared, in marker order (`None`: never).
    pub seen: Vec<Option<f64>>,
}

/// Starts `cmd` (a VM with its serial console on stdout), waits until every marker has been
/// printed or `deadline` passes, then kills it. Markers are plain substrings.
pub fn watch_console(cmd: &mut Command, markers: &[&str], deadline: Duration) -> ConsoleLog {
    let line = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {line}: {e}"));
    let mut out = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut raw = Vec::new();
    let mut seen = vec![None; markers.len()];
    while start.elapsed() < deadline && seen.iter().any(Option::is_none) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(chunk) => {
                raw.extend_from_slice(&chunk);
                let text = String::from_utf8_lossy(&raw);
                for (i, m) in markers.iter().enumerate() {
                    if seen[i].is_none() && text.contains(m) {
                        seen[i] = Some(start.elapsed().as_secs_f64());
                        eprintln!("[{:7.2}s] {m}", start.elapsed().as_secs_f64());
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = strip_ansi(&String::from_utf8_lossy(&raw));
    ConsoleLog { text, seen }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}
