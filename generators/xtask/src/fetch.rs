//! Fetching Debian packages the tests need (iPXE from trixie, the stand-in
//! kernel) with a private apt configuration.
//!
//! The machine's own apt configuration is never touched: we write our own
//! one-line sources list naming the wanted suite on the *same mirror* as the
//! machine's Debian entry (read from /etc/apt/sources.list.d/*.sources or
//! /etc/apt/sources.list, so no mirror host name is ever written here), and
//! point apt at private lists/cache directories under target/xtask/.

use std::fs;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::workspace_root;

#[derive(clap::Args)]
pub struct IpxeArgs {
    /// Fetch again even when a verified copy is cached
    #[arg(long)]
    pub refresh: bool,
}

/// Debian suite whose `ipxe` package runs `autoexec.ipxe` (bookworm's does not).
const IPXE_SUITE: &str = "trixie";
/// Where the amd64 EFI binary sits inside the `ipxe` package.
const IPXE_EFI_IN_PACKAGE: &str = "usr/lib/ipxe/ipxe-amd64.efi";
/// A binary that supports autoexec names the script file it looks for.
pub const AUTOEXEC_MARKER: &[u8] = b"autoexec.ipxe";

pub fn ipxe(sh: &Shell, args: IpxeArgs) -> Result<()> {
    let efi = ensure_ipxe(sh, args.refresh).map_err(|err| {
        // apt's own message names whatever ipxe the host's lists know (on
        // bookworm a 2019 build that cannot run autoexec.ipxe): say what is
        // needed, where it was looked for, and the ways around it.
        err.context(format!(
            "cargo xtask ipxe needs Debian {IPXE_SUITE}'s `ipxe` package (bookworm's 2019 \
             build cannot run autoexec.ipxe), downloaded from the Debian mirror of this \
             machine's apt sources into target/xtask/apt/{IPXE_SUITE}; nothing usable is \
             cached at target/xtask/ipxe. Without that mirror, give build-stick any iPXE EFI \
             binary from 2021 or later: --ipxe-efi FILE or EPHEMEROS_IPXE_EFI=FILE \
             (with Nix: `nix run .#build-stick`, which brings its own)"
        ))
    })?;
    println!("{efi}");
    Ok(())
}

/// Returns a verified, cached iPXE EFI binary, fetching it when needed.
pub fn ensure_ipxe(sh: &Shell, refresh: bool) -> Result<Utf8PathBuf> {
    let out = workspace_root().join("target/xtask/ipxe");
    let efi = out.join(IPXE_EFI_IN_PACKAGE);
    if !refresh && efi.is_file() && has_autoexec(&efi)? {
        return Ok(efi);
    }
    if std::env::var_os("E2E_OFFLINE").is_some_and(|v| v == "1") {
        bail!("E2E_OFFLINE=1 and no cached iPXE at {efi}: set EPHEMEROS_IPXE_EFI or run `cargo xtask ipxe` online");
    }
    let apt = PrivateApt::new(IPXE_SUITE)?;
    let deb = apt.download(sh, "ipxe")?;
    // Extract next to the final place, then swap, so an interrupted run never
    // leaves a half-extracted tree that looks cached.
    let staging = out.with_extension("partial");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).with_context(|| format!("creating {staging}"))?;
    run_to_stderr(cmd!(sh, "dpkg-deb -x {deb} {staging}"))
        .with_context(|| format!("extracting {deb}"))?;
    let staged_efi = staging.join(IPXE_EFI_IN_PACKAGE);
    if !has_autoexec(&staged_efi)? {
        bail!(
            "{staged_efi} (from {deb}) lacks autoexec.ipxe support; this iPXE cannot boot a stick"
        );
    }
    let _ = fs::remove_dir_all(&out);
    fs::rename(&staging, &out).with_context(|| format!("moving {staging} to {out}"))?;
    Ok(efi)
}

/// True when the file contains the string `autoexec.ipxe` (iPXE builds that
/// run the script from their boot volume name it; older ones do not).
pub fn has_autoexec(path: &Utf8Path) -> Result<bool> {
    let bytes = fs::read(path).with_context(|| format!("reading {path}"))?;
    Ok(bytes
        .windows(AUTOEXEC_MARKER.len())
        .any(|w| w == AUTOEXEC_MARKER))
}

/// An apt configuration of our own: one suite of Debian's main archive on the
/// machine's mirror, with lists and cache under target/xtask/apt/<suite>.
pub struct PrivateApt {
    dir: Utf8PathBuf,
    opts: Vec<String>,
}

impl PrivateApt {
    pub fn new(suite: &str) -> Result<Self> {
        let mirror = machine_mirror()?;
        let dir = workspace_root().join("target/xtask/apt").join(suite);
        for sub in ["lists/partial", "cache/archives/partial", "debs"] {
            let d = dir.join(sub);
            fs::create_dir_all(&d).with_context(|| format!("creating {d}"))?;
        }
        let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
        let signed_by = if Utf8Path::new(keyring).is_file() {
            format!("[signed-by={keyring}] ")
        } else {
            String::new()
        };
        let list = dir.join("sources.list");
        let line = format!("deb {signed_by}{mirror} {suite} main\n");
        fs::write(&list, line).with_context(|| format!("writing {list}"))?;
        let opts = [
            format!("Dir::Etc::SourceList={list}"),
            // No parts directory: only our list, never the machine's entries.
            format!("Dir::Etc::SourceParts={}", dir.join("no-parts")),
            format!("Dir::State::Lists={}", dir.join("lists")),
            format!("Dir::Cache={}", dir.join("cache")),
            // Our dirs are root-owned under target/; apt's _apt user could not
            // write them and would warn on every download.
            "APT::Sandbox::User=root".to_owned(),
            // Package lists are all we need; skip appstream metadata.
            "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false".to_owned(),
            "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false".to_owned(),
            "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false".to_owned(),
        ]
        .into_iter()
        .flat_map(|o| ["-o".to_owned(), o])
        .collect();
        Ok(Self { dir, opts })
    }

    /// `apt-get update` once per run of this process (lists are reused across
    /// runs when fresh: a day old at most).
    fn update(&self, sh: &Shell) -> Result<()> {
        let stamp = self.dir.join("updated");
        let fresh = fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() < 24 * 3600);
        if fresh {
            return Ok(());
        }
        let opts = &self.opts;
        run_to_stderr(cmd!(sh, "apt-get -q {opts...} update"))
            .context("apt-get update with the private configuration")?;
        fs::write(&stamp, b"").with_context(|| format!("writing {stamp}"))?;
        Ok(())
    }

    /// Package names matching REGEX in our lists (`apt-cache search --names-only`),
    /// used to find the current name of a versioned package such as the kernel.
    pub fn search_names(&self, sh: &Shell, regex: &str) -> Result<Vec<String>> {
        self.update(sh)?;
        let opts = &self.opts;
        let out = cmd!(sh, "apt-cache {opts...} search --names-only {regex}")
            .read()
            .with_context(|| format!("apt-cache search {regex}"))?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect())
    }

    /// Downloads `pkg` (cached: a .deb already in our debs dir is reused) and
    /// returns the path of the .deb.
    pub fn download(&self, sh: &Shell, pkg: &str) -> Result<Utf8PathBuf> {
        let debs = self.dir.join("debs");
        if let Some(deb) = find_deb(&debs, pkg)? {
            return Ok(deb);
        }
        self.update(sh)?;
        let opts = &self.opts;
        let _cd = sh.push_dir(&debs);
        if run_to_stderr(cmd!(sh, "apt-get -q {opts...} download {pkg}")).is_err() {
            // Lists up to a day old can name a version the mirror has
            // since dropped: refresh them once and retry.
            let _ = fs::remove_file(self.dir.join("updated"));
            self.update(sh)?;
            run_to_stderr(cmd!(sh, "apt-get -q {opts...} download {pkg}"))
                .with_context(|| format!("apt-get download {pkg}"))?;
        }
        find_deb(&debs, pkg)?
            .with_context(|| format!("apt-get download {pkg} left no .deb in {debs}"))
    }
}

/// Runs a command with its standard output sent to standard error, so that
/// `cargo xtask ipxe` prints nothing but the path on standard output and
/// `EPHEMEROS_IPXE_EFI=$(cargo xtask ipxe)` works on a first, uncached run.
pub fn run_to_stderr(cmd: xshell::Cmd<'_>) -> Result<()> {
    let shown = cmd.to_string();
    eprintln!("$ {shown}");
    let mut command = std::process::Command::from(cmd);
    command.stdout(std::io::stderr());
    let status = command
        .status()
        .with_context(|| format!("running {shown}"))?;
    anyhow::ensure!(status.success(), "{shown} failed: {status}");
    Ok(())
}

fn find_deb(dir: &Utf8Path, pkg: &str) -> Result<Option<Utf8PathBuf>> {
    let prefix = format!("{pkg}_");
    for entry in fs::read_dir(dir).with_context(|| format!("listing {dir}"))? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".deb") {
            return Ok(Some(dir.join(&*name)));
        }
    }
    Ok(None)
}

/// The mirror URI of the machine's main Debian entry (the suite without a
/// `-updates`/`-security` suffix), from deb822 `.sources` files or the
/// one-line sources.list.
pub fn machine_mirror() -> Result<String> {
    let mut candidates = Vec::new();
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<_> = dir.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|e| e == "sources") {
                let text =
                    fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
                candidates.extend(mirrors_from_deb822(&text));
            } else if f.extension().is_some_and(|e| e == "list") {
                let text =
                    fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
                candidates.extend(mirrors_from_one_line(&text));
            }
        }
    }
    if let Ok(text) = fs::read_to_string("/etc/apt/sources.list") {
        candidates.extend(mirrors_from_one_line(&text));
    }
    candidates.into_iter().next().context(
        "no Debian main-archive entry (a `deb` source with a suite like `bookworm`) \
         in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list",
    )
}

/// A main suite is a plain codename such as `bookworm` (not `bookworm-updates`).
fn is_main_suite(suite: &str) -> bool {
    !suite.is_empty() && !suite.contains(['-', '/'])
}

fn mirrors_from_deb822(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .filter(|l| !l.starts_with('#'))
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        let is_deb = field("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let enabled = field("Enabled").is_none_or(|e| e != "no");
        let main = field("Suites").is_some_and(|s| s.split_whitespace().any(is_main_suite));
        if let (true, true, true, Some(uris)) = (is_deb, enabled, main, field("URIs")) {
            found.extend(uris.split_whitespace().map(str::to_owned));
        }
    }
    found
}

fn mirrors_from_one_line(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next()? != "deb" {
                return None;
            }
            let mut uri = words.next()?;
            if uri.starts_with('[') {
                // Options block: skip words until the one closing it.
                while !uri.ends_with(']') {
                    uri = words.next()?;
                }
                uri = words.next()?;
            }
            let suite = words.next()?;
            is_main_suite(suite).then(|| uri.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_picks_the_main_suite_entry() {
        let text = "Types: deb\n# comment\nURIs: http://mirror.example/debian\n\
                    Suites: bookworm bookworm-updates\nComponents: main\n\n\
                    Types: deb\nURIs: http://mirror.example/debian-security\n\
                    Suites: bookworm-security\nComponents: main\n";
        assert_eq!(mirrors_from_deb822(text), ["http://mirror.example/debian"]);
    }

    #[test]
    fn deb822_skips_disabled_and_source_entries() {
        let text = "Types: deb-src\nURIs: http://a.example/d\nSuites: bookworm\n\n\
                    Types: deb\nEnabled: no\nURIs: http://b.example/d\nSuites: bookworm\n";
        assert!(mirrors_from_deb822(text).is_empty());
    }

    #[test]
    fn one_line_handles_options_and_skips_security() {
        let text = "# deb http://x.example/d bookworm main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\n\
                    deb http://m.example/debian-security bookworm-security main\n";
        assert_eq!(mirrors_from_one_line(text), ["http://m.example/debian"]);
    }
}
