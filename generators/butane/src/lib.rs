//! Butane (variant `flatcar`, spec 1.0.0 and 1.1.0) to Ignition JSON (3.3.0
//! and 3.4.0), following Butane's behaviour: the same inputs are accepted,
//! produce the same output, and are rejected with the same messages, each
//! placed at a line and column of the source.
//!
//! The pipeline mirrors Butane's: read and parse YAML (`yaml`) -> decode
//! into the Butane schema (`decode` into `schema`; unknown keys are
//! warnings) -> Butane's checks on the source (`validate`) -> translate
//! into Ignition's types (`translate`) -> Ignition's rules on the result
//! (`ignition::validate`) -> JSON (`json`).
//!
//! The modules are layered, each importing only from layers below it
//! (`tests/module_graph.rs` fails on a cycle and on Ignition code reaching
//! into Butane's):
//! - this facade, and `render` (with `snippet`) for printing diagnostics;
//! - Butane's side: `decode`, `validate` and `translate`, over `schema`
//!   and `yaml`;
//! - Ignition's side, `ignition`: types, rules, the served-config check;
//! - neutral ground: `diag` (diagnostics), `path` (where in the config
//!   tree), `span` (where in the text), `origin` (which source entry an
//!   output entry came from), `json` (Go-style JSON output).
//!
//! Only the facade is public: [`translate()`], [`render()`],
//! [`source_text`], [`served`] and the types they take and return.

mod decode;
mod diag;
mod ignition;
mod json;
mod origin;
mod path;
mod render;
mod schema;
mod snippet;
mod span;
mod translate;
mod validate;
mod yaml;

use std::path::PathBuf;

pub use diag::{Diagnostic, Report, Severity};
pub use ignition::served;
pub use path::{Path, Seg};
pub use render::{render, Format};
pub use schema::Version;
pub use span::{Pos, Span};
pub use yaml::reader::source_text;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-d/--files-dir`: directory `local` contents and trees are read from.
    pub files_dir: Option<PathBuf>,
    /// Indented output (`-p/--pretty`).
    pub pretty: bool,
}

/// A successful translation: the Ignition JSON (without trailing newline)
/// and the warnings found on the way.
#[derive(Clone, Debug)]
pub struct Translated {
    pub json: String,
    pub version: Version,
    pub report: Report,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not a valid Butane config; the report says why and where.
    #[error("source config is invalid")]
    InvalidSource(Report),
    /// The translated config fails Ignition's validation.
    #[error("config generated was invalid")]
    InvalidGenerated(Report),
}

impl Error {
    pub fn report(&self) -> &Report {
        match self {
            Error::InvalidSource(r) | Error::InvalidGenerated(r) => r,
        }
    }
}

/// Translates a Butane config. `source` is the raw file content.
pub fn translate(source: &[u8], options: &Options) -> Result<Translated, Error> {
    let mut report = Report::default();
    // go-yaml refuses bad UTF-8 and raw control characters before parsing.
    let text = match yaml::reader::check(source) {
        Ok(t) => t,
        Err(e) => {
            // The span covers the one offending character.
            let end = span::Pos {
                col: e.pos.col + 1,
                offset: e.pos.offset + 1,
                ..e.pos
            };
            report.error_at(
                span::Span { start: e.pos, end },
                format!("yaml: {}", e.message),
            );
            return Err(Error::InvalidSource(report));
        }
    };
    let (root, context) = match yaml::load(&text) {
        Ok(loaded) => {
            for e in loaded.errors {
                report.error_at(
                    span::Span {
                        start: e.pos,
                        end: e.pos,
                    },
                    e.message,
                );
            }
            (loaded.root, loaded.context)
        }
        Err(e) => {
            report.error_at(
                span::Span {
                    start: e.pos,
                    end: e.pos,
                },
                format!("yaml: {}", e.message),
            );
            return Err(Error::InvalidSource(report));
        }
    };
    let result = run(root.as_ref(), context.as_ref(), options, &mut report);
    if let Some(root) = &root {
        report.locate(|path| root.span_at(path));
    }
    // Document-level problems (no variant in an empty file) point at 1:1.
    for d in &mut report.entries {
        d.span.get_or_insert(span::Span {
            start: span::Pos {
                line: 1,
                col: 1,
                offset: 0,
            },
            end: span::Pos {
                line: 1,
                col: 1,
                offset: 0,
            },
        });
    }
    match result {
        Stage::Done(json, version) => Ok(Translated {
            json,
            version,
            report,
        }),
        Stage::Source => Err(Error::InvalidSource(report)),
        Stage::Generated => Err(Error::InvalidGenerated(report)),
    }
}

enum Stage {
    Done(String, Version),
    Source,
    Generated,
}

fn run(
    root: Option<&yaml::Node>,
    context: Option<&yaml::Ctx>,
    options: &Options,
    report: &mut Report,
) -> Stage {
    let Some(version) = validate::variant_and_version(root, report) else {
        return Stage::Source;
    };
    let Some(root) = root else {
        return Stage::Source;
    };
    if report.has_errors() {
        return Stage::Source;
    }
    let config = decode::decode(root, context, version, report);
    if report.has_errors() {
        return Stage::Source;
    }
    validate::source(&config, version, report);
    if report.has_errors() {
        return Stage::Source;
    }
    let t_opts = translate::Options {
        files_dir: options.files_dir.clone(),
    };
    let (out, origins) = translate::translate(&config, version, &t_opts, report);
    if report.has_errors() {
        return Stage::Source;
    }
    if validate::field_filters(&out, &origins, report) {
        return Stage::Source;
    }
    ignition::validate::config(&out, &origins, version.ignition_spec(), report);
    if report.has_errors() {
        return Stage::Generated;
    }
    Stage::Done(json::to_string(&out, options.pretty), version)
}
