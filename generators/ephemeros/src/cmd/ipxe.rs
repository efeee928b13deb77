//! `ephemeros ipxe`: print the boot script a stick runs as `autoexec.ipxe`.
//!
//! [`BootArgs`] holds every boot-script flag except the node's identity
//! (hostname, SSH key); `build-stick` flattens it into its own arguments.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use ephemeros_ipxe::config_url::{self, ConfigSource, Forge, ResolveOptions};
use ephemeros_ipxe::{lint, Arch, BootSettings, Channel, OnFailure, Template};

/// Boot-script settings shared by `ipxe` and `build-stick`.
#[derive(clap::Args, Clone, Debug)]
pub struct BootArgs {
    /// Flatcar release channel
    #[arg(long, value_enum, default_value_t = ChannelArg::Stable, help_heading = "Boot script")]
    pub channel: ChannelArg,

    /// CPU architecture of the nodes
    #[arg(long, value_enum, default_value_t = ArchArg::Amd64, help_heading = "Boot script")]
    pub arch: ArchArg,

    /// Flatcar release: `current` (the newest of the channel, at every boot), a version such as
    /// 4230.2.3, or with --channel lts `current-YYYY` (the newest of that yearly LTS stream)
    #[arg(
        long,
        default_value = "current",
        value_name = "RELEASE",
        help_heading = "Boot script"
    )]
    pub release: String,

    /// Download the kernel and initrd from this directory instead of the channel's release server
    /// (https://CHANNEL.release.flatcar-linux.net/ARCH-usr/RELEASE/), e.g. a mirror or a test server
    #[arg(long, value_name = "URL", help_heading = "Boot script")]
    pub base_url: Option<String>,

    /// Ignition config URL for the nodes; overrides the URL derived from the git remote (empty: not set)
    #[arg(
        long,
        env = "IGN_PATH",
        value_name = "URL",
        help_heading = "Ignition config"
    )]
    pub ignition_url: Option<String>,

    /// The Ignition file whose public URL the nodes fetch; its repository's remote gives the URL
    #[arg(
        long,
        default_value = "ignition.ign",
        value_name = "FILE",
        help_heading = "Ignition config"
    )]
    pub ignition_file: PathBuf,

    /// Git remote the nodes fetch the Ignition file from
    #[arg(
        long,
        default_value = "origin",
        value_name = "NAME",
        help_heading = "Ignition config"
    )]
    pub remote: String,

    /// Name the current commit in the URL instead of the branch (nodes then ignore later pushes)
    #[arg(long, help_heading = "Ignition config")]
    pub pin: bool,

    /// Forge hosting the remote, when its host is not github.com, gitlab.com, codeberg.org,
    /// bitbucket.org or git.sr.ht
    #[arg(
        long,
        value_enum,
        value_name = "FORGE",
        help_heading = "Ignition config"
    )]
    pub forge: Option<ForgeArg>,

    /// Kernel console, e.g. ttyS0,115200n8 or tty0 (repeatable; the last one is /dev/console)
    #[arg(long, value_name = "CONSOLE", help_heading = "Kernel")]
    pub console: Vec<String>,

    /// Further kernel argument, passed as given (repeatable)
    #[arg(
        long = "kernel-arg",
        value_name = "ARG",
        allow_hyphen_values = true,
        help_heading = "Kernel"
    )]
    pub kernel_args: Vec<String>,

    /// What the script does after giving up (poweroff suits tests)
    #[arg(long, value_enum, default_value_t = OnFailureArg::Reboot, help_heading = "Robustness")]
    pub on_failure: OnFailureArg,

    /// Times DHCP is tried before giving up
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100), help_heading = "Robustness")]
    pub dhcp_attempts: u32,

    /// Times the kernel + initrd download is tried before giving up
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100), help_heading = "Robustness")]
    pub download_attempts: u32,

    /// Pause after the first failed attempt; it doubles after each further failure, up to 60 s
    #[arg(
        long,
        default_value_t = 5,
        value_name = "SECONDS",
        help_heading = "Robustness"
    )]
    pub retry_pause: u32,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelArg {
    Stable,
    Beta,
    Alpha,
    Lts,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchArg {
    Amd64,
    Arm64,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailureArg {
    Reboot,
    Poweroff,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForgeArg {
    Github,
    Gitlab,
    /// Gitea, Forgejo, Codeberg
    #[value(alias = "forgejo", alias = "codeberg")]
    Gitea,
    Bitbucket,
    #[value(alias = "srht")]
    Sourcehut,
}

impl From<ChannelArg> for Channel {
    fn from(c: ChannelArg) -> Self {
        match c {
            ChannelArg::Stable => Channel::Stable,
            ChannelArg::Beta => Channel::Beta,
            ChannelArg::Alpha => Channel::Alpha,
            ChannelArg::Lts => Channel::Lts,
        }
    }
}

impl From<ArchArg> for Arch {
    fn from(a: ArchArg) -> Self {
        match a {
            ArchArg::Amd64 => Arch::Amd64,
            ArchArg::Arm64 => Arch::Arm64,
        }
    }
}

impl From<OnFailureArg> for OnFailure {
    fn from(o: OnFailureArg) -> Self {
        match o {
            OnFailureArg::Reboot => OnFailure::Reboot,
            OnFailureArg::Poweroff => OnFailure::Poweroff,
        }
    }
}

impl From<ForgeArg> for Forge {
    fn from(f: ForgeArg) -> Self {
        match f {
            ForgeArg::Github => Forge::GitHub,
            ForgeArg::Gitlab => Forge::GitLab,
            ForgeArg::Gitea => Forge::Gitea,
            ForgeArg::Bitbucket => Forge::Bitbucket,
            ForgeArg::Sourcehut => Forge::SourceHut,
        }
    }
}

impl BootArgs {
    /// Where the git-derived URL comes from.
    pub fn resolve_options(&self) -> ResolveOptions {
        let file = &self.ignition_file;
        let repo_dir = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.to_string_lossy().into_owned());
        ResolveOptions {
            repo_dir,
            remote: self.remote.clone(),
            pin: self.pin,
            file: name,
            forge: self.forge.map(Forge::from),
        }
    }

    /// The boot settings, with the Ignition URL from `--ignition-url` or
    /// else from the git remote. `ssh_key` is the key line itself. Git warnings go to stderr here.
    pub fn settings(
        &self,
        hostname: Option<String>,
        ssh_key: Option<String>,
    ) -> Result<(BootSettings, Option<ConfigSource>)> {
        // An empty variable means "not set", as it did for the original
        // shell tools (`IGN_PATH= ephemeros …`).
        let hostname = hostname.filter(|h| !h.is_empty());
        let (ignition_url, source) = match self.ignition_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => (url.to_string(), None),
            None => {
                let opts = self.resolve_options();
                let source = config_url::resolve(&opts).with_context(|| {
                    format!(
                        "cannot derive the Ignition config URL from {}",
                        self.ignition_file.display()
                    )
                })?;
                for warning in &source.warnings {
                    eprintln!("warning: {warning}");
                }
                (source.url.clone(), Some(source))
            }
        };
        let settings = BootSettings {
            channel: self.channel.into(),
            arch: self.arch.into(),
            release: self.release.clone(),
            base_url: self.base_url.clone(),
            ignition_url,
            hostname,
            ssh_key,
            console: self.console.clone(),
            extra_kernel_args: self.kernel_args.clone(),
            first_boot: true,
            on_failure: self.on_failure.into(),
            dhcp_attempts: self.dhcp_attempts,
            download_attempts: self.download_attempts,
            retry_pause_secs: self.retry_pause,
        };
        // Check everything now, so callers get one clear error up front.
        ephemeros_ipxe::kernel_args(&settings)?;
        ephemeros_ipxe::flatcar::base_url(&settings)?;
        Ok((settings, source))
    }
}

/// The key for the kernel's sshkey=: the first public key of the file,
/// read and checked exactly as build-stick does (which also puts every key
/// into authorized_keys), so both commands accept the same files.
fn first_ssh_key(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the SSH public key {}", path.display()))?;
    let keys = ephemeros_stick::validate::ssh_public_keys(&path.display().to_string(), &text)?;
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
    let (settings, _source) = args.boot.settings(args.hostname.clone(), ssh_key)?;

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
