//! Block devices: what a device is (read from sysfs), whether writing to it
//! is safe, and writing a stick to it.
//!
//! Every path under `/sys`, `/proc` and `/dev` goes through [`SystemRoots`],
//! so the safety decisions run in tests on fake trees.

mod identity;
mod old_layout;
mod probe;
mod safety;
mod write;

pub use identity::{Identity, OpenedDevice};
pub use old_layout::{old_secrets, EARLIER_DEFAULTS, SCAN_LIMIT};
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

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Whether `path` (after symlinks) is a block device.
pub fn is_block_device(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_block_device())
}

/// Assesses the block device at `path` (`/dev/sdb`, `/dev/disk/by-id/…`).
pub fn assess_path(roots: &SystemRoots, path: &Path) -> Result<Assessment> {
    let meta = std::fs::metadata(path).map_err(Error::io(format!("reading {}", path.display())))?;
    if !meta.file_type().is_block_device() {
        return Err(Error::Refused(format!(
            "{} is not a block device",
            path.display()
        )));
    }
    let rdev = meta.rdev();
    let root_dev = std::fs::metadata("/").ok().map(|m| {
        let d = m.dev();
        (libc::major(d), libc::minor(d))
    });
    assess(roots, libc::major(rdev), libc::minor(rdev), root_dev)
}
