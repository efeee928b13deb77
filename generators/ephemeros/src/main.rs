//! The `ephemeros` command: a clap front end over the generator libraries.
//! Each subcommand lives in its own module under `cmd/`.

mod cmd;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ephemeros",
    version,
    about = "Diskless Flatcar Container Linux + k3s nodes, booted from a USB stick",
    long_about = "Diskless Flatcar Container Linux + k3s nodes, booted from a USB stick.\n\n\
        A node boots iPXE from the stick, downloads the newest Flatcar PXE release of a \
        channel and configures itself from the public Ignition config of this repository. \
        Secrets and node identity stay on the stick's `secrets` partition.",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a boot stick onto a device or an image file
    BuildStick(Box<cmd::build_stick::Args>),
    /// Show what a stick or image holds
    Inspect(cmd::inspect::Args),
    /// Translate Butane (variant flatcar) to Ignition JSON
    Ignite(cmd::ignite::Args),
    /// Render the iPXE boot script a stick runs
    Ipxe(Box<cmd::ipxe::Args>),
    /// Boot a stick or image in qemu, like a node would
    Qemu(cmd::qemu::Args),
    /// Print shell completions
    Completions(cmd::completions::Args),
}

/// Exits with clap's message, with any value that may be a secret hidden
/// (see cmd::redact); help and version are printed as they are.
fn exit_redacted(err: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let words = cmd::redact::secret_words(&args);
    eprint!("{}", cmd::redact::redact(&err.to_string(), &words));
    std::process::exit(err.exit_code());
}

fn main() -> std::process::ExitCode {
    let matches = Cli::command()
        .try_get_matches()
        .unwrap_or_else(|err| exit_redacted(err));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    let result = match cli.command {
        Command::BuildStick(args) => cmd::build_stick::run(*args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Ignite(args) => cmd::ignite::run(args),
        Command::Ipxe(args) => cmd::ipxe::run(*args),
        Command::Qemu(args) => cmd::qemu::run(args),
        Command::Completions(args) => cmd::completions::run(args, &mut Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
