//! `ephemeros ipxe`: print the boot script a stick runs as `autoexec.ipxe`.
//!
//! The boot-script flags are [`BootArgs`] (shared with `build-stick`); the
//! node's identity and the Ignition URL are this command's own, read from
//! flags, then the environment.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use ephemeros_ipxe::{lint, BootSettings, Template};

use super::boot_args::BootArgs;

/// The key for the kernel's sshkey=: the first public key of the file,
/// read and checked exactly as build-stick does (which also puts every key
/// into authorized_keys), so both commands accept the same files.
fn first_ssh_key(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the SSH public key {}", path.display()))?;
    let keys = ephemeros_node::validate::ssh_public_keys(&path.display().to_string(), &text)?;
    keys.into_iter()
        .next()
        .with_context(|| format!("{} holds no SSH public key", path.display()))
}

/// The structural check of a rendered script, the same for `ipxe` and
/// `build-stick`. `user_template` names a template of the user's, whose
/// problems are warnings; the built-in template is tested against these
/// checks, so failing them is a bug and the script must not reach a stick.
pub fn lint_script(
    script: &str,
    settings: &BootSettings,
    user_template: Option<&str>,
) -> Result<()> {
    let problems = lint::check_rendered(script, settings)?;
    if problems.is_empty() {
        return Ok(());
    }
    match user_template {
        None => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            bail!(
                "internal error: the built-in boot script fails its checks:\n  {}",
                list.join("\n  ")
            );
        }
        Some(name) => {
            for problem in &problems {
                eprintln!("warning: {name}: rendered script {problem}");
            }
            Ok(())
        }
    }
}

const EXAMPLES: &str = "\
Examples:
  # In a clone whose origin is on GitHub, on branch main:
  ephemeros ipxe --hostname node1 --ssh-key ~/.ssh/id_ed25519.pub -o autoexec.ipxe

  # Pin the nodes to the current commit of ignition.ign:
  ephemeros ipxe --pin

  # A self-hosted Forgejo, a serial console, and a local mirror of Flatcar:
  ephemeros ipxe --forge gitea --console ttyS0,115200n8 \\
      --base-url http://mirror.lan/flatcar/amd64-usr/current/

  # Any config URL, and power off instead of rebooting on failure (tests):
  IGN_PATH=http://10.0.2.2:8000/ignition.ign ephemeros ipxe --on-failure poweroff

  # Your own template (minijinja; see the built-in one with --print-template):
  ephemeros ipxe --template my.ipxe.j2

The Ignition URL is the raw-file URL of ignition.ign on the forge behind the
git remote, at the current branch (or commit with --pin). Kernel arguments
are checked so that they reach the kernel exactly as given; values that iPXE
or Linux would change (newlines, a double quote in the SSH key, `${…}`) are
rejected.";

/// `ephemeros ipxe`
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub boot: BootArgs,

    /// Ignition config URL for the nodes; overrides the URL derived from the git remote (empty: not set)
    #[arg(
        long,
        env = "IGN_PATH",
        value_name = "URL",
        help_heading = "Ignition config"
    )]
    pub ignition_url: Option<String>,

    /// Hostname of the node (systemd.hostname=)
    #[arg(
        long,
        env = "NODE_HOSTNAME",
        value_name = "NAME",
        help_heading = "Node"
    )]
    pub hostname: Option<String>,

    /// OpenSSH public key file; its first key is passed as sshkey= for user core
    // An empty SSH_KEY_PATH means "no key" (clap's PathBuf parser would reject it).
    #[arg(long, env = "SSH_KEY_PATH", value_name = "FILE", help_heading = "Node",
          value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from))]
    pub ssh_key: Option<PathBuf>,

    /// Render this minijinja template instead of the built-in one
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,

    /// Print the built-in template (a starting point for --template) and exit
    #[arg(long, conflicts_with = "template")]
    pub print_template: bool,

    /// Write the script to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.print_template {
        super::output::write_stdout(Template::builtin().source().as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let ssh_key = args
        .ssh_key
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
        .map(first_ssh_key)
        .transpose()?;
    // An empty NODE_HOSTNAME means "not set", as for the original shell tools.
    let hostname = match args.hostname.as_deref().filter(|h| !h.is_empty()) {
        Some(h) => Some(ephemeros_node::Hostname::parse(h).map_err(|why| {
            anyhow::anyhow!("invalid hostname {h:?} (--hostname or NODE_HOSTNAME): {why}")
        })?),
        None => None,
    };
    let (settings, _source) =
        args.boot
            .settings(args.ignition_url.as_deref(), hostname, ssh_key)?;

    let template = match &args.template {
        Some(path) => Template::from_file(path)?,
        None => Template::builtin(),
    };
    let script = template.render(&settings)?;
    lint_script(
        &script,
        &settings,
        args.template.is_some().then(|| template.name()),
    )?;

    match &args.output {
        Some(path) if path.as_os_str() != "-" => {
            super::output::write_atomically(path, script.as_bytes())?
        }
        _ => super::output::write_stdout(script.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
