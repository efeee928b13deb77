//! Reading a block device's description from sysfs and the mount table.

use std::fs;
use std::path::{Path, PathBuf};

use super::SystemRoots;
use crate::error::{Error, Result};
use crate::layout::{human_size, SECTOR};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionEntry {
    pub name: String,
    pub number: Option<u32>,
    /// The GPT partition name (`PARTNAME` in uevent), when there is one.
    pub part_name: Option<String>,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDevice {
    /// Kernel name, e.g. `sdb`.
    pub name: String,
    /// The device's directory under /sys/devices.
    pub sys_path: PathBuf,
    pub size: u64,
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// The serial number the device reports (USB, SCSI VPD page 0x80,
    /// NVMe/MMC), when sysfs has one.
    pub serial: Option<String>,
    pub removable: bool,
    /// Attached through USB (the sysfs path runs through a USB port).
    pub usb: bool,
    /// An SD/MMC card.
    pub mmc: bool,
    pub read_only: bool,
    /// This is a partition, not a whole device.
    pub is_partition: bool,
    /// Bytes per logical sector (`queue/logical_block_size`); 512 when
    /// sysfs does not say.
    pub logical_block_size: u64,
    pub partitions: Vec<PartitionEntry>,
}

impl BlockDevice {
    /// `sdb: SanDisk Cruzer Blade, 14.9 GiB, USB, removable`
    pub fn summary(&self) -> String {
        let model = [self.vendor.as_deref(), self.model.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let mut parts = vec![
            if model.is_empty() {
                "unknown model".to_owned()
            } else {
                model
            },
            human_size(self.size),
        ];
        if let Some(serial) = &self.serial {
            parts.push(format!("serial {serial}"));
        }
        if self.usb {
            parts.push("USB".into());
        }
        if self.mmc {
            parts.push("SD/MMC".into());
        }
        parts.push(
            if self.removable {
                "removable"
            } else {
                "not removable"
            }
            .into(),
        );
        format!("{}: {}", self.name, parts.join(", "))
    }

    /// One line per current partition, or a note that there are none.
    pub fn partition_lines(&self) -> Vec<String> {
        if self.partitions.is_empty() {
            return vec!["no partitions".into()];
        }
        self.partitions
            .iter()
            .map(|p| match &p.part_name {
                Some(n) => format!("{} `{n}` {}", p.name, human_size(p.size)),
                None => format!("{} {}", p.name, human_size(p.size)),
            })
            .collect()
    }
}

/// The device's serial number: `device/serial` (NVMe, MMC), the SCSI unit
/// serial number page `device/vpd_pg80` (4-byte header, then ASCII), or
/// the `serial` of the USB device the disk hangs off.
pub fn serial_of(dir: &Path) -> Option<String> {
    let clean = |s: &str| {
        let s: String = s
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .collect();
        let s = s.trim().to_owned();
        (!s.is_empty()).then_some(s)
    };
    if let Some(s) = read_trimmed(&dir.join("device/serial")).and_then(|s| clean(&s)) {
        return Some(s);
    }
    if let Ok(page) = fs::read(dir.join("device/vpd_pg80")) {
        if let Some(s) = page
            .get(4..)
            .and_then(|b| clean(&String::from_utf8_lossy(b)))
        {
            return Some(s);
        }
    }
    let real = fs::canonicalize(dir).ok()?;
    real.ancestors()
        .skip(1)
        .take_while(|a| a.file_name().is_some_and(|n| n != "devices"))
        .find_map(|a| read_trimmed(&a.join("serial")).and_then(|s| clean(&s)))
}

/// A line of /proc/self/mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: String,
    pub target: String,
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn read_flag(path: &Path) -> bool {
    read_trimmed(path).as_deref() == Some("1")
}

impl SystemRoots {
    /// The sysfs directory of block device `major:minor`.
    pub fn sys_dir_of(&self, major: u32, minor: u32) -> Result<PathBuf> {
        let link = self.sys.join(format!("dev/block/{major}:{minor}"));
        fs::canonicalize(&link).map_err(|e| {
            Error::Refused(format!(
                "block device {major}:{minor} is not known to the kernel ({}: {e})",
                link.display()
            ))
        })
    }

    /// Describes the block device whose sysfs directory is `dir`.
    pub fn describe(&self, dir: &Path) -> Result<BlockDevice> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Error::Refused(format!("{} is not a block device directory", dir.display()))
            })?;
        let sectors: u64 = read_trimmed(&dir.join("size"))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Refused(format!("cannot read the size of {name} from sysfs")))?;
        let path_text = dir.to_string_lossy();
        let mut partitions = Vec::new();
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                let p = entry.path();
                if !p.join("partition").exists() {
                    continue;
                }
                let uevent = fs::read_to_string(p.join("uevent")).unwrap_or_default();
                let part_name = uevent
                    .lines()
                    .find_map(|l| l.strip_prefix("PARTNAME="))
                    .map(str::to_owned);
                partitions.push(PartitionEntry {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    number: read_trimmed(&p.join("partition")).and_then(|s| s.parse().ok()),
                    part_name,
                    size: read_trimmed(&p.join("size"))
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(0)
                        * SECTOR,
                });
            }
        }
        partitions.sort_by_key(|p| (p.number, p.name.clone()));
        Ok(BlockDevice {
            sys_path: dir.to_owned(),
            size: sectors * SECTOR,
            vendor: read_trimmed(&dir.join("device/vendor")),
            model: read_trimmed(&dir.join("device/model")),
            serial: serial_of(dir),
            removable: read_flag(&dir.join("removable")),
            usb: path_text.split('/').any(|c| c.starts_with("usb")),
            mmc: path_text.contains("/mmc_host/"),
            read_only: read_flag(&dir.join("ro")),
            is_partition: dir.join("partition").exists(),
            logical_block_size: read_trimmed(&dir.join("queue/logical_block_size"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(SECTOR),
            partitions,
            name,
        })
    }

    /// The mount table, with `\040`-style escapes undone.
    pub fn mounts(&self) -> Result<Vec<Mount>> {
        let path = self.proc.join("self/mounts");
        let text =
            fs::read_to_string(&path).map_err(Error::io(format!("reading {}", path.display())))?;
        Ok(text
            .lines()
            .filter_map(|l| {
                let mut f = l.split(' ');
                Some(Mount {
                    source: unescape(f.next()?),
                    target: unescape(f.next()?),
                })
            })
            .collect())
    }

    /// Active swap devices or files.
    pub fn swaps(&self) -> Vec<String> {
        fs::read_to_string(self.proc.join("swaps"))
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(unescape))
            .collect()
    }

    /// The kernel name a `/dev/...` path refers to (`/dev/disk/by-id/x` ->
    /// `sdb`), following symlinks inside the dev root.
    pub fn kernel_name(&self, dev_path: &str) -> Option<String> {
        let rest = dev_path.strip_prefix("/dev/")?;
        let resolved =
            fs::canonicalize(self.dev.join(rest)).unwrap_or_else(|_| self.dev.join(rest));
        let name = resolved.file_name()?.to_string_lossy().into_owned();
        self.sys
            .join("class/block")
            .join(&name)
            .exists()
            .then_some(name)
    }

    /// Names of devices stacked on `name` (device mapper, RAID, LVM), recursively.
    pub fn holders(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut todo = vec![name.to_owned()];
        while let Some(n) = todo.pop() {
            if let Ok(entries) = fs::read_dir(self.sys.join("class/block").join(&n).join("holders"))
            {
                for e in entries.flatten() {
                    let h = e.file_name().to_string_lossy().into_owned();
                    if !out.contains(&h) {
                        out.push(h.clone());
                        todo.push(h);
                    }
                }
            }
        }
        out
    }
}

/// /proc/self/mounts escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn mount_fields_are_unescaped() {
        assert_eq!(super::unescape(r"/media/my\040stick"), "/media/my stick");
        assert_eq!(super::unescape(r"a\134b"), r"a\b");
        assert_eq!(super::unescape(r"trailing\04"), r"trailing\04");
    }
}
