//! The library's typed errors. Messages name the input at fault and never
//! contain a secret value: callers print them as they are.

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
    /// The `gpt` crate refused or failed to build or read a partition table.
    #[error("partition table: {0}")]
    Gpt(String),
    /// The requested sizes do not fit, or are not usable for FAT.
    #[error("layout: {0}")]
    Layout(String),
    /// A setting's value is not acceptable (a bad hostname, port, URL, …).
    /// The message never repeats a secret value.
    #[error("{name}: {reason}")]
    Invalid { name: String, reason: String },
    /// A node setting, env file or secrets file was refused (see
    /// [`ephemeros_node::Error`]).
    #[error(transparent)]
    Node(#[from] ephemeros_node::Error),
    /// The iPXE binary is missing or unsuitable.
    #[error("{0}")]
    Ipxe(String),
    /// Writing to this device was refused for safety.
    #[error("{0}")]
    Refused(String),
    /// What was read back differs from what was written.
    #[error("verification failed: {0}")]
    Verify(String),
    /// The target does not hold an ephemeros stick (or a damaged one).
    #[error("{0}")]
    NotAStick(String),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }

    pub(crate) fn invalid(name: &str, reason: impl Into<String>) -> Error {
        Error::Invalid {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
