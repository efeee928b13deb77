//! Errors of the boot-script side of this crate (the git side has its own,
//! [`crate::config_url::ResolveError`]).

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

    #[error("cannot read template {}: {source}", path.display())]
    ReadTemplate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid(setting: &'static str, value: &str, problem: impl Into<String>) -> Self {
        Error::InvalidSetting {
            setting,
            value: value.to_string(),
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
