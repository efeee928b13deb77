//! The decision whether a device may be written.
//!
//! Refused outright: a partition instead of a whole device, a read-only or
//! empty device, a device any part of which is mounted, used as swap,
//! stacked on (device mapper, RAID, LVM) or holding the running system.
//! Needs `--force`: a device that is neither removable nor attached by USB
//! or SD/MMC, because that is almost always an internal disk.

use super::{BlockDevice, SystemRoots};
use crate::error::{Error, Result};

/// What is known about a device before writing, and what stands in the way.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub device: BlockDevice,
    /// The device number the assessment is of.
    pub major: u32,
    pub minor: u32,
    /// Reasons writing is refused, even with `--force`.
    pub refusals: Vec<String>,
    /// Set when only `--force` allows writing, with the reason.
    pub needs_force: Option<String>,
}

impl Assessment {
    /// The decision: `Ok` when writing may go ahead.
    pub fn check(&self, force: bool) -> Result<()> {
        if !self.refusals.is_empty() {
            return Err(Error::Refused(format!(
                "refusing to write {}: {}",
                self.device.name,
                self.refusals.join("; ")
            )));
        }
        match (&self.needs_force, force) {
            (Some(why), false) => Err(Error::Refused(format!(
                "refusing to write {}: {why}; if this really is the stick, pass --force",
                self.device.name
            ))),
            _ => Ok(()),
        }
    }
}

/// Assesses block device `major:minor`. `root_dev` is the device number
/// holding `/` (from `stat("/")`), when known.
pub fn assess(
    roots: &SystemRoots,
    major: u32,
    minor: u32,
    root_dev: Option<(u32, u32)>,
) -> Result<Assessment> {
    let dir = roots.sys_dir_of(major, minor)?;
    let device = roots.describe(&dir)?;
    let mut refusals = Vec::new();

    if device.is_partition {
        let parent = dir
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| format!("/dev/{}", n.to_string_lossy()))
            .unwrap_or_else(|| "the whole device".into());
        refusals.push(format!(
            "it is a partition; a stick needs the whole device ({parent})"
        ));
    }
    if device.read_only {
        refusals.push("it is read-only (a write-protect switch?)".into());
    }
    if device.logical_block_size != crate::layout::SECTOR {
        refusals.push(format!(
            "it has {}-byte logical sectors; sticks are built for 512-byte sectors, which every USB stick has",
            device.logical_block_size
        ));
    }
    if device.size == 0 {
        refusals.push("it has no medium (size 0)".into());
    }

    // Every kernel name that is this device, one of its partitions, or
    // stacked on either.
    let mut family = vec![device.name.clone()];
    family.extend(device.partitions.iter().map(|p| p.name.clone()));
    let mut stacked = Vec::new();
    for name in family.clone() {
        for h in roots.holders(&name) {
            stacked.push(format!("{h} (on {name})"));
            family.push(h);
        }
    }
    if !stacked.is_empty() {
        refusals.push(format!(
            "it is in use by {} (device mapper, RAID or LVM)",
            stacked.join(", ")
        ));
    }
    for m in roots.mounts()? {
        if let Some(name) = roots.kernel_name(&m.source) {
            if family.contains(&name) {
                refusals.push(format!("{name} is mounted on {}", m.target));
            }
        }
    }
    for s in roots.swaps() {
        if let Some(name) = roots.kernel_name(&s) {
            if family.contains(&name) {
                refusals.push(format!("{name} is in use as swap"));
            }
        }
    }
    if let Some((maj, min)) = root_dev {
        if let Ok(root_dir) = roots.sys_dir_of(maj, min) {
            let root_name = root_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            if root_name.is_some_and(|n| family.contains(&n)) {
                refusals.push("it holds the running system (/)".into());
            }
        }
    }

    let needs_force = (!device.removable && !device.usb && !device.mmc).then(|| {
        "it is neither removable nor attached by USB or SD/MMC, so it is probably an internal disk".to_owned()
    });
    Ok(Assessment {
        device,
        major,
        minor,
        refusals,
        needs_force,
    })
}
