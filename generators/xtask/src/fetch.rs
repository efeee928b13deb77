//! Fetching Debian packages the tests need (iPXE from trixie, the stand-in kernel).

use anyhow::Result;
use xshell::Shell;

#[derive(clap::Args)]
pub struct IpxeArgs {}

pub fn ipxe(_sh: &Shell, _args: IpxeArgs) -> Result<()> {
    anyhow::bail!("not written yet")
}
