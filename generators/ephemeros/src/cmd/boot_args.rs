//! Boot-script flags shared by `ephemeros ipxe` and `build-stick` (each
//! command adds the node's identity and the Ignition URL itself, with the
//! precedence that command documents).

use std::path::PathBuf;

use anyhow::{Context, Result};
use ephemeros_ipxe::{Arch, BootSettings, Channel, OnFailure};
use ephemeros_node::config_url::{self, ConfigSource, Forge, ResolveOptions};

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

    /// The boot settings, with the Ignition URL `ignition_url` (the
    /// command's `--ignition-url`) or else the one derived from the git
    /// remote. `ssh_key` is the key line itself. Git warnings go to stderr here.
    pub fn settings(
        &self,
        ignition_url: Option<&str>,
        hostname: Option<ephemeros_node::Hostname>,
        ssh_key: Option<String>,
    ) -> Result<(BootSettings, Option<ConfigSource>)> {
        // An empty variable means "not set", as it did for the original
        // shell tools (`IGN_PATH= ephemeros …`).
        let (ignition_url, source) = match ignition_url.filter(|u| !u.is_empty()) {
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
