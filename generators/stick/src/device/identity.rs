//! Which device is written: fixed before the prompt, checked again after
//! it, and written through the one descriptor opened for it. A stick
//! swapped for another disk while the user reads the prompt (or a
//! `/dev/disk/by-id/…` link that now points elsewhere) is refused.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::{write::open_for_writing, Assessment, SystemRoots};
use crate::error::{Error, Result};
use crate::layout::human_size;

/// What a device is, as far as telling it from another one goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub major: u32,
    pub minor: u32,
    /// Bytes, from the open descriptor.
    pub size: u64,
    pub serial: Option<String>,
}

impl Identity {
    /// Reads the identity of block device `major:minor` whose open
    /// descriptor is `file`.
    pub fn read(roots: &SystemRoots, file: &File, major: u32, minor: u32) -> Result<Identity> {
        let dir = roots.sys_dir_of(major, minor)?;
        let mut f = file;
        let size = f
            .seek(SeekFrom::End(0))
            .and_then(|s| f.seek(SeekFrom::Start(0)).map(|_| s))
            .map_err(Error::io(format!(
                "reading the size of device {major}:{minor}"
            )))?;
        Ok(Identity {
            major,
            minor,
            size,
            serial: super::probe::serial_of(&dir),
        })
    }

    /// `Ok` when `now` is the same device; else a refusal saying what
    /// changed.
    pub fn check_same(&self, now: &Identity, shown: &str) -> Result<()> {
        let mut changes = Vec::new();
        if (self.major, self.minor) != (now.major, now.minor) {
            changes.push(format!(
                "{shown} is now device {}:{}, was {}:{}",
                now.major, now.minor, self.major, self.minor
            ));
        }
        if self.size != now.size {
            changes.push(format!(
                "its size is now {}, was {}",
                human_size(now.size),
                human_size(self.size)
            ));
        }
        if self.serial != now.serial {
            changes.push(format!(
                "its serial number is now {}, was {}",
                now.serial.as_deref().unwrap_or("none"),
                self.serial.as_deref().unwrap_or("none")
            ));
        }
        if changes.is_empty() {
            return Ok(());
        }
        Err(Error::Refused(format!(
            "the device changed after it was shown ({}); nothing was written: check which stick is plugged in and run again",
            changes.join("; ")
        )))
    }
}

/// A device opened for writing (exclusively), with the identity it had
/// when opened.
#[derive(Debug)]
pub struct OpenedDevice {
    pub file: File,
    pub identity: Identity,
}

fn rdev_of(meta: &std::fs::Metadata, what: &str) -> Result<(u32, u32)> {
    if !meta.file_type().is_block_device() {
        return Err(Error::Refused(format!("{what} is not a block device")));
    }
    let rdev = meta.rdev();
    Ok((libc::major(rdev), libc::minor(rdev)))
}

impl OpenedDevice {
    /// Opens the device `assessment` describes, at `path`, and fixes its
    /// identity; refuses if what was opened is not the assessed device.
    pub fn open(roots: &SystemRoots, path: &Path, assessment: &Assessment) -> Result<OpenedDevice> {
        let (file, _) = open_for_writing(path)?;
        let shown = path.display().to_string();
        let meta = file
            .metadata()
            .map_err(Error::io(format!("reading {shown}")))?;
        let (major, minor) = rdev_of(&meta, &shown)?;
        let identity = Identity::read(roots, &file, major, minor)?;
        let assessed = Identity {
            major: assessment.major,
            minor: assessment.minor,
            size: assessment.device.size,
            serial: assessment.device.serial.clone(),
        };
        assessed.check_same(&identity, &shown)?;
        Ok(OpenedDevice { file, identity })
    }

    /// Checks, just before writing, that `path` still is the device that
    /// was opened and shown, and that the device is unchanged.
    pub fn check_still_same(&self, roots: &SystemRoots, path: &Path) -> Result<()> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::Refused(format!(
                "{shown} is gone ({e}); nothing was written: was the stick pulled out?"
            ))
        })?;
        let (major, minor) = rdev_of(&meta, &shown)?;
        let mut now = Identity::read(roots, &self.file, self.identity.major, self.identity.minor)?;
        (now.major, now.minor) = (major, minor);
        self.identity.check_same(&now, &shown)
    }
}
