//! Launching qemu like a node: OVMF, the stick, user networking.
//!
//! Shared by `ephemeros qemu` (interactive) and the e2e harness (serial to a
//! log file, hard timeout). The pieces are kept apart so each can be tested
//! without starting a VM:
//! - [`discover`]: where qemu and OVMF are (flags, environment, PATH,
//!   well-known paths);
//! - [`command`]: a [`VmSpec`] turned into qemu's exact argv;
//! - [`run`]: starting qemu with a hard timeout;
//! - [`kvm`]: whether KVM really works here for OVMF (it often does not in
//!   CI VMs);
//! - [`launch`]: running a VM under the chosen accelerator, falling back to
//!   TCG when KVM fails at run time;
//! - [`console`]: cleaning a serial log of terminal escapes;
//! - [`fake`]: a stand-in qemu for tests.

pub mod cacerts;
pub mod command;
pub mod console;
pub mod discover;
pub mod fake;
pub mod kvm;
pub mod launch;
pub mod run;

use std::path::PathBuf;

pub use command::{Accel, DiskBus, Display, Serial, VmSpec};
pub use discover::{Firmware, Tools};
pub use launch::{run_vm, AccelChoice, AccelPlan, VmRun, Watch};
pub use run::{Outcome, RunResult};

/// Environment variables naming the tools (contract shared with the Nix flake).
pub const ENV_QEMU: &str = "EPHEMEROS_QEMU";
pub const ENV_OVMF_CODE: &str = "EPHEMEROS_OVMF_CODE";
pub const ENV_OVMF_VARS: &str = "EPHEMEROS_OVMF_VARS";

/// Causes (I/O errors) are part of each message and deliberately not
/// `source`s: anyhow's `{:#}` would print them a second time. (thiserror
/// treats a field named `source` as the cause, hence `error`.)
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("qemu not found: {0}")]
    QemuNotFound(String),
    #[error("OVMF firmware not found: {0}")]
    OvmfNotFound(String),
    #[error("{what} {path} does not exist")]
    Missing { what: &'static str, path: PathBuf },
    #[error("{action} {path}: {error}")]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("starting {program}: {error}")]
    Spawn {
        program: PathBuf,
        error: std::io::Error,
    },
    #[error("waiting for qemu: {0}")]
    Wait(std::io::Error),
    #[error(
        "the guest failed under KVM: {reason}; KVM was forced (--accel kvm): \
         use --accel tcg, or --accel auto to fall back to TCG by itself"
    )]
    KvmFailed { reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    use ephemeros_node::error::chain;

    #[test]
    fn each_cause_appears_once_in_the_full_message() {
        let io = || std::io::Error::from_raw_os_error(13);
        let errors = [
            Error::Spawn {
                program: "/etc/passwd".into(),
                error: io(),
            },
            Error::Io {
                action: "reading",
                path: "/x/OVMF_VARS.fd".into(),
                error: io(),
            },
            Error::Wait(io()),
        ];
        for err in errors {
            let text = chain(&err);
            assert_eq!(text.matches("os error 13").count(), 1, "{text}");
        }
        let spawn = Error::Spawn {
            program: "/etc/passwd".into(),
            error: io(),
        };
        assert_eq!(
            chain(&spawn),
            "starting /etc/passwd: Permission denied (os error 13)"
        );
    }
}
