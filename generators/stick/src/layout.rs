//! Where the two partitions go on a disk of a given size.
//!
//! Partitions start on 1 MiB boundaries (flash erase blocks, and what every
//! partitioning tool does). They have fixed sizes rather than spanning the
//! device: a bigger stick gains nothing from a bigger ESP, and fixed sizes
//! keep the bytes written to any stick the same few MiB.

use crate::error::{Error, Result};

pub const SECTOR: u64 = 512;
pub const MIB: u64 = 1 << 20;
/// Partition alignment.
pub const ALIGN: u64 = MIB;
/// The backup GPT: 32 sectors of partition entries plus the header.
pub const BACKUP_GPT_BYTES: u64 = 33 * SECTOR;
/// FAT32 needs at least 65525 clusters; with 512-byte clusters plus two
/// FATs and reserved sectors that takes a little over 33 MiB. UEFI firmware
/// must read FAT32 on any disk (FAT12/16 only on removable media), so the
/// ESP is always FAT32.
pub const MIN_ESP: u64 = 34 * MIB;
pub const MIN_SECRETS: u64 = MIB;

/// The requested partition sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub esp_size: u64,
    pub secrets_size: u64,
}

impl Default for Layout {
    fn default() -> Layout {
        Layout {
            // A little over FAT32's minimum (MIN_ESP) with room for several
            // iPXE builds: on a device both FATs are written in full (stale
            // entries would corrupt the new volume), so the ESP's size is
            // most of what a rebuild writes.
            esp_size: 40 * MIB,
            // The secrets are a few KiB; a small partition keeps wiping all
            // of it on every rebuild cheap (see `image::build_over`).
            secrets_size: MIB,
        }
    }
}

/// A partition's byte range on the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub start: u64,
    pub len: u64,
}

impl Extent {
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
    pub fn first_lba(&self) -> u64 {
        self.start / SECTOR
    }
    pub fn sectors(&self) -> u64 {
        self.len / SECTOR
    }
}

/// The layout placed on a disk of a known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub disk_size: u64,
    pub esp: Extent,
    pub secrets: Extent,
}

impl Layout {
    pub fn validate(&self) -> Result<()> {
        for (name, size, min) in [
            ("ESP size", self.esp_size, MIN_ESP),
            ("secrets size", self.secrets_size, MIN_SECRETS),
        ] {
            if !size.is_multiple_of(ALIGN) {
                return Err(Error::Layout(format!(
                    "{name} {} is not a whole number of MiB",
                    human_size(size)
                )));
            }
            if size < min {
                return Err(Error::Layout(format!(
                    "{name} {} is below the minimum of {}",
                    human_size(size),
                    human_size(min)
                )));
            }
        }
        // FAT32 counts sectors in 32 bits.
        if self.esp_size / SECTOR > u64::from(u32::MAX)
            || self.secrets_size / SECTOR > u64::from(u32::MAX)
        {
            return Err(Error::Layout(
                "a partition above 2 TiB cannot hold FAT".into(),
            ));
        }
        Ok(())
    }

    /// The smallest disk this layout fits on: both partitions, the 1 MiB
    /// before them and room for the backup GPT after them, in whole MiB.
    pub fn min_disk_size(&self) -> u64 {
        ALIGN + self.esp_size + self.secrets_size + ALIGN
    }

    pub fn place(&self, disk_size: u64) -> Result<Placement> {
        self.validate()?;
        if !disk_size.is_multiple_of(SECTOR) {
            return Err(Error::Layout(format!(
                "disk size {disk_size} bytes is not a whole number of 512-byte sectors"
            )));
        }
        let esp = Extent {
            start: ALIGN,
            len: self.esp_size,
        };
        let secrets = Extent {
            start: esp.end(),
            len: self.secrets_size,
        };
        if secrets.end() + BACKUP_GPT_BYTES > disk_size {
            return Err(Error::Layout(format!(
                "the stick needs at least {} (ESP {} + secrets {} + partition table), the target has {}",
                human_size(self.min_disk_size()),
                human_size(self.esp_size),
                human_size(self.secrets_size),
                human_size(disk_size)
            )));
        }
        Ok(Placement {
            disk_size,
            esp,
            secrets,
        })
    }
}

/// Parses `64M`, `64MiB`, `1G`, `1GiB`, `512K` or plain bytes. Suffixes are
/// binary (powers of 1024), as `truncate` and `qemu-img` read them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let num: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size (examples: 80M, 1G, 83886080)"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        "t" | "tib" | "tb" => 1 << 40,
        other => {
            return Err(format!(
                "`{other}` in `{text}` is not a size unit (K, M, G, T)"
            ))
        }
    };
    num.checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// `64 MiB`, `1.5 GiB`: for messages.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_fits_its_minimum_and_not_less() {
        let l = Layout::default();
        assert_eq!(l.min_disk_size(), 43 * MIB);
        let p = l.place(l.min_disk_size()).unwrap();
        assert_eq!(p.esp.start, MIB);
        assert_eq!(p.secrets.start, 41 * MIB);
        assert_eq!(p.secrets.end(), 42 * MIB);
        assert!(l.place(42 * MIB).is_err());
    }

    #[test]
    fn odd_or_too_small_sizes_are_refused() {
        let small = Layout {
            esp_size: 32 * MIB,
            ..Layout::default()
        };
        assert!(small
            .validate()
            .unwrap_err()
            .to_string()
            .contains("minimum"));
        let odd = Layout {
            secrets_size: 3 * MIB + 1,
            ..Layout::default()
        };
        assert!(odd
            .validate()
            .unwrap_err()
            .to_string()
            .contains("whole number"));
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("80M").unwrap(), 80 * MIB);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("M").is_err());
        assert_eq!(human_size(82 * MIB), "82 MiB");
        assert_eq!(human_size(1536 * MIB), "1.5 GiB");
    }
}
