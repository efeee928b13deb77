//! The programs xtask and the tests run: found the one way, and a missing
//! one named with the Debian package that has it.

use anyhow::{bail, Result};
use camino::{Utf8Path, Utf8PathBuf};

/// `tool` as a shell would find it on PATH, then in /usr/sbin and /sbin
/// (where Debian keeps useradd and losetup, off a plain user's PATH).
pub fn which(tool: &str) -> Option<Utf8PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Utf8Path::new(d).join(tool))
        .find(|p| p.is_file());
    found
}

/// Fails naming every missing `(program, Debian package)` at once.
pub fn require(what: &str, tools: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<String> = tools
        .iter()
        .filter(|(tool, _)| which(tool).is_none())
        .map(|(tool, package)| format!("{tool} (Debian package `{package}`)"))
        .collect();
    if !missing.is_empty() {
        bail!("{what} needs {}", missing.join(", "));
    }
    Ok(())
}

/// Runs `openssl ARGS` in `dir` (certificates for the tests' TLS
/// servers); fails with openssl's own message.
pub fn openssl(dir: &Utf8Path, args: &[&str]) -> Result<()> {
    use anyhow::Context;
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .context("running openssl (Debian package openssl)")?;
    if !out.status.success() {
        bail!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_sh_and_names_what_is_missing() {
        assert!(super::which("sh").is_some());
        let e = super::require(
            "this test",
            &[("sh", "dash"), ("no-such-tool-x", "nothing")],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "this test needs no-such-tool-x (Debian package `nothing`)"
        );
    }
}
