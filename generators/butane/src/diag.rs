//! Diagnostics: what went wrong (or looks wrong), where in the config tree,
//! and where in the source text.

use std::fmt;

use crate::path::Path;
use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Where in the config tree; None for document-level problems.
    pub path: Option<Path>,
    /// Where in the source; filled in from `path` by [`Report::locate`].
    pub span: Option<Span>,
}

/// Everything found while translating one config, in the order found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub entries: Vec<Diagnostic>,
}

impl Report {
    pub fn error(&mut self, path: &Path, message: impl Into<String>) {
        self.push(Severity::Error, Some(path.clone()), message.into());
    }
    pub fn warn(&mut self, path: &Path, message: impl Into<String>) {
        self.push(Severity::Warning, Some(path.clone()), message.into());
    }
    pub fn error_at(&mut self, span: Span, message: impl Into<String>) {
        self.entries.push(Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            path: None,
            span: Some(span),
        });
    }
    fn push(&mut self, severity: Severity, path: Option<Path>, message: String) {
        self.entries.push(Diagnostic {
            severity,
            message,
            path,
            span: None,
        });
    }
    pub fn has_errors(&self) -> bool {
        self.entries.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn merge(&mut self, other: Report) {
        self.entries.extend(other.entries);
    }

    /// Gives every entry without a span but with a path the span
    /// `span_of` finds for that path (as Butane correlates report entries
    /// with its YAML context tree).
    pub fn locate(&mut self, span_of: impl Fn(&Path) -> Span) {
        for d in &mut self.entries {
            if d.span.is_none() {
                d.span = d.path.as_ref().map(&span_of);
            }
        }
    }
}
