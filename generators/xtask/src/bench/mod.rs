//! `cargo xtask bench`: speed targets measured as figures, never asserted in tests.

mod ignite;
mod stick;

use anyhow::Result;
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {
    /// Run only this benchmark
    #[arg(long, value_enum)]
    pub only: Option<Which>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Which {
    Stick,
    Ignite,
}

pub fn run(sh: &Shell, args: Args) -> Result<()> {
    if matches!(args.only, None | Some(Which::Stick)) {
        stick::run(sh)?;
    }
    if matches!(args.only, None | Some(Which::Ignite)) {
        ignite::run(sh)?;
    }
    Ok(())
}
