//! Putting a built [`SparseDisk`] onto its target: the write plan (only the
//! chunks that carry data), atomically for image files, with verification
//! for devices.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sparse::{Extent, SparseDisk};

/// Called with (bytes done, bytes total) as the plan is written or checked.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// The most bytes written or read back at once: runs of any length (a
/// wiped multi-GiB partition) go in pieces of this size, so memory does not
/// depend on them, and progress moves smoothly.
pub const PIECE: u64 = 1 << 20;

/// Where a plan is written: a file or device, or a test's recorder.
pub trait WriteAt {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes what was written so far durable before anything else is.
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

impl WriteAt for File {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(self, buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.sync_data()
    }
}

/// Writes `disk` over an earlier stick so that a failure at any write
/// (an I/O error, a kill, a pulled stick) leaves every old secret either
/// zeroed or inside a region the table on the device names, which the next
/// build finds and zeroes first:
///
/// 1. zeros over every old and the new secrets region (each from its end
///    back to its start, so a region found by its FAT label keeps the label
///    until the rest is gone), synced; the old table is still intact;
/// 2. the partition table's ranges, synced: now the table names only
///    zeroed regions;
/// 3. everything else, the new secrets among it.
pub fn write_ordered(out: &dyn WriteAt, disk: &SparseDisk, progress: Progress) -> io::Result<()> {
    let order = disk.write_order();
    let plan = disk.extents();
    let table = intersect(&plan, &order.table);
    let rest = subtract(&plan, &order.table);
    let wipe_total: u64 = order.zero_first.iter().map(|e| e.len).sum();
    let total = wipe_total + disk.planned_bytes();
    let mut done = 0;
    let zeros = vec![0u8; PIECE as usize];
    for &extent in &order.zero_first {
        let mut pieces: Vec<Extent> = pieces(extent).collect();
        pieces.reverse();
        for piece in pieces {
            out.write_all_at(&zeros[..piece.len as usize], piece.offset)?;
            done += piece.len;
            progress(done, total);
        }
    }
    out.sync()?;
    for (step, extents) in [table, rest].iter().enumerate() {
        let base = done;
        write_extents(out, disk, extents, &mut |d, _| progress(base + d, total))?;
        done += extents.iter().map(|e| e.len).sum::<u64>();
        if step == 0 {
            out.sync()?;
        }
    }
    Ok(())
}

/// The parts of `plan` inside `ranges`.
fn intersect(plan: &[Extent], ranges: &[Extent]) -> Vec<Extent> {
    let mut out = Vec::new();
    for p in plan {
        for r in ranges {
            let start = p.offset.max(r.offset);
            let end = (p.offset + p.len).min(r.offset + r.len);
            if start < end {
                out.push(Extent {
                    offset: start,
                    len: end - start,
                });
            }
        }
    }
    out.sort_by_key(|e| e.offset);
    out
}

/// The parts of `plan` outside `ranges`.
fn subtract(plan: &[Extent], ranges: &[Extent]) -> Vec<Extent> {
    let mut out = Vec::new();
    for p in plan {
        let mut pieces = vec![(p.offset, p.offset + p.len)];
        for r in ranges {
            let (rs, re) = (r.offset, r.offset + r.len);
            pieces = pieces
                .into_iter()
                .flat_map(|(s, e)| {
                    let mut keep = Vec::new();
                    if s < rs.min(e) {
                        keep.push((s, rs.min(e)));
                    }
                    if re.max(s) < e {
                        keep.push((re.max(s), e));
                    }
                    keep
                })
                .collect();
        }
        out.extend(pieces.into_iter().map(|(s, e)| Extent {
            offset: s,
            len: e - s,
        }));
    }
    out
}

/// `extent` cut into pieces of at most [`PIECE`] bytes.
pub fn pieces(extent: Extent) -> impl Iterator<Item = Extent> {
    let end = extent.offset + extent.len;
    (extent.offset..end)
        .step_by(PIECE as usize)
        .map(move |offset| Extent {
            offset,
            len: PIECE.min(end - offset),
        })
}

/// Writes every planned chunk of `disk` at its offset in `out`.
pub fn write_plan(out: &dyn WriteAt, disk: &SparseDisk, progress: Progress) -> io::Result<()> {
    write_extents(out, disk, &disk.extents(), progress)
}

/// Writes the planned bytes of `extents` (parts of `disk`'s plan), piece
/// by piece, in the order given.
pub fn write_extents(
    out: &dyn WriteAt,
    disk: &SparseDisk,
    extents: &[Extent],
    progress: Progress,
) -> io::Result<()> {
    let total: u64 = extents.iter().map(|e| e.len).sum();
    let mut done = 0;
    let mut buf = Vec::new();
    for &extent in extents {
        for piece in pieces(extent) {
            disk.read_extent(piece, &mut buf);
            out.write_all_at(&buf, piece.offset)?;
            done += piece.len;
            progress(done, total);
        }
    }
    Ok(())
}

/// Reads every planned chunk back from `file` and compares. The caller
/// must make sure reads come from the medium, not the page cache.
pub fn verify_plan(file: &File, disk: &SparseDisk, progress: Progress) -> Result<()> {
    let total = disk.planned_bytes();
    let mut done = 0;
    let mut want = Vec::new();
    let mut got = Vec::new();
    for extent in disk.extents() {
        for piece in pieces(extent) {
            disk.read_extent(piece, &mut want);
            got.resize(want.len(), 0);
            file.read_exact_at(&mut got, piece.offset)
                .map_err(Error::io(format!(
                    "reading back {} bytes at byte {}",
                    want.len(),
                    piece.offset
                )))?;
            if got != want {
                let first = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
                return Err(Error::Verify(format!(
                    "byte {} reads back different from what was written",
                    piece.offset + first as u64
                )));
            }
            done += piece.len;
            progress(done, total);
        }
    }
    Ok(())
}

/// Writes an image file (mode 0600), filled sparsely and synced, under
/// `path` only once complete: see [`crate::atomic_file`] for how no name
/// ever holds a partial image or stray secrets. Returns the bytes written.
pub fn write_image_file(path: &Path, disk: &SparseDisk) -> Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    // Said up front: otherwise the error would name a temporary file,
    // which the user never asked for.
    if !dir.is_dir() {
        let reason = if dir.exists() {
            "is not a directory, so the image cannot be created in it"
        } else {
            "does not exist: create the directory first or pick another path"
        };
        return Err(Error::invalid(&dir.display().to_string(), reason));
    }
    let shown = path.display().to_string();
    crate::atomic_file::create_private(path, &|file| {
        file.set_len(disk.len())
            .map_err(Error::io(format!("sizing the image {shown}")))?;
        write_plan(file, disk, &mut |_, _| {})
            .map_err(Error::io(format!("writing the image {shown}")))?;
        file.sync_all()
            .map_err(Error::io(format!("syncing the image {shown}")))
    })?;
    Ok(disk.planned_bytes())
}

/// The path a chain of symbolic links ends at (`path` itself when it is
/// none); the end need not exist. A file written "to a link" is written to
/// this path, so the link stays a link (a user's `current.img -> node1.img`).
pub fn follow_links(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    // Linux's own limit for a path's links (ELOOP beyond it).
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)
                    .map_err(Error::io(format!("reading the link {}", current.display())))?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Error::invalid(
        &path.display().to_string(),
        "too many levels of symbolic links",
    ))
}

/// Whether an existing file may be replaced by a new image without
/// `--force`: it is empty, or it already is a stick (a GPT with the `EFI`
/// and `secrets` partitions).
pub fn replaceable_image(path: &Path) -> Result<bool> {
    let meta = std::fs::metadata(path).map_err(Error::io(format!("reading {}", path.display())))?;
    if !meta.is_file() {
        return Ok(false);
    }
    if meta.len() == 0 {
        return Ok(true);
    }
    let file = File::open(path).map_err(Error::io(format!("opening {}", path.display())))?;
    Ok(crate::inspect::read_partitions(file, meta.len())
        .map(|parts| {
            parts.iter().any(|p| p.name == crate::image::ESP_NAME)
                && parts.iter().any(|p| p.name == crate::image::SECRETS_NAME)
        })
        .unwrap_or(false))
}
