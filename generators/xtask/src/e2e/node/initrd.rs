//! The per-run part of the stand-in's initrd, appended to the cached root
//! archive (`sysroot.rs`): busybox and Debian's real Ignition, the NIC's
//! modules, the test's CA certificates and host names in the new root, and
//! the `/init` that does what Flatcar's initrd does for a PXE boot: network,
//! Ignition `fetch` then `files` into `/sysroot`, switch to the new root and
//! start systemd there.

use std::io::Write;

use anyhow::{Context, Result};
use camino::Utf8Path;

use crate::e2e::init_script::UDHCPC_SCRIPT;
use crate::e2e::initramfs::{add_ignition, add_modules, skeleton};

/// Loaded by /init for Ignition's download (the rest udev loads later).
const NET_MODULES: &[&str] = &["virtio_pci", "virtio_net"];

pub struct Parts<'a> {
    pub busybox: &'a Utf8Path,
    pub ignition: &'a Utf8Path,
    pub modules_root: &'a Utf8Path,
    pub module_version: &'a str,
    /// PEM certificates the node trusts besides Debian's CAs.
    pub extra_cas: &'a [Vec<u8>],
    /// `/etc/hosts` of the node: how it finds the outside world's names.
    pub hosts: &'a str,
}

/// The gzip-compressed per-run archive.
pub fn build(p: &Parts) -> Result<Vec<u8>> {
    let mut a = skeleton(&["sysroot"]);
    a.file("init", 0o755, INIT);
    a.file("etc/e2e/udhcpc.script", 0o755, UDHCPC_SCRIPT);
    add_ignition(&mut a, p.busybox, p.ignition)?;
    let order = add_modules(&mut a, p.modules_root, p.module_version, NET_MODULES)?;
    a.file("etc/e2e/modules", 0o644, order.join("\n") + "\n");

    a.file("sysroot/etc/hosts", 0o644, p.hosts);
    for (i, pem) in p.extra_cas.iter().enumerate() {
        // OpenSSL (and so curl and s_client) looks certificates up in
        // /etc/ssl/certs by subject hash; any name works for the bundle
        // update that never runs here, so the hash link is the file.
        let hash = subject_hash(pem).context("hashing a test CA certificate")?;
        a.file(
            &format!("sysroot/etc/ssl/certs/{hash}.{i}"),
            0o644,
            pem.clone(),
        );
    }

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&a.to_bytes())
        .context("compressing the initrd")?;
    gz.finish().context("compressing the initrd")
}

/// `openssl x509 -subject_hash` of a PEM certificate.
pub fn subject_hash(pem: &[u8]) -> Result<String> {
    let mut child = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-subject_hash"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running openssl")?;
    child
        .stdin
        .take()
        .context("openssl stdin")?
        .write_all(pem)
        .context("writing to openssl")?;
    let out = child.wait_with_output().context("running openssl")?;
    anyhow::ensure!(out.status.success(), "openssl x509 -subject_hash failed");
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// PID 1 of the initrd (busybox sh). Marker lines `E2E <key> <value>` on
/// the console tell the harness how far it got.
pub const INIT: &str = include_str!("scripts/initrd-init.sh");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_parses() {
        let out = std::process::Command::new("busybox")
            .args(["sh", "-n", "-c", INIT])
            .output()
            .expect("busybox on PATH");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
