//! Memory for a rebuild does not depend on the size of an old secrets
//! partition it wipes: measured with a counting allocator (its own test
//! binary, one test, so nothing else allocates meanwhile), not by time.

mod common;

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use common::*;
use ephemeros_stick::layout::{Extent, Layout, MIB};
use ephemeros_stick::target::{write_plan, WriteAt, PIECE};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(p, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Discards what is written, keeping the largest single write and the total.
#[derive(Default)]
struct Recorder {
    largest: Cell<usize>,
    total: AtomicU64,
}

impl WriteAt for Recorder {
    fn write_all_at(&self, buf: &[u8], _offset: u64) -> io::Result<()> {
        self.largest.set(self.largest.get().max(buf.len()));
        self.total.fetch_add(buf.len() as u64, Ordering::SeqCst);
        Ok(())
    }
}

/// Peak heap above the starting point while building and writing a stick
/// over a disk whose old secrets partition is `old_len` bytes.
fn peak_for(old_len: u64) -> (usize, Recorder, u64) {
    let files = sample_secrets().files().unwrap();
    let disk_size = 100 * MIB + old_len + 8 * MIB;
    let old = [Extent {
        start: 100 * MIB,
        len: old_len,
    }];
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let disk = with_spec(Layout::default(), &files, |spec| {
        ephemeros_stick::build_over(spec, disk_size, &old)
    })
    .unwrap();
    let planned = disk.planned_bytes();
    let rec = Recorder::default();
    write_plan(&rec, &disk, &mut |_, _| {}).unwrap();
    drop(disk);
    (PEAK.load(Ordering::SeqCst) - base, rec, planned)
}

#[test]
fn wiping_a_large_old_partition_takes_no_more_memory_than_a_small_one() {
    let (small_peak, small, small_planned) = peak_for(MIB);
    let (big_peak, big, big_planned) = peak_for(5 << 29); // 2.5 GiB, as reviewed
    eprintln!(
        "peak heap: {:.1} MiB wiping 1 MiB, {:.1} MiB wiping 2.5 GiB; largest write {} bytes",
        small_peak as f64 / MIB as f64,
        big_peak as f64 / MIB as f64,
        big.largest.get()
    );
    // Every planned byte is written, the 2.5 GiB included …
    assert_eq!(small.total.load(Ordering::SeqCst), small_planned);
    assert_eq!(big.total.load(Ordering::SeqCst), big_planned);
    assert!(big_planned >= 5 << 29);
    // … in pieces of at most PIECE bytes …
    assert!(big.largest.get() as u64 <= PIECE, "{}", big.largest.get());
    // … and the memory is the same, whatever was wiped (slack for the
    // extent lists and allocator rounding).
    assert!(
        big_peak <= small_peak + 256 * 1024,
        "wiping 2.5 GiB peaked at {big_peak} bytes, 1 MiB at {small_peak}"
    );
}
