//! The iPXE boot script every stick runs as `autoexec.ipxe`.
//!
//! [`BootSettings`] is the contract with the rest of the project: the CLI and
//! the stick builder fill it in, [`render`] turns it into script text.
//!
//! - [`flatcar`]: where the Flatcar PXE kernel and initrd come from.
//! - [`mod@kernel_args`]: the kernel command line, and the rules that make sure
//!   it reaches the kernel intact through iPXE and Linux.
//! - [`script`]: minijinja templates (built in, or the user's) -> script text.
//! - [`lint`]: a structural check of a rendered script.

pub mod error;
pub mod flatcar;
pub mod kernel_args;
pub mod lint;
pub mod script;

use std::fmt;
use std::str::FromStr;

pub use error::Error;
pub use kernel_args::{expected_proc_cmdline, kernel_args, kernel_command_line};
pub use script::{render, Template};

/// How the built-in script begins the line that says why it gives up,
/// before it powers off or reboots. A launcher that sees the guest end can
/// tell "the boot script gave up" from "the node shut down" by it (user
/// templates that want the same should print it too).
pub const GIVE_UP: &str = "ephemeros: giving up:";

/// Flatcar release channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channel {
    #[default]
    Stable,
    Beta,
    Alpha,
    Lts,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Stable, Channel::Beta, Channel::Alpha, Channel::Lts];

    /// The name Flatcar uses, also the first label of the release server's host.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Stable => "stable",
            Channel::Beta => "beta",
            Channel::Alpha => "alpha",
            Channel::Lts => "lts",
        }
    }
}

/// CPU architecture of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arch {
    #[default]
    Amd64,
    Arm64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::Amd64, Arch::Arm64];

    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The directory of this architecture on Flatcar's release servers.
    pub fn flatcar_dir(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64-usr",
            Arch::Arm64 => "arm64-usr",
        }
    }
}

/// What the script does once it has given up booting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    #[default]
    Reboot,
    Poweroff,
}

impl OnFailure {
    pub const ALL: [OnFailure; 2] = [OnFailure::Reboot, OnFailure::Poweroff];

    /// The iPXE command that carries out this choice.
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Reboot => "reboot",
            OnFailure::Poweroff => "poweroff",
        }
    }
}

/// Error of the `FromStr` impls: names what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}; expected one of: {expected}")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub given: String,
    pub expected: String,
}

macro_rules! impl_str_enum {
    ($ty:ty, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = ParseEnumError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$ty>::ALL
                    .into_iter()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| ParseEnumError {
                        what: $what,
                        given: s.to_string(),
                        expected: <$ty>::ALL.map(|v| v.as_str()).join(", "),
                    })
            }
        }
    };
}

impl_str_enum!(Channel, "Flatcar channel");
impl_str_enum!(Arch, "architecture");
impl_str_enum!(OnFailure, "on-failure action");

/// Everything the boot script depends on.
///
/// `Default` gives the documented defaults with an empty `ignition_url`,
/// which [`render`] rejects: fill it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootSettings {
    pub channel: Channel,
    pub arch: Arch,
    /// `current` or a pinned version such as `4230.2.3`.
    pub release: String,
    /// Overrides the channel's official release server (a mirror, a test server).
    pub base_url: Option<String>,
    /// `ignition.config.url=` on the kernel command line.
    pub ignition_url: String,
    /// `systemd.hostname=`; a [`Hostname`](ephemeros_node::Hostname) is
    /// valid wherever it goes.
    pub hostname: Option<ephemeros_node::Hostname>,
    /// An OpenSSH public key line, passed as `sshkey="…"`.
    pub ssh_key: Option<String>,
    /// `console=` arguments, e.g. `["ttyS0,115200n8", "tty0"]`.
    pub console: Vec<String>,
    /// Further kernel arguments, appended verbatim after validation.
    pub extra_kernel_args: Vec<String>,
    /// Adds `flatcar.first_boot=1` (Ignition runs on every boot of a diskless node).
    pub first_boot: bool,
    pub on_failure: OnFailure,
    /// How many times `dhcp` is tried before giving up (at least 1).
    pub dhcp_attempts: u32,
    /// How many times the kernel + initrd download is tried (at least 1).
    pub download_attempts: u32,
    /// Pause in seconds after the first failed attempt; it doubles after
    /// each further failure, up to [`MAX_RETRY_PAUSE_SECS`]. The same pause
    /// is held before rebooting, so that the reason stays readable on screen.
    pub retry_pause_secs: u32,
}

/// Upper bound of the growing pause between attempts.
pub const MAX_RETRY_PAUSE_SECS: u32 = 60;

impl Default for BootSettings {
    fn default() -> Self {
        BootSettings {
            channel: Channel::default(),
            arch: Arch::default(),
            release: "current".to_string(),
            base_url: None,
            ignition_url: String::new(),
            hostname: None,
            ssh_key: None,
            console: Vec::new(),
            extra_kernel_args: Vec::new(),
            first_boot: true,
            on_failure: OnFailure::default(),
            dhcp_attempts: 5,
            download_attempts: 5,
            retry_pause_secs: 5,
        }
    }
}

impl BootSettings {
    /// The pauses (seconds) held after failed attempts 1..attempts-1, then
    /// once more before giving up: grows 1x, 2x, 4x … capped.
    pub fn pauses(&self, attempts: u32) -> Vec<u32> {
        let mut pause = self.retry_pause_secs.min(MAX_RETRY_PAUSE_SECS);
        (1..attempts.max(1))
            .map(|_| {
                let this = pause;
                pause = pause.saturating_mul(2).min(MAX_RETRY_PAUSE_SECS);
                this
            })
            .collect()
    }
}
