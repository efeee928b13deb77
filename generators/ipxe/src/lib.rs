//! The iPXE boot script every stick runs as `autoexec.ipxe`.
//!
//! [`BootSettings`] is the contract with the rest of the project: the CLI and
//! the stick builder fill it in, [`render`] turns it into script text.

/// Flatcar release channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channel {
    #[default]
    Stable,
    Beta,
    Alpha,
    Lts,
}

/// CPU architecture of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arch {
    #[default]
    Amd64,
    Arm64,
}

/// What the script does once it has given up booting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    #[default]
    Reboot,
    Poweroff,
}

/// Everything the boot script depends on.
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
    pub hostname: Option<String>,
    /// An OpenSSH public key line, passed as `sshkey="…"`.
    pub ssh_key: Option<String>,
    /// `console=` arguments, e.g. `["ttyS0,115200n8", "tty0"]`.
    pub console: Vec<String>,
    /// Further kernel arguments, appended verbatim after validation.
    pub extra_kernel_args: Vec<String>,
    /// Adds `flatcar.first_boot=1` (Ignition runs on every boot of a diskless node).
    pub first_boot: bool,
    pub on_failure: OnFailure,
}
