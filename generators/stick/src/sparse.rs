//! A disk held in memory as the set of 4 KiB chunks that were written.
//!
//! A stick is mostly empty space: a default stick carries a few MiB of data
//! on a device of many GiB. Keeping only written chunks lets the image be
//! built for the real device size (so the backup GPT lands at the true end)
//! without allocating the device in memory, and the set of chunks *is* the
//! write plan: exactly these sectors are written to a device or image file.
//! Chunks that the builder wrote as zeros on purpose (to wipe old
//! signatures, FAT tables) are kept too, so they get written.
//!
//! Ranges zeroed on purpose are kept as runs, not as chunks, so wiping an
//! old partition of any size costs a few bytes of memory, and the planned
//! bytes are read out in bounded pieces ([`SparseDisk::read_extent`]).
//!
//! An optional base file makes it a copy-on-write overlay: reads of chunks
//! never written come from the base, writes stay in memory. `inspect` uses
//! that so that nothing (not even `fatfs` marking a volume dirty) ever
//! reaches the stick it reads.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

/// The write granularity: 4 KiB matches flash pages and the common
/// physical sector size, and keeps every write aligned for any device.
pub const CHUNK: u64 = 4096;

#[derive(Debug)]
pub struct SparseDisk {
    len: u64,
    pos: u64,
    chunks: BTreeMap<u64, Box<[u8]>>,
    /// Runs of whole chunks that are planned as zeros: start -> end, both
    /// multiples of [`CHUNK`], disjoint and not touching. A chunk in
    /// `chunks` takes precedence over a run it lies in.
    zeros: BTreeMap<u64, u64>,
    order: WriteOrder,
    base: Option<File>,
}

/// The order a device must be written in so that a failure at any write
/// leaves no secret unreferenced (see [`crate::target::write_ordered`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOrder {
    /// Zeroed first, and synced: every old and the new secrets region.
    pub zero_first: Vec<Extent>,
    /// Written next, and synced: the partition table's ranges.
    pub table: Vec<Extent>,
}

/// A run of consecutive written chunks: `len` bytes starting at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
}

impl SparseDisk {
    /// An all-zero disk of `len` bytes.
    pub fn new(len: u64) -> SparseDisk {
        SparseDisk {
            len,
            pos: 0,
            chunks: BTreeMap::new(),
            zeros: BTreeMap::new(),
            order: WriteOrder::default(),
            base: None,
        }
    }

    /// An overlay over `base` (an image file or a device) of `len` bytes.
    pub fn over(base: File, len: u64) -> SparseDisk {
        SparseDisk {
            base: Some(base),
            ..SparseDisk::new(len)
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Marks `[offset, offset+len)` as carrying zeros that must be written,
    /// e.g. to wipe what an earlier use of the stick left there. Whole
    /// chunks become a zero run (no memory per chunk); only the partial
    /// chunks at either end are held as data.
    pub fn zero_range(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let end = offset.saturating_add(len).min(self.len);
        let mut at = offset;
        while at < end {
            let chunk = at / CHUNK * CHUNK;
            let chunk_end = (chunk + CHUNK).min(self.len);
            if at == chunk && end >= chunk_end {
                let run_end = if end == self.len {
                    self.len.div_ceil(CHUNK) * CHUNK
                } else {
                    end / CHUNK * CHUNK
                };
                self.add_zero_run(chunk, run_end);
                at = run_end.min(end);
            } else {
                let n = chunk_end.min(end) - at;
                let within = (at - chunk) as usize;
                let data = self.chunk_mut(chunk)?;
                data[within..within + n as usize].fill(0);
                at += n;
            }
        }
        Ok(())
    }

    /// Adds the chunk-aligned run `[start, end)`, merging it with runs it
    /// overlaps or touches; data chunks inside it are zeros now.
    fn add_zero_run(&mut self, mut start: u64, mut end: u64) {
        let inside: Vec<u64> = self.chunks.range(start..end).map(|(&c, _)| c).collect();
        for c in inside {
            self.chunks.remove(&c);
        }
        if let Some((&s, &e)) = self.zeros.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
            }
        }
        let absorbed: Vec<(u64, u64)> = self
            .zeros
            .range(start..=end)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in absorbed {
            self.zeros.remove(&s);
            end = end.max(e);
        }
        self.zeros.insert(start, end);
    }

    fn in_zero_run(&self, chunk: u64) -> bool {
        self.zeros
            .range(..=chunk)
            .next_back()
            .is_some_and(|(_, &end)| chunk < end)
    }

    /// How a device is to be written; empty (plain disk order) unless set.
    pub fn write_order(&self) -> &WriteOrder {
        &self.order
    }

    pub fn set_write_order(&mut self, order: WriteOrder) {
        self.order = order;
    }

    /// Bytes of chunk data held in memory (not counting zero runs), for
    /// checking that memory does not grow with what is wiped.
    pub fn resident_bytes(&self) -> u64 {
        self.chunks.len() as u64 * CHUNK
    }

    /// The planned chunks and zero runs merged into runs, in disk order.
    pub fn extents(&self) -> Vec<Extent> {
        let data = self.chunks.keys().map(|&c| (c, (c + CHUNK).min(self.len)));
        let zeros = self.zeros.iter().map(|(&s, &e)| (s, e.min(self.len)));
        let mut all: Vec<(u64, u64)> = data.chain(zeros).collect();
        all.sort_unstable();
        let mut out: Vec<Extent> = Vec::new();
        for (start, end) in all {
            match out.last_mut() {
                Some(last) if start <= last.offset + last.len => {
                    let last_end = (last.offset + last.len).max(end);
                    last.len = last_end - last.offset;
                }
                _ => out.push(Extent {
                    offset: start,
                    len: end - start,
                }),
            }
        }
        out
    }

    /// Bytes the write plan covers.
    pub fn planned_bytes(&self) -> u64 {
        self.extents().iter().map(|e| e.len).sum()
    }

    /// Copies the planned bytes of `extent` into `buf` (resized to fit).
    /// Callers keep `extent` small (see [`crate::target::PIECE`]): the
    /// buffer is as long as the extent.
    pub fn read_extent(&self, extent: Extent, buf: &mut Vec<u8>) {
        let (start, end) = (extent.offset, extent.offset + extent.len);
        buf.resize(extent.len as usize, 0);
        // Planned bytes are data chunks or zeros, never the base.
        buf.fill(0);
        for (&chunk, data) in self.chunks.range(start / CHUNK * CHUNK..end) {
            let (from, to) = (chunk.max(start), (chunk + CHUNK).min(end));
            buf[(from - start) as usize..(to - start) as usize]
                .copy_from_slice(&data[(from - chunk) as usize..(to - chunk) as usize]);
        }
    }

    fn chunk_mut(&mut self, chunk: u64) -> io::Result<&mut [u8]> {
        if !self.chunks.contains_key(&chunk) {
            let mut data = vec![0u8; CHUNK as usize].into_boxed_slice();
            if let Some(base) = &self.base {
                if !self.in_zero_run(chunk) {
                    let n = CHUNK.min(self.len - chunk) as usize;
                    read_at_or_zero(base, chunk, &mut data[..n])?;
                }
            }
            self.chunks.insert(chunk, data);
        }
        Ok(self.chunks.get_mut(&chunk).expect("inserted above"))
    }

    fn read_into(&self, at: u64, buf: &mut [u8]) -> io::Result<()> {
        let chunk = at / CHUNK * CHUNK;
        let within = (at - chunk) as usize;
        match (self.chunks.get(&chunk), &self.base) {
            (Some(data), _) => buf.copy_from_slice(&data[within..within + buf.len()]),
            (None, Some(base)) if !self.in_zero_run(chunk) => read_at_or_zero(base, at, buf)?,
            (None, _) => buf.fill(0),
        }
        Ok(())
    }
}

/// Reads at `offset`; what lies past the end of the file reads as zeros
/// (an image file may be shorter than the size recorded in its GPT).
fn read_at_or_zero(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => {
                buf[done..].fill(0);
                break;
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Read for SparseDisk {
    /// Always fills as much of `buf` as the disk holds: some `fatfs` code
    /// paths assume a read is never short.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.len.saturating_sub(self.pos)) as usize;
        let mut done = 0;
        while done < want {
            let chunk_end = (self.pos / CHUNK + 1) * CHUNK;
            let n = ((want - done) as u64).min(chunk_end - self.pos) as usize;
            self.read_into(self.pos, &mut buf[done..done + n])?;
            self.pos += n as u64;
            done += n;
        }
        Ok(done)
    }
}

impl Write for SparseDisk {
    /// Writes all of `buf` or fails, for the same reason reads are never short.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos.saturating_add(buf.len() as u64) > self.len {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("write at byte {} beyond the end of the disk", self.pos),
            ));
        }
        let mut done = 0;
        while done < buf.len() {
            let chunk = self.pos / CHUNK * CHUNK;
            let within = (self.pos - chunk) as usize;
            let n = (buf.len() - done).min(CHUNK as usize - within);
            let data = self.chunk_mut(chunk)?;
            data[within..within + n].copy_from_slice(&buf[done..done + n]);
            self.pos += n as u64;
            done += n;
        }
        Ok(done)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for SparseDisk {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = seek_within(self.pos, self.len, to)?;
        Ok(self.pos)
    }
}

/// Seek arithmetic shared with [`crate::slice::Slice`]: positions may go
/// past the end (reads there return nothing), never below zero.
pub(crate) fn seek_within(pos: u64, len: u64, to: SeekFrom) -> io::Result<u64> {
    let new = match to {
        SeekFrom::Start(n) => Some(n),
        SeekFrom::End(d) => len.checked_add_signed(d),
        SeekFrom::Current(d) => pos.checked_add_signed(d),
    };
    new.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_space_reads_as_zero_and_is_not_planned() {
        let mut disk = SparseDisk::new(1 << 30);
        let mut buf = [0xAAu8; 100];
        disk.seek(SeekFrom::Start(12345)).unwrap();
        disk.read_exact(&mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == 0));
        assert!(disk.extents().is_empty());
    }

    #[test]
    fn writes_across_chunks_merge_into_one_extent() {
        let mut disk = SparseDisk::new(1 << 20);
        disk.seek(SeekFrom::Start(4000)).unwrap();
        disk.write_all(&[7u8; 200]).unwrap();
        assert_eq!(
            disk.extents(),
            vec![Extent {
                offset: 0,
                len: 2 * CHUNK
            }]
        );
        let mut back = vec![0u8; 200];
        disk.seek(SeekFrom::Start(4000)).unwrap();
        disk.read_exact(&mut back).unwrap();
        assert_eq!(back, vec![7u8; 200]);
        let mut plan = Vec::new();
        disk.read_extent(disk.extents()[0], &mut plan);
        assert_eq!(plan.len(), 8192);
        assert_eq!(&plan[4000..4200], &[7u8; 200][..]);
        assert_eq!(plan[3999], 0);
    }

    #[test]
    fn zero_range_is_planned_and_last_chunk_is_clipped_to_the_disk() {
        let mut disk = SparseDisk::new(3 * CHUNK + 512);
        disk.zero_range(2 * CHUNK, 10 * CHUNK).unwrap();
        assert_eq!(
            disk.extents(),
            vec![Extent {
                offset: 2 * CHUNK,
                len: CHUNK + 512
            }]
        );
        assert_eq!(disk.planned_bytes(), CHUNK + 512);
    }

    /// Wiping a 2.5 GiB old partition keeps nothing per chunk in memory.
    #[test]
    fn zeroing_a_huge_range_holds_no_chunks() {
        let mut disk = SparseDisk::new(3 << 30);
        disk.zero_range(100 << 20, 5 << 29).unwrap();
        assert_eq!(disk.resident_bytes(), 0);
        assert_eq!(disk.planned_bytes(), 5 << 29);
        // Unaligned ends hold just the two partial chunks.
        disk.zero_range(10, 3 * CHUNK).unwrap();
        assert_eq!(disk.resident_bytes(), 2 * CHUNK);
        assert_eq!(
            disk.extents()[0],
            Extent {
                offset: 0,
                len: 4 * CHUNK
            }
        );
    }

    #[test]
    fn data_written_over_a_zero_run_wins_and_runs_merge() {
        let mut disk = SparseDisk::new(1 << 20);
        disk.zero_range(0, 8 * CHUNK).unwrap();
        disk.zero_range(8 * CHUNK, 8 * CHUNK).unwrap();
        disk.seek(SeekFrom::Start(3 * CHUNK + 5)).unwrap();
        disk.write_all(&[7u8; 3]).unwrap();
        assert_eq!(
            disk.extents(),
            vec![Extent {
                offset: 0,
                len: 16 * CHUNK
            }]
        );
        let mut plan = Vec::new();
        disk.read_extent(
            Extent {
                offset: 3 * CHUNK,
                len: CHUNK,
            },
            &mut plan,
        );
        assert_eq!(&plan[4..9], &[0, 7, 7, 7, 0]);
        // Zeroing again wipes the data too.
        disk.zero_range(0, 16 * CHUNK).unwrap();
        disk.read_extent(
            Extent {
                offset: 3 * CHUNK,
                len: CHUNK,
            },
            &mut plan,
        );
        assert!(plan.iter().all(|&b| b == 0));
    }

    #[test]
    fn a_zero_run_hides_the_base_of_an_overlay() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[5u8; 4 * CHUNK as usize]).unwrap();
        let mut disk = SparseDisk::over(f, 4 * CHUNK);
        disk.zero_range(CHUNK, 2 * CHUNK).unwrap();
        let mut buf = vec![0xAAu8; 4 * CHUNK as usize];
        disk.seek(SeekFrom::Start(0)).unwrap();
        disk.read_exact(&mut buf).unwrap();
        assert!(buf[..CHUNK as usize].iter().all(|&b| b == 5));
        assert!(buf[CHUNK as usize..3 * CHUNK as usize]
            .iter()
            .all(|&b| b == 0));
        assert!(buf[3 * CHUNK as usize..].iter().all(|&b| b == 5));
    }

    #[test]
    fn writing_past_the_end_fails() {
        let mut disk = SparseDisk::new(1024);
        disk.seek(SeekFrom::Start(1000)).unwrap();
        assert!(disk.write_all(&[1u8; 100]).is_err());
    }

    #[test]
    fn overlay_reads_base_and_keeps_writes_in_memory() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[5u8; 10000]).unwrap();
        let mut disk = SparseDisk::over(f.try_clone().unwrap(), 10000);
        disk.seek(SeekFrom::Start(5000)).unwrap();
        disk.write_all(&[9u8; 10]).unwrap();
        let mut buf = [0u8; 20];
        disk.seek(SeekFrom::Start(4995)).unwrap();
        disk.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..5], &[5u8; 5]);
        assert_eq!(&buf[5..15], &[9u8; 10]);
        assert_eq!(&buf[15..], &[5u8; 5]);
        let mut on_disk = [0u8; 10];
        f.read_exact_at(&mut on_disk, 5000).unwrap();
        assert_eq!(on_disk, [5u8; 10], "the base file is never written");
    }
}
