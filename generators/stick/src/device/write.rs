//! Writing a built stick to an opened block device and checking it.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::sparse::SparseDisk;
use crate::target::{verify_plan, write_ordered};

/// What [`write_and_verify`] is doing, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Writing,
    Syncing,
    Verifying,
}

/// Opens a block device for writing, exclusively: the kernel refuses
/// (EBUSY) while any partition of it is mounted or otherwise claimed, which
/// backs up the sysfs checks against races.
pub fn open_for_writing(path: &Path) -> Result<(File, u64)> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_EXCL)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EBUSY) => Error::Refused(format!(
                "{} is in use (the kernel refused exclusive access): unmount it first",
                path.display()
            )),
            _ => Error::Io {
                what: format!("opening {} for writing", path.display()),
                source: e,
            },
        })?;
    let size =
        device_size(&file).map_err(Error::io(format!("reading the size of {}", path.display())))?;
    Ok((file, size))
}

fn device_size(file: &File) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    let size = f.seek(SeekFrom::End(0))?;
    f.seek(SeekFrom::Start(0))?;
    Ok(size)
}

/// Writes the plan in the safe order, syncs, drops the device's cached pages so the check
/// reads the medium, reads every written byte back and compares, then asks
/// the kernel to re-read the partition table.
pub fn write_and_verify(
    file: &File,
    disk: &SparseDisk,
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<()> {
    // Old secrets first, then the table, then the contents: safe against a
    // failure at any write (see write_ordered).
    write_ordered(file, disk, &mut |d, t| progress(Phase::Writing, d, t))
        .map_err(Error::io("writing"))?;
    progress(Phase::Syncing, 0, 0);
    file.sync_all()
        .map_err(Error::io("flushing the written data to the device"))?;
    drop_caches(file);
    verify_plan(file, disk, &mut |d, t| progress(Phase::Verifying, d, t))?;
    reread_partitions(file);
    Ok(())
}

/// Best effort: without it the check may read the page cache instead of
/// the stick, which still proves the write path but not the medium.
fn drop_caches(file: &File) {
    // SAFETY: plain ioctl/fadvise on an open descriptor; no memory is passed.
    unsafe {
        libc::ioctl(file.as_raw_fd(), BLKFLSBUF);
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
    }
}

/// Best effort: lets udev create /dev/sdX1, /dev/disk/by-partlabel/… now
/// rather than at the next plug-in.
fn reread_partitions(file: &File) {
    // SAFETY: as above.
    unsafe {
        libc::ioctl(file.as_raw_fd(), BLKRRPART);
    }
}

// From <linux/fs.h>: _IO(0x12, 97) and _IO(0x12, 95).
const BLKFLSBUF: libc::Ioctl = 0x1261;
const BLKRRPART: libc::Ioctl = 0x125f;
