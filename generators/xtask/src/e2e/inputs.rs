//! Where the harness's inputs come from: the E2E_*/EPHEMEROS_* variables
//! (the Nix flake passes Nix-built parts), else Debian's archive (cached)
//! and the tools on this machine.

use anyhow::{bail, Context, Result};
use camino::Utf8PathBuf;
use ephemeros_qemu::discover::Lookup;
use ephemeros_qemu::Tools;
use xshell::Shell;

use super::debian;

pub struct Inputs {
    pub kernel: Utf8PathBuf,
    pub modules_root: Utf8PathBuf,
    pub module_version: String,
    pub busybox: Utf8PathBuf,
    pub ignition: Utf8PathBuf,
    pub ipxe_efi: Utf8PathBuf,
    pub vm: Tools,
}

fn var(name: &str) -> Option<Utf8PathBuf> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Utf8PathBuf::from)
}

fn existing(name: &str, path: Utf8PathBuf) -> Result<Utf8PathBuf> {
    if path.exists() {
        Ok(path)
    } else {
        bail!("{name}={path}: no such file or directory")
    }
}

pub fn offline() -> bool {
    std::env::var("E2E_OFFLINE").is_ok_and(|v| v == "1")
}

pub fn resolve(sh: &Shell) -> Result<Inputs> {
    let offline = offline();
    let (kernel, modules_root) = match (var("E2E_KERNEL"), var("E2E_KERNEL_MODULES")) {
        (Some(k), Some(m)) => (
            existing("E2E_KERNEL", k)?,
            existing("E2E_KERNEL_MODULES", m)?,
        ),
        (None, None) => {
            let k = debian::kernel(sh, offline)?;
            (k.image, k.modules_root)
        }
        _ => bail!("set both E2E_KERNEL and E2E_KERNEL_MODULES, or neither"),
    };
    let module_version = debian::module_version(&modules_root)?;
    let busybox = match var("E2E_BUSYBOX") {
        Some(b) => existing("E2E_BUSYBOX", b)?,
        None => crate::tools::which("busybox")
            .context("busybox not found: install busybox-static or set E2E_BUSYBOX")?,
    };
    let ignition = match var("E2E_IGNITION") {
        Some(i) => existing("E2E_IGNITION", i)?,
        None => debian::ignition(sh, offline)?,
    };
    let ipxe_efi = match var("EPHEMEROS_IPXE_EFI") {
        Some(p) => existing("EPHEMEROS_IPXE_EFI", p)?,
        None => crate::fetch::ensure_ipxe(sh, false)?,
    };
    if !crate::fetch::has_autoexec(&ipxe_efi)? {
        bail!("{ipxe_efi} has no autoexec.ipxe support (iPXE older than 2021?)");
    }
    let vm = Lookup::from_env(None, None, None)
        .tools()
        .context("finding qemu and OVMF")?;
    Ok(Inputs {
        kernel,
        modules_root,
        module_version,
        busybox,
        ignition,
        ipxe_efi,
        vm,
    })
}
