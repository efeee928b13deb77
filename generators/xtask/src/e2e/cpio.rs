//! A newc ("070701") cpio writer: the format the Linux kernel unpacks as an
//! initramfs. Written here rather than with `cpio` so that ownership (root),
//! modes (`/` must be 0755) and device nodes (`/dev/console`) are exact
//! without running as root or staging a tree on disk.

use std::collections::BTreeMap;

/// One archive member. Paths are relative (`bin/busybox`), without `./`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: String },
    CharDev { mode: u32, major: u32, minor: u32 },
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// An archive under construction: path -> entry, parents created on demand.
#[derive(Debug, Default)]
pub struct Archive {
    entries: BTreeMap<String, Entry>,
}

impl Archive {
    pub fn new() -> Self {
        let mut a = Self::default();
        // The root of the initramfs: 0755, or Ignition's user-owned
        // directories are unreachable for their users.
        a.entries.insert(".".into(), Entry::Dir { mode: 0o755 });
        a
    }

    /// Adds `entry` at `path`, creating missing parent directories (0755).
    /// A later insert at the same path replaces the earlier one.
    pub fn insert(&mut self, path: &str, entry: Entry) {
        let path = path.trim_start_matches('/');
        let parts: Vec<&str> = path.split('/').collect();
        for i in 1..parts.len() {
            self.entries
                .entry(parts[..i].join("/"))
                .or_insert(Entry::Dir { mode: 0o755 });
        }
        self.entries.insert(path.to_owned(), entry);
    }

    pub fn dir(&mut self, path: &str, mode: u32) {
        self.insert(path, Entry::Dir { mode });
    }

    pub fn file(&mut self, path: &str, mode: u32, data: impl Into<Vec<u8>>) {
        self.insert(
            path,
            Entry::File {
                mode,
                data: data.into(),
            },
        );
    }

    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path.trim_start_matches('/'))
    }

    /// The archive bytes. Sorted order puts every directory before its
    /// contents, which the kernel's unpacker needs.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (ino, (path, entry)) in self.entries.iter().enumerate() {
            let (mode, data, rdev): (u32, &[u8], (u32, u32)) = match entry {
                Entry::Dir { mode } => (S_IFDIR | mode, &[], (0, 0)),
                Entry::File { mode, data } => (S_IFREG | mode, data, (0, 0)),
                Entry::Symlink { target } => (S_IFLNK | 0o777, target.as_bytes(), (0, 0)),
                Entry::CharDev { mode, major, minor } => (S_IFCHR | mode, &[], (*major, *minor)),
            };
            let nlink = if matches!(entry, Entry::Dir { .. }) {
                2
            } else {
                1
            };
            let head = Header {
                ino: ino as u32 + 1,
                mode,
                uid: 0,
                gid: 0,
                nlink,
                mtime: 0, // reproducible archives
                rdev,
            };
            // Writing to a Vec cannot fail.
            let _ = write_member(&mut out, &head, path, data);
        }
        let _ = write_trailer(&mut out);
        out
    }
}

/// The fields of one newc member header that vary.
pub struct Header {
    pub ino: u32,
    /// File type bits and permissions.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    /// (major, minor) of a device node.
    pub rdev: (u32, u32),
}

pub const TYPE_DIR: u32 = S_IFDIR;
pub const TYPE_FILE: u32 = S_IFREG;
pub const TYPE_SYMLINK: u32 = S_IFLNK;
pub const TYPE_CHAR: u32 = S_IFCHR;
pub const TYPE_BLOCK: u32 = 0o060000;
pub const TYPE_FIFO: u32 = 0o010000;

/// Appends one member to a stream whose length so far is a multiple of 4
/// (every member keeps it so); returns the bytes written.
pub fn write_member(
    out: &mut impl std::io::Write,
    h: &Header,
    name: &str,
    data: &[u8],
) -> std::io::Result<u64> {
    let fields = [
        h.ino,
        h.mode,
        h.uid,
        h.gid,
        h.nlink,
        h.mtime,
        data.len() as u32,
        0,
        0,
        h.rdev.0,
        h.rdev.1,
        name.len() as u32 + 1,
        0, // checksum: unused by newc
    ];
    let mut head = Vec::with_capacity(110 + name.len() + 4);
    head.extend_from_slice(b"070701");
    for f in fields {
        head.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    head.extend_from_slice(name.as_bytes());
    head.push(0);
    while !head.len().is_multiple_of(4) {
        head.push(0);
    }
    out.write_all(&head)?;
    out.write_all(data)?;
    let pad = (4 - data.len() % 4) % 4;
    out.write_all(&[0u8; 3][..pad])?;
    Ok((head.len() + data.len() + pad) as u64)
}

/// The end-of-archive member.
pub fn write_trailer(out: &mut impl std::io::Write) -> std::io::Result<u64> {
    let h = Header {
        ino: 0,
        mode: 0,
        uid: 0,
        gid: 0,
        nlink: 1,
        mtime: 0,
        rdev: (0, 0),
    };
    write_member(out, &h, "TRAILER!!!", &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// The real `cpio` tool lists what we wrote, with modes and link targets.
    #[test]
    fn gnu_cpio_reads_the_archive() {
        let mut a = Archive::new();
        a.file("bin/busybox", 0o755, b"\x7fELF".to_vec());
        a.insert(
            "bin/sh",
            Entry::Symlink {
                target: "busybox".into(),
            },
        );
        a.insert(
            "dev/console",
            Entry::CharDev {
                mode: 0o600,
                major: 5,
                minor: 1,
            },
        );
        a.file("etc/odd name", 0o640, b"x".to_vec());
        let bytes = a.to_bytes();
        assert_eq!(bytes.len() % 4, 0);
        let mut child = Command::new("cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cpio (Debian package cpio) on PATH");
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let listing = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        let find = |name: &str| {
            *lines
                .iter()
                .find(|l| l.ends_with(name))
                .unwrap_or_else(|| panic!("{name} not in\n{listing}"))
        };
        assert!(find(" .").starts_with("drwxr-xr-x"), "{listing}");
        assert!(find(" bin").starts_with("drwxr-xr-x"), "{listing}");
        assert!(
            find("bin/busybox").starts_with("-rwxr-xr-x   1 root     root            4"),
            "{listing}"
        );
        assert!(
            find("bin/sh -> busybox").starts_with("lrwxrwxrwx"),
            "{listing}"
        );
        assert!(find("dev/console").starts_with("crw-------"), "{listing}");
        assert!(find("etc/odd name").starts_with("-rw-r-----"), "{listing}");
    }
}
