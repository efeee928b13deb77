//! The stand-in for Flatcar's initrd: busybox, the kernel modules the stick
//! and the network need, Debian's real Ignition with what it needs at run
//! time, a scratch root for it to configure, and the test's `/init`.

use std::fs;
use std::io::Write;
use std::process::Command;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::cpio::{Archive, Entry};
use super::init_script;

/// Modules to load; `modprobe --show-depends` adds what they depend on, in
/// load order. USB storage behind xHCI (the stick), virtio-net (the NIC),
/// FAT and the code pages the `secrets` volume is mounted with.
pub const MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_net",
    "xhci_pci",
    "usb_storage",
    "uas",
    "sd_mod",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_iso8859_1",
    "nls_utf8",
];

/// Used when the machine has no /etc/login.defs (e.g. a Nix build sandbox).
pub(in crate::e2e) const LOGIN_DEFS: &str =
    "UID_MIN 1000\nUID_MAX 60000\nSYS_UID_MIN 100\nSYS_UID_MAX 999\n\
GID_MIN 1000\nGID_MAX 60000\nSYS_GID_MIN 100\nSYS_GID_MAX 999\nUSERGROUPS_ENAB yes\n";

/// The tools Ignition runs to create users and groups (shadow-utils).
pub(in crate::e2e) const USER_TOOLS: &[&str] = &["useradd", "usermod", "groupadd"];

pub struct Parts<'a> {
    pub busybox: &'a Utf8Path,
    pub ignition: &'a Utf8Path,
    /// Contains lib/modules/<version>/ (or usr/lib/modules/<version>/).
    pub modules_root: &'a Utf8Path,
    pub module_version: &'a str,
}

/// Builds the gzip-compressed initramfs.
pub fn build(parts: &Parts) -> Result<Vec<u8>> {
    let mut a = skeleton(&["secrets", "etc", "var/tmp"]);
    a.file("init", 0o755, init_script::INIT);
    a.file("etc/e2e/udhcpc.script", 0o755, init_script::UDHCPC_SCRIPT);

    add_ignition(&mut a, parts.busybox, parts.ignition)?;
    add_sysroot(&mut a);

    let order = add_modules(&mut a, parts.modules_root, parts.module_version, MODULES)?;
    a.file("etc/e2e/modules", 0o644, order.join("\n") + "\n");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&a.to_bytes())
        .context("compressing the initramfs")?;
    gz.finish().context("compressing the initramfs")
}

/// busybox (as `/bin/sh` too), Debian's Ignition and what it needs to run:
/// the user tools with their `/etc/login.defs`, and a no-op `setfiles`.
/// Shared by both stand-in initrds.
/// An archive with what every stand-in initrd starts from: the API mount
/// points, a sticky /tmp and /dev/console (without it in the archive the
/// kernel starts /init with no stdout: nothing would reach the serial log),
/// plus the directories in `more`.
pub(in crate::e2e) fn skeleton(more: &[&str]) -> Archive {
    let mut a = Archive::new();
    for d in ["proc", "sys", "dev", "run"].iter().chain(more) {
        a.dir(d, 0o755);
    }
    a.dir("tmp", 0o1777);
    a.insert(
        "dev/console",
        Entry::CharDev {
            mode: 0o600,
            major: 5,
            minor: 1,
        },
    );
    a
}

pub fn add_ignition(a: &mut Archive, busybox: &Utf8Path, ignition: &Utf8Path) -> Result<()> {
    add_binary(a, busybox, "bin/busybox")?;
    // Scripts' `#!/bin/sh` must work before /init installs the applets.
    a.insert(
        "bin/sh",
        Entry::Symlink {
            target: "busybox".into(),
        },
    );
    add_binary(a, ignition, "usr/bin/ignition")?;
    for tool in USER_TOOLS {
        let path = crate::tools::which(tool)
            .with_context(|| format!("{tool} not found (Debian package passwd)"))?;
        add_binary(a, &path, &format!("usr/sbin/{tool}"))?;
    }
    // useradd reads its UID/GID ranges here; a build sandbox has no /etc.
    let login_defs = fs::read("/etc/login.defs").unwrap_or_else(|_| LOGIN_DEFS.into());
    a.file("etc/login.defs", 0o644, login_defs);
    // Debian builds Ignition with SELinux relabelling; Flatcar does not.
    // A no-op setfiles plus SELINUX=disabled in the scratch root keep it quiet.
    a.file("usr/sbin/setfiles", 0o755, "#!/bin/sh\nexit 0\n");
    Ok(())
}

/// The scratch root Ignition's `files` stage writes to: just enough of a
/// system for shadow-utils to add users and groups.
fn add_sysroot(a: &mut Archive) {
    a.dir("sysroot", 0o755);
    a.dir("sysroot/home", 0o755);
    a.dir("sysroot/root", 0o700);
    a.file(
        "sysroot/etc/passwd",
        0o644,
        "root:x:0:0:root:/root:/bin/sh\n",
    );
    a.file("sysroot/etc/group", 0o644, "root:x:0:\n");
    a.file("sysroot/etc/shadow", 0o640, "root:*:19000:0:99999:7:::\n");
    a.file("sysroot/etc/gshadow", 0o640, "root:*::\n");
    a.file(
        "sysroot/etc/selinux/config",
        0o644,
        "SELINUX=disabled\nSELINUXTYPE=targeted\n",
    );
}

/// Copies a binary to `dest` and every shared library `ldd` names to the
/// same absolute path it has on this machine (or in the Nix store).
pub(in crate::e2e) fn add_binary(a: &mut Archive, src: &Utf8Path, dest: &str) -> Result<()> {
    let data = fs::read(src).with_context(|| format!("reading {src}"))?;
    a.file(dest, 0o755, data);
    for lib in shared_libs(src)? {
        if !a.contains(lib.as_str()) {
            let data =
                fs::read(&lib).with_context(|| format!("reading {lib} (needed by {src})"))?;
            a.file(lib.as_str(), 0o755, data);
        }
    }
    Ok(())
}

fn shared_libs(bin: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .context("running ldd (Debian package libc-bin)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // ldd fails on static binaries ("not a dynamic executable").
        return Ok(Vec::new());
    }
    Ok(parse_ldd(&text))
}

/// Library paths from `ldd` output: `libc.so.6 => /lib/…/libc.so.6 (0x…)`
/// and the loader's own `/lib64/ld-linux-x86-64.so.2 (0x…)` line.
pub fn parse_ldd(text: &str) -> Vec<Utf8PathBuf> {
    text.lines()
        .filter_map(|l| {
            let path = match l.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| Utf8PathBuf::from(path))
        })
        .collect()
}

/// Adds the modules in load order (decompressed: busybox insmod takes plain
/// .ko files) and returns their file names in that order.
pub(in crate::e2e) fn add_modules(
    a: &mut Archive,
    root: &Utf8Path,
    version: &str,
    modules: &[&str],
) -> Result<Vec<String>> {
    let modules_dir = super::debian::modules_dir(root)?;
    if !modules_dir.join(version).join("modules.dep").is_file() {
        bail!(
            "{modules_dir}/{version}/modules.dep is missing: run `depmod -b {root} {version}` \
             on a writable copy"
        );
    }
    let out = Command::new("modprobe")
        .args(["-d", root.as_str(), "-S", version, "--show-depends", "-a"])
        .args(modules)
        .output()
        .context("running modprobe --show-depends (Debian package kmod)")?;
    if !out.status.success() {
        bail!(
            "modprobe --show-depends failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut order = Vec::new();
    for path in parse_show_depends(&String::from_utf8_lossy(&out.stdout)) {
        let (name, data) = decompressed(&path)?;
        if !order.contains(&name) {
            a.file(&format!("lib/modules/{name}"), 0o644, data);
            order.push(name);
        }
    }
    Ok(order)
}

/// `insmod /path/mod.ko[.xz] [opts]` lines, in order; `builtin …` lines skipped.
pub fn parse_show_depends(text: &str) -> Vec<Utf8PathBuf> {
    text.lines()
        .filter_map(|l| l.strip_prefix("insmod "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(Utf8PathBuf::from)
        .collect()
}

fn decompressed(path: &Utf8Path) -> Result<(String, Vec<u8>)> {
    let file = path.file_name().context("module path without a name")?;
    let (name, tool): (&str, Option<&str>) = if let Some(n) = file.strip_suffix(".xz") {
        (n, Some("xz"))
    } else if let Some(n) = file.strip_suffix(".zst") {
        (n, Some("zstd"))
    } else if let Some(n) = file.strip_suffix(".gz") {
        (n, Some("gzip"))
    } else {
        (file, None)
    };
    let data = match tool {
        None => fs::read(path).with_context(|| format!("reading {path}"))?,
        Some(tool) => {
            let out = Command::new(tool)
                .args(["-dc", path.as_str()])
                .output()
                .with_context(|| format!("running {tool} -dc {path}"))?;
            if !out.status.success() {
                bail!("{tool} -dc {path} failed");
            }
            out.stdout
        }
    };
    Ok((name.to_owned(), data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_library_paths() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibblkid.so.1 => /lib/x86_64-linux-gnu/libblkid.so.1 (0x00007f32)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f32)\n";
        assert_eq!(
            parse_ldd(text),
            [
                "/lib/x86_64-linux-gnu/libblkid.so.1",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
    }

    #[test]
    fn show_depends_keeps_order_and_skips_builtins() {
        let text = "builtin crc32c\ninsmod /k/lib/modules/6.1/usb-common.ko \n\
                    insmod /k/lib/modules/6.1/usbcore.ko.xz autosuspend=1\n";
        assert_eq!(
            parse_show_depends(text),
            [
                "/k/lib/modules/6.1/usb-common.ko",
                "/k/lib/modules/6.1/usbcore.ko.xz"
            ]
        );
    }
}
