use std::process::ExitCode;

use clap_complete::Shell;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  ephemeros completions bash > /etc/bash_completion.d/ephemeros\n  ephemeros completions zsh > ~/.zfunc/_ephemeros"
)]
pub struct Args {
    /// The shell to generate completions for
    shell: Shell,
}

pub fn run(args: Args, cmd: &mut clap::Command) -> anyhow::Result<ExitCode> {
    // clap_complete::generate panics when its writer fails; render into
    // memory and write that, so a full disk or closed pipe is an error.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, cmd, "ephemeros", &mut script);
    super::output::write_stdout(&script)?;
    Ok(ExitCode::SUCCESS)
}
