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
    clap_complete::generate(args.shell, cmd, "ephemeros", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
