//! The stand-in's parts from Debian bookworm's archive, cached under
//! target/xtask/e2e/debian so repeated runs fetch nothing.
//!
//! - the kernel: the newest `linux-image-6.1.0-N-amd64` (vmlinuz + modules);
//!   the package has no modules.dep, so `depmod` is run on the extracted tree;
//! - Ignition, when the machine has no `ignition` package installed.

use std::fs;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::fetch::PrivateApt;
use crate::workspace_root;

/// The suite whose 6.1 kernel and Ignition 2.14 the boot chain was measured with.
const SUITE: &str = "bookworm";
/// Where Debian's `ignition` package puts the binary (a dracut module).
pub const DEBIAN_IGNITION: &str = "usr/lib/dracut/modules.d/30ignition/ignition";

/// A kernel image and its module tree (`<root>/lib/modules/<version>/`).
pub struct Kernel {
    pub image: Utf8PathBuf,
    pub modules_root: Utf8PathBuf,
}

fn cache_dir() -> Utf8PathBuf {
    workspace_root().join("target/xtask/e2e/debian")
}

/// Fetches (once) and extracts the newest bookworm 6.1 kernel package.
pub fn kernel(sh: &Shell, offline: bool) -> Result<Kernel> {
    let root = cache_dir().join("kernel");
    let done = root.join(".complete");
    if !done.exists() {
        if offline {
            bail!(
                "E2E_OFFLINE=1 and no cached Debian kernel in {root}: set E2E_KERNEL and \
                 E2E_KERNEL_MODULES, or run once online"
            );
        }
        let apt = PrivateApt::new(SUITE)?;
        let mut names = apt.search_names(sh, r"^linux-image-6\.1\.0-[0-9]+-amd64$")?;
        // Newest ABI number last: compare numerically, not as text (-9 < -10).
        names.sort_by_key(|n| abi_number(n));
        let pkg = names
            .last()
            .context("no linux-image-6.1.0-*-amd64 package in bookworm's lists")?;
        let deb = apt.download(sh, pkg)?;
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).with_context(|| format!("creating {root}"))?;
        cmd!(sh, "dpkg-deb -x {deb} {root}")
            .run()
            .with_context(|| format!("extracting {deb}"))?;
        let version = module_version(&root)?;
        cmd!(sh, "depmod -b {root} {version}")
            .run()
            .context("depmod on the extracted kernel")?;
        fs::write(&done, pkg.as_bytes()).with_context(|| format!("writing {done}"))?;
    }
    let version = module_version(&root)?;
    let image = root.join(format!("boot/vmlinuz-{version}"));
    if !image.is_file() {
        bail!("{image} missing from the extracted kernel package");
    }
    Ok(Kernel {
        image,
        modules_root: root,
    })
}

/// Debian's Ignition binary: the installed package's, else fetched (once).
pub fn ignition(sh: &Shell, offline: bool) -> Result<Utf8PathBuf> {
    let installed = Utf8Path::new("/").join(DEBIAN_IGNITION);
    if installed.is_file() {
        return Ok(installed);
    }
    let root = cache_dir().join("ignition");
    let bin = root.join(DEBIAN_IGNITION);
    if !bin.is_file() {
        if offline {
            bail!("E2E_OFFLINE=1 and no Ignition: set E2E_IGNITION or install Debian's `ignition`");
        }
        let deb = PrivateApt::new(SUITE)?.download(sh, "ignition")?;
        fs::create_dir_all(&root).with_context(|| format!("creating {root}"))?;
        cmd!(sh, "dpkg-deb -x {deb} {root}")
            .run()
            .with_context(|| format!("extracting {deb}"))?;
    }
    Ok(bin)
}

fn abi_number(pkg: &str) -> u32 {
    pkg.trim_start_matches("linux-image-6.1.0-")
        .split('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The one `<version>` directory under `<root>/lib/modules` (or usr/lib/modules).
pub fn module_version(root: &Utf8Path) -> Result<String> {
    let dir = modules_dir(root)?;
    let mut versions = Vec::new();
    for e in fs::read_dir(&dir).with_context(|| format!("listing {dir}"))? {
        let e = e?;
        if e.file_type()?.is_dir() {
            versions.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    match versions.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no kernel version directory in {dir}"),
        many => bail!("several kernel versions in {dir}: {}", many.join(", ")),
    }
}

/// `<root>/lib/modules`, or `<root>/usr/lib/modules` on merged-/usr layouts.
pub fn modules_dir(root: &Utf8Path) -> Result<Utf8PathBuf> {
    ["lib/modules", "usr/lib/modules"]
        .into_iter()
        .map(|p| root.join(p))
        .find(|p| p.is_dir())
        .with_context(|| format!("{root} has no lib/modules directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_numbers_sort_numerically() {
        let mut v = [
            "linux-image-6.1.0-9-amd64",
            "linux-image-6.1.0-41-amd64",
            "linux-image-6.1.0-10-amd64",
        ];
        v.sort_by_key(|n| abi_number(n));
        assert_eq!(v.last().unwrap(), &"linux-image-6.1.0-41-amd64");
    }
}
