//! Printing diagnostics: rustc-style blocks for people, one line each for
//! scripts.

use std::fmt::Write;

use crate::diag::{Diagnostic, Report, Severity};
use crate::snippet::{escape, snippet, source_line};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Source line with the span underlined; `color` adds ANSI colours.
    Human { color: bool },
    /// `FILE:LINE:COL: SEVERITY: MESSAGE [at $.path]`, one line per entry.
    Short,
    /// Butane's `--raw-errors` lines: `SEVERITY at $.path, line L col C: MESSAGE`.
    Raw,
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const BLUE: &str = "\x1b[1;34m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

pub fn render(report: &Report, file: &str, source: &str, format: Format) -> String {
    let mut out = String::new();
    for d in &report.entries {
        match format {
            Format::Short => short(&mut out, d, file),
            Format::Raw => raw(&mut out, d),
            Format::Human { color } => human(&mut out, d, file, source, color),
        }
    }
    out
}

/// Newlines in a message would break the one-line form; other control
/// characters (from quoted config values) must not reach the terminal.
fn one_line(s: &str) -> String {
    escape(&s.replace('\n', " "))
}

fn short(out: &mut String, d: &Diagnostic, file: &str) {
    let _ = match d.span {
        Some(s) => write!(
            out,
            "{file}:{}:{}: {}: {}",
            s.start.line,
            s.start.col,
            d.severity,
            one_line(&d.message)
        ),
        None => write!(out, "{file}: {}: {}", d.severity, one_line(&d.message)),
    };
    if let Some(p) = &d.path {
        if !p.0.is_empty() {
            let _ = write!(out, " [at {}]", escape(&p.to_string()));
        }
    }
    out.push('\n');
}

/// vcontext's `Entry.String()`, which butane prints for `--raw-errors`.
fn raw(out: &mut String, d: &Diagnostic) {
    // Keys come from the config, so the path is escaped like messages.
    let path = d
        .path
        .as_ref()
        .filter(|p| !p.0.is_empty())
        .map(|p| escape(&p.to_string()));
    let at = match (path, d.span) {
        (Some(p), Some(s)) => format!(" at {p}, line {} col {}", s.start.line, s.start.col),
        (None, Some(s)) => format!(" at line {} col {}", s.start.line, s.start.col),
        (Some(p), None) => format!(" at {p}"),
        (None, None) => String::new(),
    };
    let _ = writeln!(out, "{}{at}: {}", d.severity, one_line(&d.message));
}

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("{code}{s}{RESET}")
    } else {
        s.to_string()
    }
}

fn human(out: &mut String, d: &Diagnostic, file: &str, source: &str, color: bool) {
    let sev_color = if d.severity == Severity::Error {
        RED
    } else {
        YELLOW
    };
    let _ = writeln!(
        out,
        "{}{}",
        paint(&d.severity.to_string(), sev_color, color),
        paint(&format!(": {}", escape(&d.message)), BOLD, color)
    );
    let Some(span) = d.span else {
        let _ = writeln!(out, "  {} {file}", paint("-->", BLUE, color));
        if let Some(p) = &d.path {
            let _ = writeln!(out, "  = at {}", escape(&p.to_string()));
        }
        out.push('\n');
        return;
    };
    let line_no = span.start.line.max(1);
    let gutter = line_no.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}{} {file}:{line_no}:{}",
        paint("-->", BLUE, color),
        span.start.col
    );
    let bar = paint("|", BLUE, color);
    let _ = writeln!(out, "{pad} {bar}");
    let text = source_line(source, line_no);
    let start = span.start.col.saturating_sub(1);
    let end = if span.end.line == span.start.line && span.end.col > span.start.col {
        span.end.col - 1
    } else {
        usize::MAX
    };
    let shown = snippet(text, start, end);
    let _ = writeln!(
        out,
        "{} {bar} {}",
        paint(&line_no.to_string(), BLUE, color),
        shown.text
    );
    let carets = "^".repeat(shown.end - shown.start);
    let _ = writeln!(
        out,
        "{pad} {bar} {}{}",
        " ".repeat(shown.start),
        paint(&carets, sev_color, color)
    );
    if let Some(p) = &d.path {
        if !p.0.is_empty() {
            let _ = writeln!(out, "{pad} {bar}");
            let _ = writeln!(out, "{pad} = at {}", escape(&p.to_string()));
        }
    }
    out.push('\n');
}
