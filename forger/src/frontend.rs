//! [`FrontendError`]: an error of a front end that lives in another crate (the KDL importer
//! of `kdl-compat`), carried through [`crate::Error`] with all of its diagnostics (source
//! code, labels, related reports) so the CLI renders it exactly as the front end made it.

use std::fmt;

use miette::{Diagnostic, LabeledSpan, Severity, SourceCode};

/// A boxed diagnostic from a front end.
pub struct FrontendError(Box<dyn Diagnostic + Send + Sync + 'static>);

impl FrontendError {
    /// Wraps a front end's diagnostic.
    pub fn new(inner: impl Diagnostic + Send + Sync + 'static) -> Self {
        FrontendError(Box::new(inner))
    }
}

impl fmt::Debug for FrontendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for FrontendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for FrontendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Diagnostic for FrontendError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.code()
    }
    fn severity(&self) -> Option<Severity> {
        self.0.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.help()
    }
    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.url()
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.0.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.0.related()
    }
    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.0.diagnostic_source()
    }
}
