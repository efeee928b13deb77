//! Static checks of the Nix flake (`flake.nix`, `flake.lock`, `nix/`).
//!
//! Nothing Nix builds can run on CI machines: nixpkgs is not there, and
//! Debian's Nix (2.8) is older than nixpkgs accepts. Nix 2.8 still parses
//! and evaluates plain expressions offline, which is enough to check:
//! - every tracked `.nix` file parses (syntax and unbound variables);
//! - every path literal in them names something git tracks (a flake sees
//!   nothing else) inside the repository;
//! - `flake.lock` pins every input by rev and narHash and agrees with the
//!   inputs `flake.nix` declares;
//! - the outputs, listed by evaluating `flake.nix` against a stand-in for
//!   nixpkgs that knows only what laying them out needs; every app has
//!   `type = "app"` and a `meta.description`;
//! - every `.#name` the README mentions is one of those outputs;
//! - `Cargo.lock` has no git sources (`cargoLock.lockFile` would then need
//!   hashes in the flake).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

/// Checks flake.lock against flake.nix, then lists the outputs per system as
/// `system|apps=a,b|packages=…|checks=…|devShells=…`, systems separated by
/// spaces. The stand-in nixpkgs has only what listing names forces; a
/// missing attribute here means the layout in flake.nix/nix/default.nix
/// started using more of nixpkgs at the top level.
const FLAKE_EXPR: &str = r#"
{ root }:
let
  inherit (builtins) attrNames concatMap concatStringsSep elem elemAt filter isInt isString match toJSON;
  flake = import (root + "/flake.nix");
  lock = builtins.fromJSON (builtins.readFile (root + "/flake.lock"));
  rootNode = lock.nodes.${lock.root or "root"} or { };
  declared = attrNames (flake.inputs or { });
  locked = attrNames (rootNode.inputs or { });
  when = cond: msg: if cond then [ msg ] else [ ];

  # An input as flake.lock's `original` spells it.
  originalOf = input:
    let m = match "github:([^/?]+)/([^/?]+)(/([^?]+))?" (input.url or ""); in
    if !(input ? url) then removeAttrs input [ "flake" "inputs" "follows" ]
    else if m == null then { unparsed = input.url; }
    else { type = "github"; owner = elemAt m 0; repo = elemAt m 1; }
      // (if elemAt m 3 == null then { } else { ref = elemAt m 3; });

  inputProblems = name:
    let
      node = lock.nodes.${rootNode.inputs.${name} or ""} or null;
      l = node.locked or { };
      want = originalOf flake.inputs.${name};
    in
    if node == null then [ "flake.lock: input ${name} (declared in flake.nix) is not locked" ]
    else
      when (match "[0-9a-f]{40}" (l.rev or "") == null) "flake.lock: ${name} is not pinned to a commit (locked.rev)"
      ++ when (match "sha256-[A-Za-z0-9+/]{43}=" (l.narHash or "") == null) "flake.lock: ${name} has no sha256 locked.narHash"
      ++ when (!isInt (l.lastModified or null)) "flake.lock: ${name} has no locked.lastModified"
      ++ when (node.original or null != want)
        "flake.lock: ${name} was locked from ${toJSON (node.original or null)} but flake.nix asks for ${toJSON want}: run `nix flake lock`";

  outputArgs = attrNames (builtins.functionArgs flake.outputs);
  problems =
    when (lock.version or null != 7) "flake.lock: version ${toJSON (lock.version or null)}, expected 7"
    ++ when (declared != locked) "flake.lock: root inputs ${toJSON locked} differ from flake.nix's inputs ${toJSON declared}"
    ++ when (!elem "nixpkgs" declared) "flake.nix: no nixpkgs input"
    ++ concatMap inputProblems declared
    ++ map (a: "flake.nix: outputs takes `${a}`, which is not an input")
      (filter (a: !elem a (declared ++ [ "self" ])) outputArgs);

  # The stand-in nixpkgs.
  lib = {
    genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
    optionalAttrs = cond: attrs: if cond then attrs else { };
  };
  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (system: {
      inherit lib;
      stdenv.hostPlatform.isx86_64 = system == "x86_64-linux";
    });
  };
  outputs = flake.outputs { self = outputs; inherit nixpkgs; };

  describe = system:
    let
      names = kind: concatStringsSep "," (attrNames (outputs.${kind}.${system} or { }));
      apps = outputs.apps.${system} or { };
      badApps = filter (n: apps.${n}.type or null != "app" || !isString (apps.${n}.meta.description or null)) (attrNames apps);
    in
    if badApps != [ ] then throw "flake.nix: apps.${system} without type = \"app\" or meta.description: ${toJSON badApps}"
    else "${system}|apps=${names "apps"}|packages=${names "packages"}|checks=${names "checks"}|devShells=${names "devShells"}";
in
if problems != [ ] then throw ("\n" + concatStringsSep "\n" problems)
else concatStringsSep " " (map describe (attrNames (outputs.packages or { })))
"#;

pub fn run(sh: &Shell) -> Result<()> {
    let root = Utf8PathBuf::from_path_buf(sh.current_dir())
        .map_err(|p| anyhow::anyhow!("workspace path is not UTF-8: {}", p.display()))?;
    let tracked = tracked_files(sh)?;
    let nix = Nix::new(sh, &root)?;

    let nix_files: Vec<&String> = tracked.iter().filter(|f| f.ends_with(".nix")).collect();
    if !nix_files.iter().any(|f| *f == "flake.nix") {
        bail!("flake.nix is not tracked by git: a flake sees only tracked files");
    }
    let mut problems = Vec::new();
    for file in &nix_files {
        match nix.parse(&root.join(file))? {
            Ok(ast) => problems.extend(path_problems(file, &extract_paths(&ast), &root, &tracked)),
            Err(err) => problems.push(format!("{file} does not parse:\n{err}")),
        }
    }
    report(&problems)?;
    eprintln!(
        "parsed {} .nix files; every path they name is tracked",
        nix_files.len()
    );

    // Nix 2.8 checks the lock against the inputs while listing the outputs
    // with a minimal stand-in; the README is checked against what a modern
    // Nix lists (below).
    let outputs = nix.flake_outputs(&root)?;
    for (system, kinds) in &outputs {
        let list: Vec<String> = kinds
            .iter()
            .map(|(k, v)| format!("{k}: {}", join(v)))
            .collect();
        eprintln!("{system}: {}", list.join("; "));
    }
    let readme = root.join("README.md");
    if readme.exists() {
        let text = std::fs::read_to_string(&readme).with_context(|| format!("reading {readme}"))?;
        let modern = super::nix_modern::run(sh, &root)?;
        problems.extend(readme_problems(&text, &modern));
    }
    let cargo_lock = root.join("Cargo.lock");
    let text =
        std::fs::read_to_string(&cargo_lock).with_context(|| format!("reading {cargo_lock}"))?;
    problems.extend(git_sources(&text).into_iter().map(|name| {
        format!("Cargo.lock: {name} comes from git; the flake's cargoLock.lockFile then needs cargoLock.outputHashes (prefer a crates.io release)")
    }));
    report(&problems)
}

fn report(problems: &[String]) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "the Nix flake has {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    )
}

fn join(names: &BTreeSet<String>) -> String {
    names
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Files in git's index: what a flake in this repository sees.
fn tracked_files(sh: &Shell) -> Result<BTreeSet<String>> {
    let out = cmd!(sh, "git ls-files -z")
        .quiet()
        .read()
        .context("listing tracked files (git ls-files); is this a git checkout?")?;
    Ok(out
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Debian's `nix-instantiate`, kept away from any system store, daemon,
/// substituter and configuration file: a dummy store, and a scratch
/// directory as HOME and NIX_CONF_DIR. Parsing and evaluating plain expressions need nothing more.
struct Nix<'a> {
    sh: &'a Shell,
    home: Utf8PathBuf,
}

impl<'a> Nix<'a> {
    fn new(sh: &'a Shell, root: &Utf8Path) -> Result<Self> {
        let home = root.join("target/xtask/nix-home");
        std::fs::create_dir_all(&home).with_context(|| format!("creating {home}"))?;
        let nix = Nix { sh, home };
        nix.cmd(&["--version"])
            .read()
            .context("nix-instantiate is needed to check the flake: install Debian's nix-bin (apt-get install nix-bin)")?;
        Ok(nix)
    }

    fn cmd(&self, args: &[&str]) -> xshell::Cmd<'a> {
        cmd!(self.sh, "nix-instantiate {args...}")
            .quiet()
            .env("HOME", &self.home)
            .env("NIX_CONF_DIR", &self.home)
            .env(
                "NIX_CONFIG",
                "store = dummy://\nsubstituters =\nexperimental-features =\n",
            )
            .env_remove("NIX_PATH")
            .env_remove("NIX_REMOTE")
    }

    /// The parsed expression as Nix prints it (path literals made absolute),
    /// or Nix's error with its line and column.
    fn parse(&self, file: &Utf8Path) -> Result<Result<String, String>> {
        let out = self
            .cmd(&["--parse", file.as_str()])
            .ignore_status()
            .output()
            .with_context(|| format!("running nix-instantiate --parse {file}"))?;
        if out.status.success() {
            Ok(Ok(String::from_utf8_lossy(&out.stdout).into_owned()))
        } else {
            Ok(Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()))
        }
    }

    /// Runs [`FLAKE_EXPR`] on the flake at `root`.
    fn flake_outputs(&self, root: &Utf8Path) -> Result<Outputs> {
        let out = self
            .cmd(&[
                "--eval",
                "--strict",
                "-E",
                FLAKE_EXPR,
                "--argstr",
                "root",
                root.as_str(),
            ])
            .ignore_status()
            .output()
            .context("running nix-instantiate --eval on flake.nix and flake.lock")?;
        if !out.status.success() {
            bail!(
                "checking flake.lock and listing the flake's outputs failed:\n{}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        parse_outputs(&String::from_utf8_lossy(&out.stdout))
    }
}

/// system -> output kind (apps, packages, …) -> names.
type Outputs = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn parse_outputs(printed: &str) -> Result<Outputs> {
    let printed = printed.trim();
    let listing = printed
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .with_context(|| format!("unexpected output listing from nix-instantiate: {printed}"))?;
    let mut outputs = Outputs::new();
    for system in listing.split(' ').filter(|s| !s.is_empty()) {
        let mut fields = system.split('|');
        let name = fields.next().unwrap_or_default().to_owned();
        let kinds = outputs.entry(name).or_default();
        for field in fields {
            let (kind, names) = field
                .split_once('=')
                .with_context(|| format!("unexpected field {field:?} in the output listing"))?;
            let names = names
                .split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
            kinds.insert(kind.to_owned(), names.collect());
        }
    }
    if outputs.is_empty() {
        bail!("flake.nix has no packages for any system");
    }
    Ok(outputs)
}

/// Absolute path literals in `nix-instantiate --parse` output, which prints
/// every relative path resolved. Text inside string literals is skipped.
fn extract_paths(ast: &str) -> Vec<Utf8PathBuf> {
    let mut paths = Vec::new();
    let mut chars = ast.char_indices().peekable();
    let mut prev = ' ';
    while let Some((i, c)) = chars.next() {
        if c == '"' {
            // A string literal: skip to its closing quote.
            let mut escaped = false;
            for (_, s) in chars.by_ref() {
                match (escaped, s) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    _ => {}
                }
            }
            prev = '"';
            continue;
        }
        // `//` is the update operator (`/` alone prints as `__div`).
        let next = ast[i + 1..].chars().next().unwrap_or(' ');
        if c == '/'
            && next != '/'
            && !next.is_whitespace()
            && (prev.is_whitespace() || "([{=;".contains(prev))
        {
            let end = ast[i..]
                .find(|e: char| e.is_whitespace() || ")]};".contains(e))
                .map_or(ast.len(), |n| i + n);
            paths.push(Utf8PathBuf::from(&ast[i..end]));
            while chars.peek().is_some_and(|&(j, _)| j < end) {
                chars.next();
            }
            prev = ast[..end].chars().next_back().unwrap_or(' ');
            continue;
        }
        prev = c;
    }
    paths
}

/// A path a `.nix` file names must be inside the repository, exist, and be
/// tracked by git (a directory: hold a tracked file).
fn path_problems(
    file: &str,
    paths: &[Utf8PathBuf],
    root: &Utf8Path,
    tracked: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for path in paths {
        let Ok(rel) = path.strip_prefix(root) else {
            problems.push(format!(
                "{file}: names {path}, outside the repository (a flake cannot read it)"
            ));
            continue;
        };
        let rel = rel.as_str();
        if !path.exists() {
            problems.push(format!("{file}: names {rel}, which does not exist"));
        } else if !(rel.is_empty()
            || tracked.contains(rel)
            || tracked
                .iter()
                .any(|t| t.strip_prefix(rel).is_some_and(|r| r.starts_with('/'))))
        {
            problems.push(format!("{file}: names {rel}, which git does not track (a flake sees only tracked files: git add it)"));
        }
    }
    problems
}

/// Every `.#name` (`nix run .#build-stick`, `.#checks.x86_64-linux.e2e`) in
/// the README must be an output of the flake.
fn readme_problems(readme: &str, outputs: &Outputs) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, _) in readme.match_indices(".#") {
        let rest = &readme[i + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
            .unwrap_or(rest.len());
        let reference = rest[..end].trim_end_matches('.');
        if reference.is_empty() || !seen.insert(reference) {
            continue;
        }
        let found = match reference.split('.').collect::<Vec<_>>()[..] {
            [name] => outputs.values().any(|kinds| {
                ["apps", "packages"]
                    .iter()
                    .any(|k| kinds.get(*k).is_some_and(|n| n.contains(name)))
            }),
            [kind, system, name] => outputs
                .get(system)
                .and_then(|kinds| kinds.get(kind))
                .is_some_and(|names| names.contains(name)),
            _ => false,
        };
        if !found {
            problems.push(format!(
                "README.md: `.#{reference}` is not an output of the flake"
            ));
        }
    }
    problems
}

/// Names of the packages Cargo.lock takes from git.
fn git_sources(cargo_lock: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut name = "";
    for line in cargo_lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"');
        } else if line.starts_with("source = \"git+") {
            names.push(name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// A scratch directory under target/ (xtask has no tempfile crate).
    fn scratch(name: &str) -> Utf8PathBuf {
        let dir = crate::workspace_root()
            .join("target/xtask/test-nix")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn paths_are_found_outside_strings_only() {
        let ast = r#"({ a }: (a.b /r/nix/x.nix "not /r/y \" /r/z" [ (/r) /etc/z ]; c = (/r/Cargo.lock // x);))"#;
        let found: Vec<String> = extract_paths(ast).into_iter().map(String::from).collect();
        assert_eq!(found, ["/r/nix/x.nix", "/r", "/etc/z", "/r/Cargo.lock"]);
    }

    #[test]
    fn paths_must_exist_be_tracked_and_inside() {
        let root = scratch("paths");
        std::fs::create_dir_all(root.join("nix")).unwrap();
        for f in ["nix/a.nix", "Cargo.lock", "untracked.txt"] {
            std::fs::write(root.join(f), "").unwrap();
        }
        let tracked = set(&["nix/a.nix", "Cargo.lock"]);
        let paths = ["", "nix", "Cargo.lock", "untracked.txt", "missing"].map(|p| {
            if p.is_empty() {
                root.clone()
            } else {
                root.join(p)
            }
        });
        let mut paths = paths.to_vec();
        paths.push("/etc/passwd".into());
        let problems = path_problems("flake.nix", &paths, &root, &tracked);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("untracked.txt, which git does not track"));
        assert!(problems[1].contains("missing, which does not exist"));
        assert!(problems[2].contains("/etc/passwd, outside the repository"));
    }

    fn sample_outputs() -> Outputs {
        parse_outputs(
            r#""x86_64-linux|apps=build-stick,default|packages=default,ephemeros|checks=e2e|devShells=default aarch64-linux|apps=build-stick|packages=ipxe|checks=|devShells=default""#,
        )
        .unwrap()
    }

    #[test]
    fn output_listing_is_read_per_system() {
        let outputs = sample_outputs();
        assert_eq!(
            outputs["x86_64-linux"]["apps"],
            set(&["build-stick", "default"])
        );
        assert_eq!(outputs["aarch64-linux"]["checks"], set(&[]));
        assert!(parse_outputs("true").is_err());
        assert!(parse_outputs(r#""""#).is_err());
    }

    #[test]
    fn readme_references_must_be_outputs() {
        let readme = "nix run .#build-stick -- /dev/sdX\nnix build .#ipxe.\n\
            `nix build .#checks.x86_64-linux.e2e` `.#checks.aarch64-linux.e2e` `.#nope` .#build-stick";
        let problems = readme_problems(readme, &sample_outputs());
        assert_eq!(
            problems,
            [
                "README.md: `.#checks.aarch64-linux.e2e` is not an output of the flake",
                "README.md: `.#nope` is not an output of the flake",
            ]
        );
    }

    #[test]
    fn git_sources_in_cargo_lock_are_named() {
        let lock = "[[package]]\nname = \"anyhow\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
            [[package]]\nname = \"gpt\"\nsource = \"git+https://example.org/gpt?rev=1#abc\"\n";
        assert_eq!(git_sources(lock), ["gpt"]);
    }

    // The checks below run Debian's nix-instantiate (package nix-bin), as
    // `cargo xtask ci` does.

    fn nix_for(root: &Utf8Path) -> (Shell, Utf8PathBuf) {
        let sh = Shell::new().unwrap();
        sh.change_dir(root);
        (sh, root.to_owned())
    }

    #[test]
    fn a_syntax_error_is_reported_with_its_position() {
        let root = scratch("parse");
        std::fs::write(root.join("bad.nix"), "{ pkgs }:\nlet x = 1 in x\n").unwrap();
        std::fs::write(root.join("unbound.nix"), "{ pkgs }: pkgs.lib // lib\n").unwrap();
        let (sh, root) = nix_for(&root);
        let nix = Nix::new(&sh, &root).unwrap();
        let err = nix.parse(&root.join("bad.nix")).unwrap().unwrap_err();
        assert!(err.contains("bad.nix:2:11"), "{err}");
        let err = nix.parse(&root.join("unbound.nix")).unwrap().unwrap_err();
        assert!(err.contains("undefined variable 'lib'"), "{err}");
    }

    /// A flake laid out like ours (outputs per system through genAttrs) and
    /// a lock of the form `nix flake lock` writes.
    const FLAKE: &str = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
  outputs = { nixpkgs, ... }: {
    packages = nixpkgs.lib.genAttrs [ "x86_64-linux" ] (s: { default = 1; });
    apps = nixpkgs.lib.genAttrs [ "x86_64-linux" ] (s: {
      x = { type = "app"; program = "x"; meta.description = "d"; };
    });
  };
}"#;
    const LOCK: &str = r#"{ "nodes": {
    "nixpkgs": {
      "locked": { "lastModified": 1778430510, "narHash": "sha256-Ti+ZBvW6yrWWAg2szExVTwCd4qOJ3KlVr1tFHfyfi8Q=",
        "owner": "NixOS", "repo": "nixpkgs", "rev": "8fd9daa3db09ced9700431c5b7ad0e8ba199b575", "type": "github" },
      "original": { "owner": "NixOS", "ref": "nixos-25.11", "repo": "nixpkgs", "type": "github" } },
    "root": { "inputs": { "nixpkgs": "nixpkgs" } } },
  "root": "root", "version": 7 }"#;

    fn flake_outputs(name: &str, flake: &str, lock: &str) -> Result<Outputs> {
        let root = scratch(name);
        std::fs::write(root.join("flake.nix"), flake).unwrap();
        std::fs::write(root.join("flake.lock"), lock).unwrap();
        let (sh, root) = nix_for(&root);
        Nix::new(&sh, &root).unwrap().flake_outputs(&root)
    }

    fn flake_error(name: &str, flake: &str, lock: &str) -> String {
        format!("{:#}", flake_outputs(name, flake, lock).unwrap_err())
    }

    #[test]
    fn the_lock_must_pin_what_the_flake_asks_for() {
        let outputs = flake_outputs("lock-ok", FLAKE, LOCK).unwrap();
        assert_eq!(outputs["x86_64-linux"]["apps"], set(&["x"]));

        let no_hash = LOCK.replace("\"narHash\"", "\"narhash\"");
        let err = flake_error("lock-no-hash", FLAKE, &no_hash);
        assert!(
            err.contains("nixpkgs has no sha256 locked.narHash"),
            "{err}"
        );

        let branch = LOCK.replace(
            "\"rev\": \"8fd9daa3db09ced9700431c5b7ad0e8ba199b575\", ",
            "",
        );
        let err = flake_error("lock-no-rev", FLAKE, &branch);
        assert!(err.contains("nixpkgs is not pinned to a commit"), "{err}");

        let unstable = FLAKE.replace("nixos-25.11", "nixos-unstable");
        let err = flake_error("lock-other-ref", &unstable, LOCK);
        assert!(err.contains("was locked from"), "{err}");

        let two_inputs = FLAKE.replace("inputs.", "inputs.utils.url = \"github:a/b\"; inputs.");
        let err = flake_error("lock-missing-input", &two_inputs, LOCK);
        assert!(
            err.contains("input utils (declared in flake.nix) is not locked"),
            "{err}"
        );
    }

    #[test]
    fn every_app_has_a_description() {
        let bare = FLAKE.replace(" meta.description = \"d\";", "");
        let err = flake_error("app-no-description", &bare, LOCK);
        assert!(
            err.contains("apps.x86_64-linux without type = \"app\" or meta.description"),
            "{err}"
        );
    }
}
