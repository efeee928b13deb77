//! The stick under test, built by the real `ephemeros build-stick` (the
//! debug binary of this workspace) into an image file, with the scenario's
//! environment and flags and nothing inherited from the caller's settings.

use std::process::Command;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::scenario::{is_setting_var, Scenario};

pub fn build(
    ephemeros: &Utf8Path,
    sc: &Scenario,
    ipxe_efi: &Utf8Path,
    dir: &Utf8Path,
    name: &str,
) -> Result<Utf8PathBuf> {
    let key = dir.join(format!("{name}-key.pub"));
    std::fs::write(&key, format!("{}\n", sc.ssh_key)).with_context(|| format!("writing {key}"))?;
    let img = dir.join(format!("{name}.img"));
    let mut c = Command::new(ephemeros);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_setting_var) {
            c.env_remove(&name);
        }
    }
    c.envs(sc.env(key.as_str()))
        .arg("build-stick")
        .args(["--yes", "--ipxe-efi", ipxe_efi.as_str()])
        .args(sc.flags())
        .arg(&img)
        // The repository's git remote is irrelevant: IGN_PATH gives the URL.
        .current_dir(dir);
    eprintln!("$ {c:?}");
    let out = c.output().context("running ephemeros build-stick")?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("ephemeros build-stick failed with {}", out.status);
    }
    if !img.is_file() {
        bail!("ephemeros build-stick did not create {img}");
    }
    Ok(img)
}
