//! Progress events of a build. The pipeline reports through [`Events`]; the CLI turns them
//! into progress bars, JSON lines or nothing.

use std::path::Path;
use std::time::Duration;

use crate::cache::Lookup;

/// Receives progress from a build.
pub trait Events {
    /// A stage started (`payload`, `overlays`, `target:disk`), with a detail line.
    fn stage_start(&mut self, stage: &str, detail: &str);
    /// A stage finished after `elapsed`.
    fn stage_done(&mut self, stage: &str, elapsed: Duration);
    /// Something was done only partly.
    fn warning(&mut self, code: &str, message: &str);
    /// A target's output is complete at `path`.
    fn output(&mut self, target: &str, path: &Path);
    /// The stage cache was consulted for `stage`.
    fn cache(&mut self, stage: &str, lookup: Lookup);
}

/// Ignores every event (library callers that want none).
#[derive(Debug, Default)]
pub struct NoEvents;

impl Events for NoEvents {
    fn stage_start(&mut self, _: &str, _: &str) {}
    fn stage_done(&mut self, _: &str, _: Duration) {}
    fn warning(&mut self, _: &str, _: &str) {}
    fn output(&mut self, _: &str, _: &Path) {}
    fn cache(&mut self, _: &str, _: Lookup) {}
}
