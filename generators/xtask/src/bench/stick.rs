//! Benchmark for this area.

use anyhow::Result;
use xshell::Shell;

pub fn run(_sh: &Shell) -> Result<()> {
    anyhow::bail!("benchmark not written yet")
}
