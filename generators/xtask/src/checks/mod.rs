//! Checks with real external tools, one module per area.

mod butane;
mod nix;
mod nix_modern;
mod node;
mod stick;

use anyhow::Result;
use xshell::Shell;

use crate::ci::step;

pub fn run_all(sh: &Shell) -> Result<()> {
    step("checks: butane");
    butane::run(sh)?;
    step("checks: stick");
    stick::run(sh)?;
    step("checks: node config");
    node::run(sh)?;
    step("checks: nix");
    nix::run(sh)?;
    Ok(())
}

/// A program on PATH, as a shell would find it.
pub fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}
