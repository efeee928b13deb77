//! The protective MBR and both GPT headers, read as raw bytes.

mod common;

use std::io::{Read, Seek, SeekFrom};

use common::*;
use ephemeros_stick::layout::Layout;
use ephemeros_stick::sparse::SparseDisk;

fn build(size: u64) -> SparseDisk {
    let files = sample_secrets().files().unwrap();
    with_spec(Layout::default(), &files, |spec| {
        ephemeros_stick::build(spec, size)
    })
    .unwrap()
}

fn read(disk: &mut SparseDisk, at: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    disk.seek(SeekFrom::Start(at)).unwrap();
    disk.read_exact(&mut buf).unwrap();
    buf
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

#[test]
fn protective_mbr_covers_the_disk_and_is_capped_beyond_2_tib() {
    for (size, want) in [
        (8u64 << 30, (8u64 << 30) / 512 - 1),
        (3u64 << 40, 0xFFFF_FFFF),
    ] {
        let mut disk = build(size);
        let mbr = read(&mut disk, 0, 512);
        assert_eq!(&mbr[510..], &[0x55, 0xAA]);
        let entry = &mbr[446..462];
        assert_eq!(entry[0], 0, "not bootable");
        assert_eq!(entry[4], 0xEE, "protective type");
        assert_eq!(u32_at(entry, 8), 1, "starts at LBA 1");
        assert_eq!(
            u64::from(u32_at(entry, 12)),
            want,
            "size for a {size}-byte disk"
        );
        assert!(mbr[462..510].iter().all(|&b| b == 0), "other entries empty");
    }
}

#[test]
fn both_gpt_headers_point_at_each_other_and_the_backup_is_last() {
    let size = 8u64 << 30;
    let lbas = size / 512;
    let mut disk = build(size);
    let primary = read(&mut disk, 512, 92);
    let backup = read(&mut disk, (lbas - 1) * 512, 92);
    for h in [&primary, &backup] {
        assert_eq!(&h[..8], b"EFI PART");
        assert_eq!(u64_at(h, 40), 34, "first usable LBA");
        assert_eq!(u64_at(h, 48), lbas - 34, "last usable LBA");
        assert_eq!(u32_at(h, 80), 128, "entries");
        assert_eq!(u32_at(h, 84), 128, "entry size");
    }
    assert_eq!((u64_at(&primary, 24), u64_at(&primary, 32)), (1, lbas - 1));
    assert_eq!((u64_at(&backup, 24), u64_at(&backup, 32)), (lbas - 1, 1));
    assert_eq!(u64_at(&primary, 72), 2, "primary entries at LBA 2");
    assert_eq!(
        u64_at(&backup, 72),
        lbas - 33,
        "backup entries just before it"
    );
    assert_eq!(&primary[56..72], &backup[56..72], "same disk GUID");
    // The plan writes both ends and little in between.
    let planned = disk.planned_bytes();
    assert!(planned < 4 << 20, "{planned}");
    let last = disk.extents().last().copied().unwrap();
    assert_eq!(last.offset + last.len, size);
}
