//! `cargo xtask …`: the project's own automation (CI, the e2e boot test,
//! fetching test inputs, benchmarks). Run from anywhere in the workspace.

mod bench;
mod checks;
mod ci;
mod e2e;
mod fetch;
mod nix_sandbox;
mod node_model;
mod standin;
mod tools;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "ephemeros project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything CI runs: fmt, clippy, tests, real validators, the e2e boot test
    Ci(ci::Args),
    /// Boot a real stick in qemu against a stand-in Flatcar and check the node came up
    E2e(e2e::Args),
    /// Fetch Debian trixie's iPXE (autoexec-capable) for machines without Nix
    Ipxe(fetch::IpxeArgs),
    /// Measure the speed targets
    Bench(bench::Args),
    /// Run the test binaries as Nix's build sandbox would (namespaces; root or user namespaces)
    NixSandbox(nix_sandbox::Args),
    /// The e2e test's stand-in node, for trying a change to ignition.yml locally
    #[command(subcommand)]
    Standin(standin::Command),
}

fn main() -> std::process::ExitCode {
    // Errors are printed as their context chain; a backtrace of xtask itself
    // (RUST_BACKTRACE is often set on CI machines) only hides the cause.
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let sh = xshell::Shell::new()?;
    sh.change_dir(workspace_root());
    match cli.command {
        Command::Ci(args) => ci::run(&sh, args),
        Command::E2e(args) => e2e::run(&sh, args),
        Command::Ipxe(args) => fetch::ipxe(&sh, args),
        Command::Bench(args) => bench::run(&sh, args),
        Command::NixSandbox(args) => nix_sandbox::run(&sh, args),
        Command::Standin(command) => standin::run(&sh, command),
    }
}

/// The workspace root: xtask's manifest lives two levels below it. Read
/// at run time (`cargo run` sets CARGO_MANIFEST_DIR) so that an xtask binary
/// built from another checkout sharing CARGO_TARGET_DIR still works on the
/// tree it was started in; the compile-time value is only the fallback.
pub fn workspace_root() -> camino::Utf8PathBuf {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    camino::Utf8Path::new(&manifest_dir)
        .ancestors()
        .nth(2)
        .expect("xtask lives at generators/xtask")
        .to_owned()
}

/// Cargo's target directory for this workspace (`CARGO_TARGET_DIR` wins;
/// a relative one is relative to the workspace root, as cargo run from
/// there takes it).
pub fn target_dir(root: &camino::Utf8Path) -> camino::Utf8PathBuf {
    match std::env::var("CARGO_TARGET_DIR") {
        Ok(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// Which `ephemeros` binary [`ephemeros_bin`] builds.
#[derive(Clone, Copy)]
pub enum Profile {
    Debug,
    Release,
}

/// Builds the `ephemeros` binary (`--locked`) and returns its path in the
/// target directory. The one way xtask gets the binary it tests.
pub fn ephemeros_bin(sh: &xshell::Shell, profile: Profile) -> anyhow::Result<camino::Utf8PathBuf> {
    use anyhow::Context;
    let (flag, dir) = match profile {
        Profile::Debug => (None, "debug"),
        Profile::Release => (Some("--release"), "release"),
    };
    xshell::cmd!(sh, "cargo build --quiet --locked {flag...} -p ephemeros")
        .run()
        .context("building the ephemeros binary")?;
    let bin = target_dir(&workspace_root()).join(dir).join("ephemeros");
    anyhow::ensure!(bin.is_file(), "{bin} missing after cargo build");
    Ok(bin)
}
