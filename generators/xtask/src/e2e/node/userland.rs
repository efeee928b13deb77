//! The stand-in node's userland: Debian trixie from Debian's archive, built
//! once by `mmdebstrap` into a tarball cached under target/xtask/e2e/node/.
//!
//! The mirror is the machine's own (read from its apt sources, never written
//! down); the tarball is plain Debian, everything the stand-in changes is
//! applied when it is turned into the initrd (`sysroot.rs`).

use std::fs;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::workspace_root;

/// The suite: systemd 257, whose first-boot preset semantics and
/// `systemd-notify --exec` the stand-in relies on.
pub const SUITE: &str = "trixie";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-trixie-stable.gpg";

/// What a Flatcar node has that the units use (flatcar.md: bash, curl, jq,
/// openssl, journalctl, coreutils), plus udev, networkd (in `systemd`),
/// sshd and sudo. `minbase` brings bash, coreutils, util-linux.
pub const PACKAGES: &[&str] = &[
    "systemd-sysv",
    "udev",
    "openssh-server",
    "curl",
    "jq",
    "openssl",
    "kmod",
    "iproute2",
    "sudo",
    "ca-certificates",
    // The node resolves its own name (sudo asks), as Flatcar's glibc does
    // through systemd's nss-myhostname.
    "libnss-myhostname",
];

/// Not installed at all (dpkg's path-exclude): the tarball stays small.
const EXCLUDED: &[&str] = &[
    "/usr/share/man/*",
    "/usr/share/doc/*",
    "/usr/share/locale/*",
    "/usr/share/info/*",
];

pub fn cache_dir() -> Utf8PathBuf {
    workspace_root().join("target/xtask/e2e/node")
}

/// The cached tarball's name changes with the package list, so a change
/// here builds a new one.
fn tarball_name() -> String {
    use sha2::Digest;
    let key = format!("{SUITE}|{}|{}", PACKAGES.join(","), EXCLUDED.join(","));
    let hash = crate::e2e::node_config::hex(&sha2::Sha256::digest(key.as_bytes()));
    format!("userland-{SUITE}-{}.tar", &hash[..12])
}

/// The userland tarball: `E2E_USERLAND` if set, else the cached one, built
/// (a minute or two) when missing.
pub fn tarball(sh: &Shell, offline: bool) -> Result<Utf8PathBuf> {
    if let Some(p) = std::env::var("E2E_USERLAND").ok().filter(|v| !v.is_empty()) {
        let p = Utf8PathBuf::from(p);
        if !p.is_file() {
            bail!("E2E_USERLAND={p}: no such file");
        }
        return Ok(p);
    }
    let dir = cache_dir();
    let tar = dir.join(tarball_name());
    if tar.is_file() {
        return Ok(tar);
    }
    if offline {
        bail!("E2E_OFFLINE=1 and no cached userland at {tar}: set E2E_USERLAND or run once online");
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    build(sh, &tar)?;
    Ok(tar)
}

fn build(sh: &Shell, tar: &Utf8Path) -> Result<()> {
    let mirror = crate::fetch::machine_mirror()?;
    if !Utf8Path::new(KEYRING).is_file() {
        bail!("{KEYRING} missing: install debian-archive-keyring (2023.3 or later knows trixie)");
    }
    let partial = tar.with_extension("tar.partial");
    let _ = fs::remove_file(&partial);
    let include = format!("--include={}", PACKAGES.join(","));
    let excludes: Vec<String> = EXCLUDED
        .iter()
        .map(|p| format!("--dpkgopt=path-exclude={p}"))
        .collect();
    let keyring = format!("--keyring={KEYRING}");
    let languages = "--aptopt=Acquire::Languages \"none\"";
    let source = format!("deb {mirror} {SUITE} main");
    let started = std::time::Instant::now();
    eprintln!("e2e: building the stand-in userland (Debian {SUITE}, mmdebstrap) into {tar}");
    crate::fetch::run_to_stderr(cmd!(
        sh,
        "mmdebstrap --quiet --variant=minbase --format=tar {include} {excludes...} {languages} {keyring} {SUITE} {partial} {source}"
    ))
    .context("mmdebstrap (Debian package mmdebstrap; root, or unprivileged user namespaces)")?;
    fs::rename(&partial, tar).with_context(|| format!("moving {partial} to {tar}"))?;
    eprintln!(
        "e2e: userland built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
