//! Diagnostics: what went wrong (or looks wrong), where in the config tree,
//! and where in the source text.

use std::fmt;

use crate::yaml::{Node, Span};

/// One step of a path into the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
    /// The key text of a mapping entry rather than its value (unused keys
    /// are reported at the key).
    KeyOf(String),
}

/// A path into the config, printed the way Butane prints it
/// (`$.storage.files.0.path`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn root() -> Self {
        Path(Vec::new())
    }
    pub fn key(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    pub fn index(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
    pub fn key_of(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::KeyOf(k.to_string()));
        p
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for s in &self.0 {
            match s {
                Seg::Key(k) | Seg::KeyOf(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, ".{i}")?,
            }
        }
        Ok(())
    }
}

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

    /// Gives every entry without a span the span of the deepest node of its
    /// path that exists in `root` (as Butane correlates report entries with
    /// its YAML context tree).
    pub fn locate(&mut self, root: Option<&Node>) {
        let Some(root) = root else { return };
        for d in &mut self.entries {
            if d.span.is_some() {
                continue;
            }
            let Some(path) = &d.path else { continue };
            let mut node = root;
            let mut span = root.span;
            for seg in &path.0 {
                if let Seg::KeyOf(k) = seg {
                    if let Some(key) = node.key_node(k) {
                        span = key.span;
                    }
                    break;
                }
                match node.child(seg) {
                    Some(child) => {
                        node = child;
                        span = child.span;
                    }
                    None => break,
                }
            }
            d.span = Some(span);
        }
    }
}
