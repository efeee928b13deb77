//! The flake under a modern Nix: `nix flake show` and
//! `nix flake check --no-build --all-systems`, with Debian trixie's Nix
//! (2.26) in a chroot, since bookworm's 2.8 is older than any nixpkgs
//! accepts, against the project's stand-in nixpkgs (`nix-standin/`), since
//! nixpkgs itself cannot be had here.
//!
//! What it proves: the flake evaluates on both systems; every app's
//! `program` is a store path; every check, package, dev shell and formatter
//! is a derivation; every attribute of nixpkgs it uses exists under that
//! name and shape in the stand-in (which mirrors nixpkgs 25.11 for the
//! names used); the README's `.#names` are outputs. What it cannot: that
//! nixpkgs builds any of it.
//!
//! The chroot (mmdebstrap, about 25 s cold) is cached under
//! target/xtask/nix-chroot. Mounts for a run (proc, the workspace) are made
//! in a private mount namespace (`unshare --mount`), so they vanish with the
//! run and nothing of the host is ever mounted into a tree that could later
//! be deleted.

use std::collections::BTreeMap;
use std::fs;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::fetch::machine_mirror;

const SUITE: &str = "trixie";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-trixie-stable.gpg";

/// system -> output kind -> names, as `nix flake show` lists them.
pub type Outputs = BTreeMap<String, BTreeMap<String, std::collections::BTreeSet<String>>>;

pub fn run(sh: &Shell, root: &Utf8Path) -> Result<Outputs> {
    let chroot = ensure_chroot(sh, root)?;
    let standin = root.join("generators/xtask/nix-standin");
    let version = in_chroot(sh, &chroot, root, "nix --version")?;
    eprintln!(
        "modern Nix: {} (Debian {SUITE}, in a chroot)",
        version.trim()
    );
    let nix = "nix --extra-experimental-features 'nix-command flakes' \
         --option substituters '' --option build-users-group '' --option sandbox false";
    let input = format!("--no-write-lock-file --override-input nixpkgs path:{standin}");
    let show = in_chroot(
        sh,
        &chroot,
        root,
        &format!("{nix} flake show {input} --json --all-systems {root}"),
    )
    .context("nix flake show (modern Nix, stand-in nixpkgs)")?;
    in_chroot(
        sh,
        &chroot,
        root,
        &format!("{nix} flake check {input} --no-build --all-systems {root}"),
    )
    .context("nix flake check --no-build --all-systems (modern Nix, stand-in nixpkgs)")?;
    // flake check accepts any store path as a program; a program must be a
    // file inside a package's output (/nix/store/<hash>-<name>/…), and
    // every app says what it does (`nix run` lists it).
    let apps = in_chroot(
        sh,
        &chroot,
        root,
        &format!(
            "{nix} eval {input} --json {root}#apps --apply \
             'builtins.mapAttrs (s: builtins.mapAttrs (n: a: [ a.program (a.meta.description or null) ]))'"
        ),
    )?;
    let apps: serde_json::Value = serde_json::from_str(&apps).context("nix eval of the apps")?;
    let problems = app_problems(&apps);
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    let outputs = outputs(&show)?;
    eprintln!("modern Nix: flake show and flake check --no-build --all-systems pass");
    Ok(outputs)
}

fn app_problems(apps: &serde_json::Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (system, per_system) in apps.as_object().into_iter().flatten() {
        for (name, app) in per_system.as_object().into_iter().flatten() {
            let program = app[0].as_str().unwrap_or("");
            let rest = program.strip_prefix("/nix/store/").unwrap_or("");
            if !rest.contains('/') {
                problems.push(format!(
                    "apps.{system}.{name}.program {program:?} is not a file inside a store path"
                ));
            }
            if app[1].as_str().is_none_or(|d| d.trim().is_empty()) {
                problems.push(format!("apps.{system}.{name} has no meta.description"));
            }
        }
    }
    problems
}

/// The outputs `nix flake show --json` lists, per system and kind.
fn outputs(show_json: &str) -> Result<Outputs> {
    let v: serde_json::Value = serde_json::from_str(show_json).context("nix flake show --json")?;
    let mut outputs = Outputs::new();
    for kind in ["apps", "packages", "checks", "devShells"] {
        for (system, per_system) in v[kind].as_object().into_iter().flatten() {
            let names = outputs
                .entry(system.clone())
                .or_default()
                .entry(kind.to_owned())
                .or_default();
            names.extend(
                per_system
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(n, _)| n.clone()),
            );
        }
    }
    if outputs.is_empty() {
        bail!("nix flake show lists no outputs");
    }
    Ok(outputs)
}

/// A trixie root with `nix-bin`, built once.
fn ensure_chroot(sh: &Shell, root: &Utf8Path) -> Result<Utf8PathBuf> {
    let base = crate::target_dir(root).join("xtask/nix-chroot");
    let tree = base.join("root");
    let ready = base.join("ready");
    if ready.is_file() && tree.join("usr/bin/nix").is_file() {
        return Ok(tree);
    }
    if !Utf8Path::new(KEYRING).is_file() {
        bail!("{KEYRING} is missing: install Debian's debian-archive-keyring (bookworm's knows {SUITE})");
    }
    let mirror = machine_mirror()?;
    // A half-built tree from an interrupted run: nothing is mounted in it
    // (runs mount only in private namespaces), so it is safe to remove.
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).with_context(|| format!("creating {base}"))?;
    eprintln!("modern Nix: building a Debian {SUITE} chroot with nix-bin in {tree} (once)");
    // mmdebstrap resolves nix-bin's dependencies (virtual Perl packages
    // included) with apt in one pass: about 25 s here, where debootstrap and
    // then apt in the chroot took over 3 minutes.
    cmd!(
        sh,
        "mmdebstrap --quiet --variant=minbase --include=nix-bin --keyring={KEYRING} {SUITE} {tree} {mirror}"
    )
    .quiet()
    .run()
    .context("mmdebstrap (Debian package mmdebstrap, as root)")?;
    fs::write(&ready, b"").with_context(|| format!("writing {ready}"))?;
    Ok(tree)
}

/// Runs `script` with `sh` inside the chroot, the workspace visible at its
/// own path; returns its standard output.
fn in_chroot(sh: &Shell, tree: &Utf8Path, workspace: &Utf8Path, script: &str) -> Result<String> {
    let inner = format!(
        "set -e
mount -t proc proc {tree}/proc
mkdir -p {tree}{workspace}
mount --bind {workspace} {tree}{workspace}
exec chroot {tree} env -i HOME=/root PATH=/usr/bin:/bin sh -c \"$0\""
    );
    let out = cmd!(
        sh,
        "unshare --mount --propagation private sh -c {inner} {script}"
    )
    .quiet()
    .ignore_status()
    .output()
    .context("unshare (util-linux), as root")?;
    if !out.status.success() {
        bail!("{script}:\n{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_need_a_program_inside_a_store_path_and_a_description() {
        let apps = serde_json::json!({ "x86_64-linux": {
            "ok": ["/nix/store/abc-ephemeros-build-stick/bin/ephemeros-build-stick", "Build"],
            "bare": ["/nix/store/abc-ephemeros", "Build"],
            "outside": ["/usr/bin/ephemeros", "Build"],
            "silent": ["/nix/store/abc-x/bin/x", null],
        }});
        assert_eq!(
            app_problems(&apps),
            [
                "apps.x86_64-linux.bare.program \"/nix/store/abc-ephemeros\" is not a file inside a store path",
                "apps.x86_64-linux.outside.program \"/usr/bin/ephemeros\" is not a file inside a store path",
                "apps.x86_64-linux.silent has no meta.description",
            ]
        );
    }

    #[test]
    fn flake_show_json_is_read_per_system_and_kind() {
        let show = r#"{"apps":{"x86_64-linux":{"qemu":{"type":"app"}}},
            "packages":{"aarch64-linux":{"ipxe":{}},"x86_64-linux":{"default":{},"ipxe":{}}},
            "checks":{"x86_64-linux":{"e2e":{}}},"formatter":{"x86_64-linux":{}}}"#;
        let o = outputs(show).unwrap();
        assert!(o["x86_64-linux"]["apps"].contains("qemu"));
        assert!(o["x86_64-linux"]["checks"].contains("e2e"));
        assert!(o["aarch64-linux"]["packages"].contains("ipxe"));
        assert!(!o["aarch64-linux"].contains_key("checks"));
        assert!(outputs("{}").is_err());
    }
}
