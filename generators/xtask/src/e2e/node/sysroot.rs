//! The stand-in's root file system as the first part of its initrd: the
//! Debian userland tarball under `sysroot/`, trimmed, with the Flatcar
//! contract (`contract.rs`) and the kernel modules udev loads, as a
//! zstd-compressed newc archive cached next to the tarball.
//!
//! The kernel unpacks concatenated archives in order, so the small per-run
//! part (`initrd.rs`: /init, Ignition, test CA) follows this one and may
//! replace its files.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{BufWriter, Read, Write};
use std::process::Command;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use super::contract;
use crate::e2e::cpio::{self, Header};

/// Modules the running node needs beyond what is built in: the initrd's
/// (the stick behind xHCI, the NIC, the `secrets` FAT volume and its code
/// pages) and the two k3s.service loads (overlay, br_netfilter).
pub fn modules() -> Vec<&'static str> {
    let mut m = crate::e2e::initramfs::MODULES.to_vec();
    m.extend(["overlay", "br_netfilter"]);
    m
}

const PREFIX: &str = "sysroot/";

/// The cached archive for this tarball and kernel, built when missing.
pub fn archive(tarball: &Utf8Path, modules_root: &Utf8Path, version: &str) -> Result<Utf8PathBuf> {
    let key = cache_key(tarball, version)?;
    let out = super::userland::cache_dir().join(format!("sysroot-{key}.cpio.zst"));
    if out.is_file() {
        return Ok(out);
    }
    fs::create_dir_all(super::userland::cache_dir()).context("creating the cache directory")?;
    let started = std::time::Instant::now();
    let staging = super::userland::cache_dir().join(format!("modules-{version}"));
    let module_files = stage_modules(modules_root, version, &staging)?;
    let raw = out.with_extension("partial");
    let file = fs::File::create(&raw).with_context(|| format!("creating {raw}"))?;
    let mut w = Stream::new(BufWriter::new(file));
    convert(tarball, &mut w).with_context(|| format!("converting {tarball}"))?;
    for (rel, data) in module_files {
        w.ensure_parents(&rel)?;
        w.file(&rel, 0o644, 0, 0, data.as_slice())?;
    }
    w.finish()?;
    let zst = out.with_extension("zst.partial");
    let status = Command::new("zstd")
        .args(["-q", "-f", "-15", "-T0", "--rm", "-o"])
        .arg(&zst)
        .arg(&raw)
        .status()
        .context("running zstd (Debian package zstd)")?;
    if !status.success() {
        bail!("zstd failed on {raw}");
    }
    fs::rename(&zst, &out).with_context(|| format!("moving {zst} to {out}"))?;
    eprintln!(
        "e2e: stand-in root archive {out} built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// Changes with the tarball, the kernel and everything this module adds.
fn cache_key(tarball: &Utf8Path, version: &str) -> Result<String> {
    let meta = fs::metadata(tarball).with_context(|| format!("reading {tarball}"))?;
    let mut h = Sha256::new();
    h.update(tarball.as_str());
    h.update(meta.len().to_le_bytes());
    h.update(version);
    for (path, mode, text) in contract::FILES {
        h.update(path);
        h.update(mode.to_le_bytes());
        h.update(text);
    }
    h.update(contract::MASKED.join(","));
    h.update(modules().join(","));
    h.update(FORMAT_VERSION);
    Ok(crate::e2e::node_config::hex(&h.finalize())[..16].to_owned())
}

/// Bumped whenever `convert` changes what it writes.
const FORMAT_VERSION: &str = "sysroot-2";

/// Copies the modules (and what they depend on) with the kernel's module
/// metadata into `staging/lib/modules/<version>`, runs depmod there and
/// returns `(path under sysroot/, contents)` of every file.
fn stage_modules(
    root: &Utf8Path,
    version: &str,
    staging: &Utf8Path,
) -> Result<Vec<(String, Vec<u8>)>> {
    let src = crate::e2e::debian::modules_dir(root)?.join(version);
    let _ = fs::remove_dir_all(staging);
    // depmod (kmod 30 here) works on <base>/lib/modules; in the merged-/usr
    // root that is usr/lib/modules.
    let dest = staging.join("lib/modules").join(version);
    fs::create_dir_all(&dest).with_context(|| format!("creating {dest}"))?;
    let out = Command::new("modprobe")
        .args(["-d", root.as_str(), "-S", version, "--show-depends", "-a"])
        .args(modules())
        .output()
        .context("running modprobe --show-depends (Debian package kmod)")?;
    if !out.status.success() {
        bail!(
            "modprobe --show-depends: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for path in crate::e2e::initramfs::parse_show_depends(&String::from_utf8_lossy(&out.stdout)) {
        let rel = path
            .strip_prefix(&src)
            .with_context(|| format!("{path} is not under {src}"))?;
        let to = dest.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {parent}"))?;
        }
        fs::copy(&path, &to).with_context(|| format!("copying {path}"))?;
    }
    for meta in [
        "modules.order",
        "modules.builtin",
        "modules.builtin.modinfo",
    ] {
        let from = src.join(meta);
        if from.is_file() {
            fs::copy(&from, dest.join(meta)).with_context(|| format!("copying {from}"))?;
        }
    }
    let status = Command::new("depmod")
        .args(["-b", staging.as_str(), version])
        .status()
        .context("running depmod")?;
    if !status.success() {
        bail!("depmod -b {staging} {version} failed");
    }
    let mut files = Vec::new();
    collect(staging, staging, &mut files)?;
    let mut files: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|(rel, data)| (format!("usr/{rel}"), data))
        .collect();
    files.sort();
    Ok(files)
}

fn collect(base: &Utf8Path, dir: &Utf8Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("listing {dir}"))? {
        let e = e?;
        let path = Utf8PathBuf::try_from(e.path())?;
        if e.file_type()?.is_dir() {
            collect(base, &path, out)?;
        } else {
            let rel = path.strip_prefix(base)?.as_str().to_owned();
            out.push((
                rel,
                fs::read(&path).with_context(|| format!("reading {path}"))?,
            ));
        }
    }
    Ok(())
}

/// A newc archive being written, with every path under `sysroot/`.
pub struct Stream<W: Write> {
    out: W,
    ino: u32,
    dirs: BTreeSet<String>,
}

impl<W: Write> Stream<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            ino: 0,
            dirs: BTreeSet::new(),
        }
    }

    fn member(
        &mut self,
        rel: &str,
        mode: u32,
        (uid, gid): (u32, u32),
        mtime: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> Result<()> {
        self.ino += 1;
        let name = if rel.is_empty() {
            PREFIX.trim_end_matches('/').to_owned()
        } else {
            format!("{PREFIX}{rel}")
        };
        let h = Header {
            ino: self.ino,
            mode,
            uid,
            gid,
            nlink: if mode & 0o170000 == cpio::TYPE_DIR {
                2
            } else {
                1
            },
            mtime,
            rdev,
        };
        cpio::write_member(&mut self.out, &h, &name, data).context("writing the archive")?;
        Ok(())
    }

    pub fn dir(&mut self, rel: &str, mode: u32, uid: u32, gid: u32, mtime: u32) -> Result<()> {
        self.dirs.insert(rel.trim_end_matches('/').to_owned());
        self.member(
            rel.trim_end_matches('/'),
            cpio::TYPE_DIR | mode,
            (uid, gid),
            mtime,
            (0, 0),
            &[],
        )
    }

    pub fn file(&mut self, rel: &str, mode: u32, uid: u32, gid: u32, data: &[u8]) -> Result<()> {
        self.member(rel, cpio::TYPE_FILE | mode, (uid, gid), 0, (0, 0), data)
    }

    pub fn symlink(&mut self, rel: &str, target: &str) -> Result<()> {
        self.member(
            rel,
            cpio::TYPE_SYMLINK | 0o777,
            (0, 0),
            0,
            (0, 0),
            target.as_bytes(),
        )
    }

    /// Emits the missing parent directories of `rel` (root-owned, 0755).
    pub fn ensure_parents(&mut self, rel: &str) -> Result<()> {
        let parts: Vec<&str> = rel.split('/').collect();
        for i in 1..parts.len() {
            let d = parts[..i].join("/");
            if !self.dirs.contains(&d) {
                self.dir(&d, 0o755, 0, 0, 0)?;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<()> {
        cpio::write_trailer(&mut self.out).context("writing the archive")?;
        self.out.flush().context("writing the archive")?;
        Ok(())
    }
}

/// The tarball's entries, trimmed and edited, then the contract's files.
fn convert<W: Write>(tarball: &Utf8Path, w: &mut Stream<W>) -> Result<()> {
    let replaced: BTreeSet<&str> = contract::FILES.iter().map(|(p, _, _)| *p).collect();
    let mut hardlinks: Vec<(String, String, tar::Header)> = Vec::new();
    let file = fs::File::open(tarball).with_context(|| format!("opening {tarball}"))?;
    let mut archive = tar::Archive::new(file);
    w.dir("", 0o755, 0, 0, 0)?;
    for entry in archive.entries().context("reading the tarball")? {
        let mut entry = entry.context("reading the tarball")?;
        let path = rel_path(&entry.path_bytes());
        if path.is_empty() || contract::drop(&path) || replaced.contains(path.as_str()) {
            continue;
        }
        let h = entry.header().clone();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let mtime = h.mtime().unwrap_or(0) as u32;
        match h.entry_type() {
            tar::EntryType::Directory => w.dir(&path, mode, uid, gid, mtime)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::new();
                entry
                    .read_to_end(&mut data)
                    .with_context(|| format!("reading {path}"))?;
                if let Some(extra) = contract::user_db_append(&path) {
                    data = edit_user_db(&path, &data, extra)?;
                }
                w.member(
                    &path,
                    cpio::TYPE_FILE | mode,
                    (uid, gid),
                    mtime,
                    (0, 0),
                    &data,
                )?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                w.member(
                    &path,
                    cpio::TYPE_SYMLINK | 0o777,
                    (uid, gid),
                    mtime,
                    (0, 0),
                    target.as_bytes(),
                )?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| rel_path(&b))
                    .unwrap_or_default();
                hardlinks.push((path, target, h));
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let kind = match h.entry_type() {
                    tar::EntryType::Char => cpio::TYPE_CHAR,
                    tar::EntryType::Block => cpio::TYPE_BLOCK,
                    _ => cpio::TYPE_FIFO,
                };
                let rdev = (
                    h.device_major().ok().flatten().unwrap_or(0),
                    h.device_minor().ok().flatten().unwrap_or(0),
                );
                w.member(&path, kind | mode, (uid, gid), mtime, rdev, &[])?;
            }
            // pax/GNU extension headers are consumed by the reader.
            _ => {}
        }
    }
    if !hardlinks.is_empty() {
        // newc can express hard links, but a copy is simpler and there
        // are only a few; their targets are read in a second pass.
        let wanted: BTreeSet<String> = hardlinks.iter().map(|(_, t, _)| t.clone()).collect();
        let mut contents: HashMap<String, Vec<u8>> = HashMap::new();
        let mut archive = tar::Archive::new(fs::File::open(tarball)?);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = rel_path(&entry.path_bytes());
            if wanted.contains(&path) {
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                contents.insert(path, data);
            }
        }
        for (path, target, h) in hardlinks {
            let data = contents.get(&target).with_context(|| {
                format!("hard link {path} to {target}, which is not in the tarball")
            })?;
            let mode = h.mode().unwrap_or(0o644) & 0o7777;
            w.member(
                &path,
                cpio::TYPE_FILE | mode,
                (h.uid()? as u32, h.gid()? as u32),
                0,
                (0, 0),
                data,
            )?;
        }
    }
    for (path, mode, text) in contract::FILES {
        w.ensure_parents(path)?;
        w.file(path, *mode, 0, 0, text.as_bytes())?;
    }
    for unit in contract::MASKED {
        let path = format!("etc/systemd/system/{unit}");
        w.ensure_parents(&path)?;
        w.symlink(&path, "/dev/null")?;
    }
    // core's home, as on Flatcar (Ignition and update-ssh-keys fill it).
    w.dir("home/core", 0o755, 500, 500, 0)?;
    Ok(())
}

/// `./usr/bin/x` -> `usr/bin/x`.
fn rel_path(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    s.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_owned()
}

/// Debian's user database plus core: its own line appended, and core added
/// to the groups it belongs to.
fn edit_user_db(path: &str, data: &[u8], extra: &str) -> Result<Vec<u8>> {
    let text = String::from_utf8(data.to_vec()).with_context(|| format!("{path} is not UTF-8"))?;
    let mut out = String::new();
    for line in text.lines() {
        let name = line.split(':').next().unwrap_or("");
        let is_group_db = path == "etc/group" || path == "etc/gshadow";
        if is_group_db && contract::CORE_GROUPS.contains(&name) {
            out.push_str(&contract::add_member(line, "core"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push_str(extra);
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_joins_its_groups_and_gets_its_line() {
        let group = b"root:x:0:\nsudo:x:27:\nsystemd-journal:x:999:ann\n";
        let out = edit_user_db("etc/group", group, "core:x:500:\n").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "root:x:0:\nsudo:x:27:core\nsystemd-journal:x:999:ann,core\ncore:x:500:\n"
        );
        let passwd = b"root:x:0:0:root:/root:/bin/bash\n";
        let out = edit_user_db(
            "etc/passwd",
            passwd,
            contract::user_db_append("etc/passwd").unwrap(),
        )
        .unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("core:x:500:500:Flatcar Admin:/home/core:/bin/bash\n"));
    }

    /// The real `cpio` lists what the stream wrote, owners included.
    #[test]
    fn stream_keeps_owners_and_creates_parents() {
        let mut buf = Vec::new();
        let mut w = Stream::new(&mut buf);
        w.dir("", 0o755, 0, 0, 0).unwrap();
        w.ensure_parents("home/core/x").unwrap();
        w.member(
            "home/core/x",
            cpio::TYPE_FILE | 0o600,
            (500, 500),
            0,
            (0, 0),
            b"hi",
        )
        .unwrap();
        w.finish().unwrap();
        let mut child = Command::new("cpio")
            .args(["-t", "-v", "--quiet", "-n"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("cpio on PATH");
        child.stdin.take().unwrap().write_all(&buf).unwrap();
        let out = child.wait_with_output().unwrap();
        let listing = String::from_utf8(out.stdout).unwrap();
        assert!(listing.contains("sysroot/home/core"), "{listing}");
        let file = listing
            .lines()
            .find(|l| l.ends_with("sysroot/home/core/x"))
            .unwrap();
        assert!(file.starts_with("-rw-------   1 500      500"), "{listing}");
    }
}
