//! Block devices: what a device is (read from sysfs), whether writing to it
//! is safe, and writing a stick to it.
//!
//! Every path under `/sys`, `/proc` and `/dev` goes through [`SystemRoots`],
//! so the safety decisions run in tests on fake trees.

mod probe;
mod safety;
mod write;

pub use probe::{BlockDevice, Mount, PartitionEntry};
pub use safety::{assess, Assessment};
pub use write::{open_for_writing, write_and_verify, Phase};

use std::path::PathBuf;

/// Where the kernel's views live: `/sys`, `/proc` and `/dev` on a real
/// system, a fake tree in tests.
#[derive(Debug, Clone)]
pub struct SystemRoots {
    pub sys: PathBuf,
    pub proc: PathBuf,
    pub dev: PathBuf,
}

impl Default for SystemRoots {
    fn default() -> SystemRoots {
        SystemRoots {
            sys: PathBuf::from("/sys"),
            proc: PathBuf::from("/proc"),
            dev: PathBuf::from("/dev"),
        }
    }
}
