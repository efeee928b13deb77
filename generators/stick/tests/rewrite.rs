//! Rebuilding a stick on a device: nothing of the previous node's secrets
//! may survive anywhere the old or new secrets partition was. Runs the
//! device code path (old-GPT probe, write plan, verify) on a plain file,
//! which behaves like a block device for these calls.

mod common;

use std::fs::{File, OpenOptions};

use common::*;
use ephemeros_stick::device;
use ephemeros_stick::layout::{Layout, MIB};
use ephemeros_stick::sparse::SparseDisk;

const OLD: &[u8] = b"OLDNODE-K3S-TOKEN-7c1e";
const DEVICE_SIZE: u64 = 128 * MIB;

/// Writes a stick holding `secret` (a k3s_env of that content) the way
/// `build-stick` writes a device.
fn write_stick(file: &File, layout: Layout, secret: &[u8]) -> SparseDisk {
    let disk = plan_over(file, DEVICE_SIZE, layout, secret);
    device::write_and_verify(file, &disk, &mut |_, _, _| {}).unwrap();
    disk
}

fn fake_device(name: &str) -> (std::path::PathBuf, File) {
    let path =
        std::env::temp_dir().join(format!("ephemeros-rewrite-{}-{name}", std::process::id()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.set_len(DEVICE_SIZE).unwrap();
    (path, file)
}

fn occurrences(path: &std::path::Path) -> usize {
    let bytes = std::fs::read(path).unwrap();
    bytes.windows(OLD.len()).filter(|w| *w == OLD).count()
}

/// A big old secret, so that it spans clusters the new small one leaves free.
fn big_secret(len: usize) -> Vec<u8> {
    OLD.iter().copied().cycle().take(len).collect()
}

#[test]
fn a_rebuild_leaves_no_old_secret_in_free_clusters() {
    let (path, file) = fake_device("same");
    write_stick(&file, Layout::default(), &big_secret(200 << 10));
    assert!(occurrences(&path) > 1000, "the old secret was not written");
    write_stick(&file, Layout::default(), b"K3S_TOKEN=\"NEW\"\n");
    assert_eq!(occurrences(&path), 0, "the old secret survived the rebuild");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_rebuild_with_a_smaller_secrets_partition_wipes_the_old_one_entirely() {
    let (path, file) = fake_device("shrunk");
    let old_layout = Layout {
        secrets_size: 16 * MIB,
        ..Layout::default()
    };
    // 8 MiB: reaches far past the end of the new 1 MiB partition.
    write_stick(&file, old_layout, &big_secret(8 << 20));
    assert!(occurrences(&path) > 1000);
    write_stick(&file, Layout::default(), b"K3S_TOKEN=\"NEW\"\n");
    assert_eq!(occurrences(&path), 0, "the old secret survived the rebuild");
    let _ = std::fs::remove_file(&path);
}

/// The whole secrets partition is in the write plan of a default rebuild,
/// and the figure the issue asks about: bytes written for such a rebuild.
#[test]
fn a_default_rebuild_writes_the_whole_secrets_partition() {
    let (path, file) = fake_device("figure");
    write_stick(&file, Layout::default(), b"K3S_TOKEN=\"A\"\n");
    let disk = write_stick(&file, Layout::default(), b"K3S_TOKEN=\"B\"\n");
    let place = Layout::default().place(DEVICE_SIZE).unwrap();
    let (start, end) = (place.secrets.start, place.secrets.end());
    let covered = disk
        .extents()
        .iter()
        .any(|e| e.offset <= start && e.offset + e.len >= end);
    assert!(covered, "the secrets partition is not wiped whole");
    eprintln!("default rebuild writes {} bytes", disk.planned_bytes());
    let _ = std::fs::remove_file(&path);
}
