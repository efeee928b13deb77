//! A window onto a part of a disk (a partition), so that `fatfs` sees the
//! partition as a whole volume starting at byte 0.

use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::sparse::seek_within;

#[derive(Debug)]
pub struct Slice<'a, D> {
    disk: &'a mut D,
    start: u64,
    len: u64,
    pos: u64,
}

impl<'a, D: Seek> Slice<'a, D> {
    pub fn new(disk: &'a mut D, start: u64, len: u64) -> Slice<'a, D> {
        Slice {
            disk,
            start,
            len,
            pos: 0,
        }
    }

    fn remaining(&self, want: usize) -> usize {
        (want as u64).min(self.len.saturating_sub(self.pos)) as usize
    }
}

impl<D: Read + Seek> Read for Slice<'_, D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.remaining(buf.len());
        if n == 0 {
            return Ok(0);
        }
        self.disk.seek(SeekFrom::Start(self.start + self.pos))?;
        let got = self.disk.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl<D: Write + Seek> Write for Slice<'_, D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.remaining(buf.len());
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write beyond the end of the partition",
            ));
        }
        self.disk.seek(SeekFrom::Start(self.start + self.pos))?;
        let put = self.disk.write(&buf[..n])?;
        self.pos += put as u64;
        Ok(put)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.disk.flush()
    }
}

impl<D> Seek for Slice<'_, D> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = seek_within(self.pos, self.len, to)?;
        Ok(self.pos)
    }
}
