//! An interrupted rebuild must never strand an earlier node's secrets: with
//! an I/O error injected at every write in turn, the next (complete) build
//! still finds and zeroes every old secret. Also when another tool erased
//! the partition table. Runs the device code path on a plain file.

mod common;

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;

use common::*;
use ephemeros_stick::device;
use ephemeros_stick::layout::{Layout, MIB};
use ephemeros_stick::sparse::SparseDisk;
use ephemeros_stick::target::{self, write_ordered};

const OLD: &[u8] = b"OLDNODE-K3S-TOKEN-9d2f";
const DEVICE_SIZE: u64 = 96 * MIB;

/// The layout ephemeros used by default at first: secrets at 65..81 MiB,
/// where today's default layout has nothing.
const FIRST_DEFAULT: Layout = Layout {
    esp_size: 64 * MIB,
    secrets_size: 16 * MIB,
};

fn plan(file: &File, layout: Layout, secret: &[u8]) -> SparseDisk {
    plan_over(file, DEVICE_SIZE, layout, secret)
}

/// A complete build, as build-stick does it.
fn rebuild(file: &File, layout: Layout, secret: &[u8]) {
    let disk = plan(file, layout, secret);
    device::write_and_verify(file, &disk, &mut |_, _, _| {}).unwrap();
}

fn fake_device() -> (tempfile::TempDir, File) {
    let dir = tempfile::tempdir().unwrap();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.path().join("device"))
        .unwrap();
    file.set_len(DEVICE_SIZE).unwrap();
    (dir, file)
}

fn contents(file: &File) -> Vec<u8> {
    let mut bytes = vec![0u8; DEVICE_SIZE as usize];
    file.read_exact_at(&mut bytes, 0).unwrap();
    bytes
}

fn occurrences(bytes: &[u8]) -> usize {
    memchr::memmem::find_iter(bytes, OLD).count()
}

/// A device whose `fail_at`-th write (counting from 0) fails with EIO.
struct FailAt<'a> {
    file: &'a File,
    fail_at: usize,
    writes: Cell<usize>,
}

impl target::WriteAt for FailAt<'_> {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let n = self.writes.get();
        self.writes.set(n + 1);
        if n == self.fail_at {
            return Err(io::Error::from_raw_os_error(libc_eio()));
        }
        FileExt::write_all_at(self.file, buf, offset)
    }
    /// Reads after the failure see the page cache, which holds every
    /// write made before it; flushing would only slow the loop down (this
    /// harness injects I/O errors, it does not cut the power).
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

fn libc_eio() -> i32 {
    5 // EIO on Linux
}

/// For each write index: the old stick, a rebuild that fails at that
/// write, then what the next build would zero first (the regions
/// `old_secrets` finds) must cover every old secret; every eighth time the
/// next build really runs and the device is searched. Returns the indexes
/// after which an old secret would survive, and the number of writes.
fn survivors(
    writer: fn(&dyn target::WriteAt, &SparseDisk) -> io::Result<()>,
) -> (Vec<usize>, usize) {
    let (_dir, file) = fake_device();
    rebuild(&file, FIRST_DEFAULT, &OLD.repeat(150_000)); // ~3.2 MiB of secret
    let old_stick = contents(&file);
    assert!(occurrences(&old_stick) > 1000);
    let disk = plan(&file, Layout::default(), b"K3S_TOKEN=\"NEW1\"\n");
    let mut left = Vec::new();
    let mut k = 0;
    loop {
        file.write_all_at(&old_stick, 0).unwrap();
        let failing = FailAt {
            file: &file,
            fail_at: k,
            writes: Cell::new(0),
        };
        let finished = writer(&failing, &disk).is_ok();
        let after = contents(&file);
        let found = device::old_secrets(&file, DEVICE_SIZE);
        // Only the bytes outside those regions need searching; a secret
        // that reaches outside by one byte counts.
        let mut gaps = Vec::new();
        let mut at = 0u64;
        for e in &found {
            gaps.push((at, e.start));
            at = at.max(e.end());
        }
        gaps.push((at, DEVICE_SIZE));
        let reach = OLD.len() as u64 - 1;
        let uncovered = gaps.iter().filter(|(s, e)| s < e).any(|&(s, e)| {
            let (s, e) = (
                s.saturating_sub(reach) as usize,
                (e + reach).min(DEVICE_SIZE) as usize,
            );
            memchr::memmem::find(&after[s..e], OLD).is_some()
        });
        if uncovered {
            left.push(k);
        } else if k % 12 == 0 || finished {
            rebuild(&file, Layout::default(), b"K3S_TOKEN=\"NEW2\"\n");
            if occurrences(&contents(&file)) > 0 {
                left.push(k);
            }
        }
        if finished {
            return (left, k);
        }
        k += 1;
    }
}

#[test]
fn a_failure_at_any_write_leaves_no_old_secret_after_the_next_build() {
    let (left, writes) = survivors(|out, disk| write_ordered(out, disk, &mut |_, _| {}));
    eprintln!("{writes} writes per rebuild, each failed once");
    assert!(writes > 10, "only {writes} writes: the test covers little");
    assert!(
        left.is_empty(),
        "old secrets survived a failure at writes {left:?}"
    );
}

#[test]
fn an_erased_table_still_gets_every_earlier_secrets_region_wiped() {
    let custom = Layout {
        esp_size: 50 * MIB,
        secrets_size: 2 * MIB,
    };
    for (layout, erase_label) in [
        (FIRST_DEFAULT, false),
        (FIRST_DEFAULT, true),
        (custom, false),
    ] {
        let (_dir, file) = fake_device();
        rebuild(&file, layout, &OLD.repeat(60_000));
        assert!(occurrences(&contents(&file)) > 1000);
        // Another tool wiped both GPTs (wipefs, a fresh partitioner) …
        let zeros = vec![0u8; MIB as usize];
        file.write_all_at(&zeros, 0).unwrap();
        file.write_all_at(&zeros, DEVICE_SIZE - MIB).unwrap();
        // … and perhaps the old volume's boot sector too.
        if erase_label {
            let start = layout.place(DEVICE_SIZE).unwrap().secrets.start;
            file.write_all_at(&zeros[..4096], start).unwrap();
        }
        rebuild(&file, Layout::default(), b"K3S_TOKEN=\"NEW\"\n");
        assert_eq!(
            occurrences(&contents(&file)),
            0,
            "{layout:?} (label erased: {erase_label}): the old secret survived"
        );
    }
}
