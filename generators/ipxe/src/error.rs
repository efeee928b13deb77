//! Errors of the boot script (the git remote side has its own,
//! `ephemeros_node::config_url::ResolveError`).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting that cannot be written into the script or passed to the
    /// kernel intact. `setting` names it the way a user knows it.
    #[error("invalid {setting} {value:?}: {problem}")]
    InvalidSetting {
        setting: &'static str,
        value: String,
        problem: String,
    },

    /// A template that does not compile or render. `line` is 1-based.
    #[error("template {name}{}: {detail}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Template {
        name: String,
        line: Option<usize>,
        detail: String,
    },

    /// The I/O error is part of the message and deliberately not a
    /// `source`: `{:#}` (anyhow) would print it a second time.
    #[error("cannot read template {}: {error}", path.display())]
    ReadTemplate {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid(setting: &'static str, value: &str, problem: impl Into<String>) -> Self {
        Error::InvalidSetting {
            setting,
            // A URL's credentials are never repeated (see ephemeros_node::config_url::remote::redact).
            value: ephemeros_node::config_url::remote::redact_in_text(value),
            problem: problem.into(),
        }
    }

    pub(crate) fn from_minijinja(fallback_name: &str, err: &minijinja::Error) -> Self {
        // minijinja's Display already says "… (in NAME:LINE)"; keep only the
        // kind and detail so our own prefix is not repeated.
        let detail = match err.detail() {
            Some(detail) => format!("{}: {detail}", err.kind()),
            None => err.kind().to_string(),
        };
        Error::Template {
            name: err.name().unwrap_or(fallback_name).to_string(),
            line: err.line(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use ephemeros_node::error::chain;

    #[test]
    fn a_missing_template_names_its_cause_once() {
        let err = crate::Template::from_file(std::path::Path::new("/nonexistent/t.ipxe"))
            .err()
            .unwrap();
        assert_eq!(
            chain(&err),
            "cannot read template /nonexistent/t.ipxe: No such file or directory (os error 2)"
        );
    }
}
