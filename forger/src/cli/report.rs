//! Reporters: build events as progress bars (pretty), JSON lines (json) or nothing (quiet).
//! Errors are rendered by miette in every mode; JSON mode also emits an `error` event.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use miette::Diagnostic;
use serde_json::json;

use super::OutputMode;
use crate::build::Events;
use crate::cache::Lookup;

/// Prints build events for one output mode.
pub struct Reporter {
    mode: OutputMode,
    /// Spinners of the stages running now (targets are written side by side).
    bars: MultiProgress,
    running: Vec<(String, ProgressBar)>,
}

impl Reporter {
    /// A reporter for `mode`.
    pub fn new(mode: OutputMode) -> Self {
        Reporter {
            mode,
            bars: MultiProgress::new(),
            running: Vec::new(),
        }
    }

    /// A line on stderr, above the running spinners when they are drawn (indicatif drops
    /// lines printed through hidden bars, as when stderr is not a terminal).
    fn line(&self, text: String) {
        if self.running.is_empty() || self.bars.is_hidden() {
            eprintln!("{text}");
        } else {
            let _ = self.bars.println(text);
        }
    }

    fn json(value: serde_json::Value) {
        stdout_line(value);
    }

    /// Renders an error: miette's graphical report on stderr, plus an `error` event in JSON mode.
    pub fn error(&mut self, err: &crate::Error) {
        for (_, bar) in self.running.drain(..) {
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
                let bar = self.bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} [{elapsed}]")
                        .expect("the template is valid"),
                );
                bar.set_prefix(stage.to_owned());
                bar.set_message(detail.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
                self.running.push((stage.to_owned(), bar));
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
                if let Some(i) = self.running.iter().position(|(s, _)| s == stage) {
                    let (_, bar) = self.running.remove(i);
                    bar.finish_and_clear();
                    self.bars.remove(&bar);
                }
                self.line(format!("✓ {stage:<24} {:>8.2}s", elapsed.as_secs_f64()));
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
                self.line(format!("warning[{code}]: {message}"));
            }
            OutputMode::Json => {
                Self::json(json!({"event": "warning", "code": code, "message": message}))
            }
            OutputMode::Quiet => {}
        }
    }

    fn cache(&mut self, stage: &str, lookup: Lookup) {
        match self.mode {
            OutputMode::Pretty => self.line(format!(
                "{} {stage:<24} cache {}",
                if lookup.is_hit() { "✓" } else { "·" },
                lookup.label()
            )),
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
