//! Reporters: build events as progress bars (pretty), JSON lines (json) or nothing (quiet).
//! Errors are rendered by miette in every mode; JSON mode also emits an `error` event.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use miette::Diagnostic;
use serde_json::json;

use super::OutputMode;
use crate::build::Events;
use crate::cache::Lookup;

/// Prints build events for one output mode.
pub struct Reporter {
    mode: OutputMode,
    bar: Option<ProgressBar>,
}

impl Reporter {
    /// A reporter for `mode`.
    pub fn new(mode: OutputMode) -> Self {
        Reporter { mode, bar: None }
    }

    fn json(value: serde_json::Value) {
        stdout_line(value);
    }

    /// Renders an error: miette's graphical report on stderr, plus an `error` event in JSON mode.
    pub fn error(&mut self, err: &crate::Error) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
        if self.mode == OutputMode::Json {
            let code = err.code().map(|c| c.to_string());
            Self::json(json!({"event": "error", "code": code, "message": err.to_string()}));
        }
        let mut text = String::new();
        let handler = miette::GraphicalReportHandler::new_themed(
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                miette::GraphicalTheme::unicode()
            } else {
                miette::GraphicalTheme::unicode_nocolor()
            },
        );
        if handler.render_report(&mut text, err).is_err() {
            text = format!("error: {err}");
        }
        eprintln!("{text}");
    }

    /// Prints a final result line (pretty: stdout; json: a `result` event; quiet: nothing).
    pub fn result(&mut self, text: &str, value: serde_json::Value) {
        match self.mode {
            OutputMode::Pretty => stdout_line(text),
            OutputMode::Json => Self::json(json!({"event": "result", "result": value})),
            OutputMode::Quiet => {}
        }
    }
}

impl Events for Reporter {
    fn stage_start(&mut self, stage: &str, detail: &str) {
        match self.mode {
            OutputMode::Pretty => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} [{elapsed}]")
                        .expect("the template is valid"),
                );
                bar.set_prefix(stage.to_owned());
                bar.set_message(detail.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bar = Some(bar);
            }
            OutputMode::Json => {
                Self::json(json!({"event": "stage-start", "stage": stage, "detail": detail}))
            }
            OutputMode::Quiet => {}
        }
    }

    fn stage_done(&mut self, stage: &str, elapsed: Duration) {
        match self.mode {
            OutputMode::Pretty => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                eprintln!("✓ {stage:<24} {:>8.2}s", elapsed.as_secs_f64());
            }
            OutputMode::Json => Self::json(json!({
                "event": "stage-done", "stage": stage, "seconds": elapsed.as_secs_f64()
            })),
            OutputMode::Quiet => {}
        }
    }

    fn warning(&mut self, code: &str, message: &str) {
        match self.mode {
            OutputMode::Pretty => {
                let line = format!("warning[{code}]: {message}");
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            OutputMode::Json => {
                Self::json(json!({"event": "warning", "code": code, "message": message}))
            }
            OutputMode::Quiet => {}
        }
    }

    fn cache(&mut self, stage: &str, lookup: Lookup) {
        match self.mode {
            OutputMode::Pretty => eprintln!(
                "{} {stage:<24} cache {}",
                if lookup.is_hit() { "✓" } else { "·" },
                lookup.label()
            ),
            OutputMode::Json => {
                let (result, from) = match lookup {
                    Lookup::Hit => ("hit", Some("local")),
                    Lookup::RegistryHit => ("hit", Some("registry")),
                    Lookup::Miss => ("miss", None),
                    Lookup::Corrupt => ("corrupt", None),
                };
                let mut event = json!({"event": "cache", "stage": stage, "result": result});
                if let Some(from) = from {
                    event["from"] = json!(from);
                }
                Self::json(event)
            }
            OutputMode::Quiet => {}
        }
    }

    fn output(&mut self, target: &str, path: &Path) {
        match self.mode {
            OutputMode::Pretty => stdout_line(format_args!("{target}: {}", path.display())),
            OutputMode::Json => {
                Self::json(json!({"event": "output", "target": target, "path": path}))
            }
            OutputMode::Quiet => {}
        }
    }
}

/// Writes one line to stdout. A closed pipe (`forger plan | head`) is not an error worth a
/// panic: the reader has what it wanted, so the rest of the line is dropped.
pub(super) fn stdout_line(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
