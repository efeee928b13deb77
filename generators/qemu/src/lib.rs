//! Launching qemu like a node: OVMF, the stick, user networking.
//!
//! Shared by `ephemeros qemu` (interactive) and the e2e harness (serial to a
//! log file, hard timeout). The pieces are kept apart so each can be tested
//! without starting a VM:
//! - [`discover`]: where qemu and OVMF are (flags, environment, PATH,
//!   well-known paths);
//! - [`command`]: a [`VmSpec`] turned into qemu's exact argv;
//! - [`run`]: starting qemu with a hard timeout;
//! - [`kvm`]: whether KVM really works here (it often does not in CI VMs);
//! - [`console`]: cleaning a serial log of terminal escapes.

pub mod command;
pub mod console;
pub mod discover;
pub mod kvm;
pub mod run;

use std::path::PathBuf;

pub use command::{Accel, DiskBus, Display, Serial, VmSpec};
pub use discover::{Firmware, Tools};
pub use run::{Outcome, RunResult};

/// Environment variables naming the tools (contract shared with the Nix flake).
pub const ENV_QEMU: &str = "EPHEMEROS_QEMU";
pub const ENV_OVMF_CODE: &str = "EPHEMEROS_OVMF_CODE";
pub const ENV_OVMF_VARS: &str = "EPHEMEROS_OVMF_VARS";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("qemu not found: {0}")]
    QemuNotFound(String),
    #[error("OVMF firmware not found: {0}")]
    OvmfNotFound(String),
    #[error("{what} {path} does not exist")]
    Missing { what: &'static str, path: PathBuf },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("starting {program}: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("waiting for qemu: {0}")]
    Wait(std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
