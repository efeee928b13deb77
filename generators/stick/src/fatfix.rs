//! A repair for directories made by `fatfs` 0.3: it writes a long-name
//! (LFN) entry in front of the `.` and `..` entries of every new directory,
//! so `.` is not the first entry. `fsck.fat` rejects that, and firmware FAT
//! drivers need not accept it. Directories are created first, the volume is
//! unmounted, and each new directory's first cluster is compacted here so
//! that it starts with the plain `.` and `..` entries, as FAT requires.

use std::io::{self, Read, Seek, SeekFrom, Write};

const ENTRY: usize = 32;
const ATTR_LFN: u8 = 0x0F;

/// The geometry needed to find directory clusters.
struct Geometry {
    cluster_size: u64,
    data_start: u64,
    /// FAT32: the root directory's cluster; FAT12/16: the fixed root
    /// region's (offset, length).
    root: Root,
}

enum Root {
    Cluster(u32),
    Region(u64, u64),
}

fn geometry<D: Read + Seek>(vol: &mut D) -> io::Result<Geometry> {
    let mut bs = [0u8; 512];
    vol.seek(SeekFrom::Start(0))?;
    vol.read_exact(&mut bs)?;
    let u16_at = |o: usize| u64::from(u16::from_le_bytes([bs[o], bs[o + 1]]));
    let u32_at = |o: usize| u32::from_le_bytes([bs[o], bs[o + 1], bs[o + 2], bs[o + 3]]);
    let sector = u16_at(11);
    let cluster_size = sector * u64::from(bs[13]);
    let reserved = u16_at(14);
    let fats = u64::from(bs[16]);
    let root_entries = u16_at(17);
    let fat_size = match u16_at(22) {
        0 => u64::from(u32_at(36)),
        n => n,
    };
    let root_start = (reserved + fats * fat_size) * sector;
    let root_len = (root_entries * ENTRY as u64).div_ceil(sector) * sector;
    let root = if root_entries == 0 {
        Root::Cluster(u32_at(44))
    } else {
        Root::Region(root_start, root_len)
    };
    Ok(Geometry {
        cluster_size,
        data_start: root_start + root_len,
        root,
    })
}

impl Geometry {
    fn cluster_offset(&self, cluster: u32) -> u64 {
        self.data_start + u64::from(cluster - 2) * self.cluster_size
    }
}

/// The 11-byte short name `fatfs` gives a name that is a valid upper-case
/// 8.3 name without extension (the only kind of directory we create).
fn short_name(name: &str) -> [u8; 11] {
    let mut n = [b' '; 11];
    n[..name.len()].copy_from_slice(name.as_bytes());
    n
}

/// Compacts the first cluster of each directory along `path` (e.g.
/// `EFI/BOOT`). Directory names must be upper-case 8.3 names.
pub fn fix_dot_entries<D: Read + Write + Seek>(vol: &mut D, path: &str) -> io::Result<()> {
    let geo = geometry(vol)?;
    let (mut at, mut len) = match geo.root {
        Root::Cluster(c) => (geo.cluster_offset(c), geo.cluster_size),
        Root::Region(o, l) => (o, l),
    };
    for (depth, name) in path.split('/').enumerate() {
        let mut dir = vec![0u8; len as usize];
        vol.seek(SeekFrom::Start(at))?;
        vol.read_exact(&mut dir)?;
        let want = short_name(name);
        let entry = dir
            .chunks(ENTRY)
            .find(|e| e[11] != ATTR_LFN && e[..11] == want)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("directory {name} not found"),
                )
            })?;
        let cluster = u32::from(u16::from_le_bytes([entry[26], entry[27]]))
            | (u32::from(u16::from_le_bytes([entry[20], entry[21]])) << 16);
        at = geo.cluster_offset(cluster);
        len = geo.cluster_size;
        compact(vol, at, len, depth == 0)?;
    }
    Ok(())
}

/// Drops the LFN entries that belong to `.` and `..` and moves the rest up.
/// A `..` that points at the root directory must hold cluster 0 (FAT
/// spec), where `fatfs` writes the FAT32 root's real cluster number.
fn compact<D: Read + Write + Seek>(
    vol: &mut D,
    at: u64,
    len: u64,
    parent_is_root: bool,
) -> io::Result<()> {
    let mut dir = vec![0u8; len as usize];
    vol.seek(SeekFrom::Start(at))?;
    vol.read_exact(&mut dir)?;
    let entries: Vec<&[u8]> = dir.chunks(ENTRY).take_while(|e| e[0] != 0).collect();
    let mut kept: Vec<u8> = Vec::with_capacity(dir.len());
    for (i, e) in entries.iter().enumerate() {
        let next_is_dot = entries
            .get(i + 1)
            .is_some_and(|n| n[11] != ATTR_LFN && n[0] == b'.');
        if e[11] == ATTR_LFN && next_is_dot {
            continue;
        }
        kept.extend_from_slice(e);
    }
    if !kept.starts_with(b".          ") {
        return Err(io::Error::other(
            "directory does not start with `.` after repair",
        ));
    }
    if parent_is_root && kept.get(ENTRY..ENTRY + 2) == Some(b"..") {
        for o in [ENTRY + 20, ENTRY + 21, ENTRY + 26, ENTRY + 27] {
            kept[o] = 0;
        }
    }
    kept.resize(dir.len(), 0);
    vol.seek(SeekFrom::Start(at))?;
    vol.write_all(&kept)
}
