//! `cargo xtask ci`: the whole test ladder, cheapest first.

use anyhow::Result;
use xshell::{cmd, Shell};

use crate::checks;

#[derive(clap::Args)]
pub struct Args {
    /// Skip the qemu boot test (the slowest step)
    #[arg(long)]
    pub no_e2e: bool,
    /// Accelerator for the e2e boots, passed through to `cargo xtask e2e`
    #[arg(long, default_value = "auto", value_parser = ["auto", "kvm", "tcg"])]
    pub accel: String,
}

pub fn run(sh: &Shell, args: Args) -> Result<()> {
    // Tests that need a real tool (sgdisk, fsck.fat, mtools, sh) skip with a
    // loud message when it is missing on a developer's machine; the ladder
    // itself must prove everything, so there a missing tool is a failure.
    sh.set_var("CI", "true");
    step("cargo fmt --check");
    cmd!(sh, "cargo fmt --all -- --check").run()?;
    step("cargo clippy");
    cmd!(
        sh,
        "cargo clippy --workspace --all-targets --locked -- -D warnings -W clippy::incompatible_msrv"
    )
    .run()?;
    step("cargo test");
    cmd!(sh, "cargo test --workspace --locked").run()?;
    step("cargo test, again in a Nix-like sandbox");
    crate::nix_sandbox::run(sh, crate::nix_sandbox::Args { inside: None })?;
    checks::run_all(sh)?;
    if !args.no_e2e {
        step("e2e boot test");
        let accel = &args.accel;
        cmd!(sh, "cargo xtask e2e --accel {accel}").run()?;
        // HTTPS from a mirror with a private CA: two boots of the busybox
        // stage (the node stage's HTTP and failure boots cover the rest).
        step("e2e HTTPS boots");
        cmd!(
            sh,
            "cargo xtask e2e --stage initrd --only-https --accel {accel}"
        )
        .run()?;
    }
    Ok(())
}

pub fn step(name: &str) {
    eprintln!("\n==> {name}");
}
