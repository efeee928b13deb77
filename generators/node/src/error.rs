//! The node layer's typed errors. Messages name the input at fault and
//! never contain a secret value: callers print them as they are.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O step failed; `what` says which step and on which path.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// A setting's value is not acceptable (a bad hostname, port, URL, …).
    /// The message never repeats a secret value.
    #[error("{name}: {reason}")]
    Invalid { name: String, reason: String },
    /// A value cannot be written to an `EnvironmentFile=` so that systemd
    /// reads back exactly the same value.
    #[error("{key}: {reason}")]
    Unrepresentable { key: String, reason: String },
    /// A syntax error in an env file, at `file:line:col`.
    #[error("{file}:{line}:{col}: {message}")]
    EnvSyntax {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
}

impl Error {
    pub(crate) fn invalid(name: &str, reason: impl Into<String>) -> Error {
        Error::Invalid {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error's message as anyhow's `{:#}` prints it, each cause appended
/// after `: `. Tests across the crates use it to check that a cause is
/// named once, not repeated by a `Display` that already includes it.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        out.push_str(&format!(": {c}"));
        cause = c.source();
    }
    out
}
