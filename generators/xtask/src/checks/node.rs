//! Real-tool checks for this area (owned by the area's crate).

use anyhow::Result;
use xshell::Shell;

pub fn run(_sh: &Shell) -> Result<()> {
    Ok(())
}
