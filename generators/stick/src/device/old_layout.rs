//! Where an earlier stick on a device kept its secrets, found before
//! anything is written (see [`crate::target::write_ordered`] for why the
//! order matters).
//!
//! 1. Every GPT entry named `secrets`, from the primary *and* the backup
//!    header, read leniently (no CRC check): a region too many is only
//!    zeroed, a region too few keeps an old node's token.
//! 2. With no table that names one (erased by another tool, torn by an
//!    interrupted write, or replaced by a foreign one): every place an
//!    earlier ephemeros layout put it by default, and every FAT volume
//!    labelled `secrets` that starts on a MiB boundary in the first
//!    [`SCAN_LIMIT`] bytes (custom `--esp-size` layouts).

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::image::{SECRETS_LABEL, SECRETS_NAME};
use crate::layout::{Extent, ALIGN, MIB, SECTOR};

/// `(start, len)` of the secrets partition of every default layout
/// ephemeros has had: ESP 64 MiB + secrets 16 MiB, then 64 MiB + 1 MiB,
/// then 40 MiB + 1 MiB (git history of `Layout::default`).
pub const EARLIER_DEFAULTS: [(u64, u64); 3] = [
    (ALIGN + 64 * MIB, 16 * MIB),
    (ALIGN + 64 * MIB, MIB),
    (ALIGN + 40 * MIB, MIB),
];

/// How far the FAT-label scan looks: one sector read per MiB.
pub const SCAN_LIMIT: u64 = 4 << 30;

/// The byte ranges to zero before a new stick is written over `file`
/// (`size` bytes), sorted and merged. Never fails: what cannot be read
/// counts as absent, and the fallbacks apply.
pub fn old_secrets(file: &File, size: u64) -> Vec<Extent> {
    let mut found = table_secrets(file, size);
    if found.is_empty() {
        found.extend(
            EARLIER_DEFAULTS
                .iter()
                .map(|&(start, len)| Extent { start, len }),
        );
        found.extend(scan_fat_secrets(file, size));
    }
    merge(found, size)
}

fn read(file: &File, offset: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset).ok()?;
    Some(buf)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Entries named `secrets` of both GPT headers (UEFI spec 5.3: header at
/// LBA 1 and at the last LBA; entries at the LBA the header names).
fn table_secrets(file: &File, size: u64) -> Vec<Extent> {
    let last_lba = (size / SECTOR).saturating_sub(1);
    let mut out = Vec::new();
    for header_lba in [1, last_lba] {
        let Some(h) = read(file, header_lba * SECTOR, SECTOR as usize) else {
            continue;
        };
        if &h[..8] != b"EFI PART" {
            continue;
        }
        let (entries_lba, count, entry_size) = (u64_at(&h, 72), u32_at(&h, 80), u32_at(&h, 84));
        if !(128..=4096).contains(&entry_size) || count == 0 || count > 1024 {
            continue;
        }
        let Some(entries) = read(
            file,
            entries_lba.saturating_mul(SECTOR),
            (count * entry_size) as usize,
        ) else {
            continue;
        };
        for e in entries.chunks_exact(entry_size as usize) {
            let (first, last) = (u64_at(e, 32), u64_at(e, 40));
            let name: Vec<u16> = e[56..128]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&c| c != 0)
                .collect();
            if String::from_utf16_lossy(&name) == SECRETS_NAME && last >= first {
                out.push(Extent {
                    start: first.saturating_mul(SECTOR),
                    len: (last - first + 1).saturating_mul(SECTOR),
                });
            }
        }
    }
    out
}

/// FAT volumes labelled `secrets` starting on a MiB boundary.
fn scan_fat_secrets(file: &File, size: u64) -> Vec<Extent> {
    let mut out = Vec::new();
    let mut at = ALIGN;
    while at < size.min(SCAN_LIMIT) {
        if let Some(len) = read(file, at, SECTOR as usize).and_then(|b| secrets_volume_len(&b)) {
            out.push(Extent { start: at, len });
        }
        at += MIB;
    }
    out
}

/// The size of the FAT volume whose boot sector is `b`, if it is labelled
/// `secrets` (BPB: bytes per sector at 0x0B, total sectors at 0x13 or 0x20,
/// sectors per FAT at 0x16 (0 on FAT32); label at 0x2B, on FAT32 at 0x47).
fn secrets_volume_len(b: &[u8]) -> Option<u64> {
    if b[510..512] != [0x55, 0xAA] {
        return None;
    }
    let label_at = if u16::from_le_bytes([b[0x16], b[0x17]]) == 0 {
        0x47
    } else {
        0x2B
    };
    let mut label = [b' '; 11];
    label[..SECRETS_LABEL.len()].copy_from_slice(SECRETS_LABEL.as_bytes());
    if b[label_at..label_at + 11] != label {
        return None;
    }
    let bytes_per_sector = u64::from(u16::from_le_bytes([b[0x0B], b[0x0C]]));
    let total = match u16::from_le_bytes([b[0x13], b[0x14]]) {
        0 => u64::from(u32_at(b, 0x20)),
        n => u64::from(n),
    };
    Some(bytes_per_sector.max(SECTOR) * total.max(1))
}

/// Sorted, merged, within the usable part of the disk (the partition
/// table's own sectors are rewritten in their own step).
fn merge(mut found: Vec<Extent>, size: u64) -> Vec<Extent> {
    let usable_end = size.saturating_sub(crate::layout::BACKUP_GPT_BYTES);
    let mut clipped: Vec<Extent> = found
        .drain(..)
        .filter_map(|e| {
            let start = e.start.max(ALIGN);
            let end = e.end().min(usable_end);
            (start < end).then_some(Extent {
                start,
                len: end - start,
            })
        })
        .collect();
    clipped.sort_by_key(|e| e.start);
    let mut out: Vec<Extent> = Vec::new();
    for e in clipped {
        match out.last_mut() {
            Some(last) if e.start <= last.end() => {
                last.len = last.end().max(e.end()) - last.start;
            }
            _ => out.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_clipped_to_the_usable_disk_and_merged() {
        let size = 70 * MIB;
        let got = merge(
            vec![
                Extent {
                    start: 0,
                    len: 2 * MIB,
                },
                Extent {
                    start: 65 * MIB,
                    len: 16 * MIB,
                },
                Extent {
                    start: 41 * MIB,
                    len: MIB,
                },
                Extent {
                    start: 41 * MIB + 512,
                    len: MIB,
                },
            ],
            size,
        );
        assert_eq!(
            got,
            vec![
                Extent {
                    start: MIB,
                    len: MIB
                },
                Extent {
                    start: 41 * MIB,
                    len: MIB + 512
                },
                Extent {
                    start: 65 * MIB,
                    len: 5 * MIB - crate::layout::BACKUP_GPT_BYTES
                },
            ]
        );
    }
}
