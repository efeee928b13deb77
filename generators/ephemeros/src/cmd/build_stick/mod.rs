//! `ephemeros build-stick`: the boot stick, onto a device or an image file.
//!
//! Parses flags, the env file and the environment, and hands typed inputs
//! to the stick library. Nothing here prints a secret value: warnings and
//! errors name settings, never their values.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use ephemeros_ipxe::{Arch, BootSettings};
use ephemeros_node::inputs::{self, Source};
use ephemeros_node::manifest::{self, ConfigRef, Flatcar, Manifest};
use ephemeros_node::reproduce::Reproduce;
use ephemeros_node::secrets::{self, Secrets};
use ephemeros_stick::device::{self, Phase, SystemRoots};
use ephemeros_stick::image::EfiArch;
use ephemeros_stick::layout::{human_size, parse_size, Layout, MIB};
use ephemeros_stick::{ipxe_efi, target, timestamp, StickSpec};

use super::boot_args::BootArgs;

mod node;

const EXAMPLES: &str = "\
Examples:
  # A server with embedded SQLite, onto a USB stick:
  K3S_DATASTORE_ENDPOINT= NODE_HOSTNAME=node1 ephemeros build-stick /dev/disk/by-id/usb-SanDisk_…

  # One env file per node (systemd EnvironmentFile= syntax), an agent:
  cat fleet/node2.env
    NODE_HOSTNAME=node2
    K3S_URL=\"https://node1.lan:6443\"
    K3S_TOKEN=\"K10…\"
    LOGEXPORT_HOST=logs.example.com
    LOGEXPORT_PORT=6514
    HEARTBEAT_URL=\"https://hc-ping.com/…\"
  ephemeros build-stick --env-file fleet/node2.env /dev/sdb

  # An image file to try in qemu (`ephemeros qemu stick.img`) or to dd later:
  ephemeros build-stick --env-file fleet/node2.env stick.img

Settings come from flags, then --env-file, then environment variables (the
first that has a setting wins): NODE_HOSTNAME, SSH_KEY_PATH (default
~/.ssh/id_rsa.pub, then ~/.ssh/id_ed25519.pub), LOGEXPORT_HOST +
LOGEXPORT_PORT, HEARTBEAT_URL, IGN_PATH, NODE_PASSWORD_FILE, and every K3S_* variable (kept
verbatim in k3s_env; K3S_DATASTORE_ENDPOINT set but empty means embedded
SQLite, K3S_URL makes the node an agent). A K3S_* name k3s does not read
(a typo such as K3S_TOKN) gets a warning naming the closest one; --strict
makes it an error. A component with none of its
settings is left out, with a warning. Prefer the environment or an env
file for secrets: flags show up in the process list.

The secrets partition also gets reproduce.sh, which rebuilds the same stick.";

/// `ephemeros build-stick`
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Device (/dev/sdX, /dev/disk/by-id/…) or image file to write
    #[arg(value_name = "TARGET")]
    pub target: PathBuf,

    #[command(flatten)]
    pub boot: BootArgs,

    /// Ignition config URL for the nodes; overrides the URL derived from the git remote
    /// [env: IGN_PATH]
    #[arg(long, value_name = "URL", help_heading = "Ignition config")]
    pub ignition_url: Option<String>,

    /// Hostname of the node [env: NODE_HOSTNAME]
    #[arg(long, value_name = "NAME", help_heading = "Node")]
    pub hostname: Option<String>,

    /// OpenSSH public key file for user core [env: SSH_KEY_PATH]
    #[arg(long, value_name = "FILE", help_heading = "Node")]
    pub ssh_key: Option<PathBuf>,

    /// Log export: TLS syslog host [env: LOGEXPORT_HOST]
    #[arg(long, value_name = "HOST", help_heading = "Node")]
    pub logexport_host: Option<String>,

    /// Log export: TLS syslog port [env: LOGEXPORT_PORT]
    #[arg(long, value_name = "PORT", help_heading = "Node")]
    pub logexport_port: Option<String>,

    /// URL the node requests every 5 minutes [env: HEARTBEAT_URL]
    #[arg(long, value_name = "URL", help_heading = "Node")]
    pub heartbeat_url: Option<String>,

    /// The node's existing k3s node password, to rebuild a lost stick (the
    /// node's /etc/rancher/node/password, or the old stick's k3s_node_password);
    /// a new one is generated otherwise [env: NODE_PASSWORD_FILE]
    #[arg(long, value_name = "FILE", help_heading = "Node")]
    pub k3s_node_password_file: Option<PathBuf>,

    /// A k3s setting for k3s_env, e.g. --k3s K3S_DATASTORE_ENDPOINT= (repeatable) [env: K3S_*]
    #[arg(long = "k3s", value_name = "K3S_NAME=VALUE", value_parser = parse_k3s, help_heading = "Node")]
    pub k3s: Vec<(String, String)>,

    /// Refuse a K3S_* variable that k3s does not read (a warning otherwise)
    #[arg(long, help_heading = "Node")]
    pub strict: bool,

    /// Render the boot script from this minijinja template instead of the
    /// built-in one (see `ephemeros ipxe --print-template`)
    #[arg(long, value_name = "FILE", help_heading = "Boot script")]
    pub template: Option<PathBuf>,

    /// Read settings from this file (KEY=value lines, systemd EnvironmentFile= syntax)
    #[arg(long, value_name = "FILE", help_heading = "Node")]
    pub env_file: Option<PathBuf>,

    /// Take no setting from environment variables, only from flags and --env-file
    /// (tool locations such as EPHEMEROS_IPXE_EFI still apply)
    #[arg(long, help_heading = "Node")]
    pub ignore_environment: bool,

    /// iPXE EFI binary (built after January 2021) for EFI/BOOT/
    #[arg(
        long,
        env = "EPHEMEROS_IPXE_EFI",
        value_name = "FILE",
        value_parser = super::path_or_empty,
        help_heading = "Stick"
    )]
    pub ipxe_efi: Option<PathBuf>,

    /// Size of a new image file [default: the smallest that fits, 43M]
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Stick")]
    pub size: Option<u64>,

    /// Size of the EFI system partition (FAT32)
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "40M", help_heading = "Stick")]
    pub esp_size: u64,

    /// Size of the secrets partition
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1M", help_heading = "Stick")]
    pub secrets_size: u64,

    /// Do not ask before writing a device
    #[arg(long, short = 'y', help_heading = "Stick")]
    pub yes: bool,

    /// Write a device that is neither removable nor USB, or replace a file that is not a stick image
    #[arg(long, help_heading = "Stick")]
    pub force: bool,
}

fn parse_k3s(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| "expected K3S_NAME=VALUE".to_owned())?;
    if !k.starts_with(secrets::K3S_PREFIX) {
        return Err(format!("`{k}` does not start with K3S_"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// Everything that goes onto the stick, before a target size is known.
struct Contents {
    efi_arch: EfiArch,
    ipxe: Vec<u8>,
    ipxe_path: PathBuf,
    script: String,
    manifest_json: Vec<u8>,
    secret_files: Vec<(String, Vec<u8>)>,
    build_time: i64,
    layout: Layout,
}

impl Contents {
    fn spec(&self) -> StickSpec<'_> {
        StickSpec {
            layout: self.layout,
            arch: self.efi_arch,
            ipxe_efi: &self.ipxe,
            boot_script: &self.script,
            manifest_json: &self.manifest_json,
            secret_files: &self.secret_files,
            build_time: self.build_time,
        }
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let layout = Layout {
        esp_size: args.esp_size,
        secrets_size: args.secrets_size,
    };
    layout.validate()?;
    node::refuse_setting_as_target(&args.target)?;
    let contents = prepare(&args, layout)?;
    if device::is_block_device(&args.target) {
        write_device(&args, &contents)?;
    } else if args.target.starts_with("/dev") {
        // A mistyped device name would otherwise become an image file in
        // /dev, and the user would think the stick was written.
        bail!(
            "{} is not a block device (is the stick plugged in? `lsblk` lists devices)",
            args.target.display()
        );
    } else {
        write_image(&args, &contents)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Settings from flags, env file and environment, merged.
fn gather(args: &Args) -> Result<Source> {
    let mut flags = Source::default();
    for (key, value) in [
        (secrets::HOSTNAME, &args.hostname),
        (secrets::LOGEXPORT_HOST, &args.logexport_host),
        (secrets::LOGEXPORT_PORT, &args.logexport_port),
        (secrets::HEARTBEAT_URL, &args.heartbeat_url),
    ] {
        if let Some(v) = value {
            flags.settings.insert(key.to_owned(), v.clone());
        }
    }
    for (k, v) in &args.k3s {
        flags.settings.insert(k.clone(), v.clone());
    }
    flags.ssh_key_path = args.ssh_key.clone();
    flags.node_password_path = args.k3s_node_password_file.clone();
    flags.ign_path = args.ignition_url.clone();

    let file = match &args.env_file {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the env file {}", path.display()))?;
            inputs::from_env_file(&bytes, path)?
        }
        None => Source::default(),
    };
    let env = if args.ignore_environment {
        Source::default()
    } else {
        inputs::from_environment(std::env::vars_os())?
    };
    Ok(flags.over(file.over(env)))
}

/// The flag that sets a setting, as the user would type it.
fn flag_for(key: &str) -> Option<String> {
    let flag = match key {
        secrets::HOSTNAME => "--hostname",
        secrets::LOGEXPORT_HOST => "--logexport-host",
        secrets::LOGEXPORT_PORT => "--logexport-port",
        secrets::HEARTBEAT_URL => "--heartbeat-url",
        k if k.starts_with("K3S_") => return Some(format!("--k3s {k}=…")),
        _ => return None,
    };
    Some(flag.to_owned())
}

/// Where a setting came from, in the words the user gave it: the flag they
/// typed, the env file that holds it, or the environment variable.
fn origin_of(args: &Args, key: &str) -> String {
    let by_flag = match key {
        secrets::HOSTNAME => args.hostname.is_some(),
        secrets::LOGEXPORT_HOST => args.logexport_host.is_some(),
        secrets::LOGEXPORT_PORT => args.logexport_port.is_some(),
        secrets::HEARTBEAT_URL => args.heartbeat_url.is_some(),
        k => args.k3s.iter().any(|(name, _)| name == k),
    };
    if by_flag {
        if let Some(flag) = flag_for(key) {
            return flag;
        }
    }
    let in_file = args.env_file.as_ref().and_then(|path| {
        let text = std::fs::read_to_string(path).ok()?;
        let line = text.lines().position(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("export ").unwrap_or(l).trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })?;
        Some(format!("{}:{}: {key}", path.display(), line + 1))
    });
    in_file.unwrap_or_else(|| key.to_owned())
}

/// A setting's error, re-addressed to where the user set it.
fn in_users_words(args: &Args, err: ephemeros_node::Error) -> anyhow::Error {
    use ephemeros_node::Error;
    match err {
        Error::Invalid { name, reason } => {
            anyhow::anyhow!("{}: {reason}", origin_of(args, &name))
        }
        Error::Unrepresentable { key, reason } => {
            anyhow::anyhow!("{}: {reason}", origin_of(args, &key))
        }
        other => other.into(),
    }
}

fn prepare(args: &Args, layout: Layout) -> Result<Contents> {
    let source = gather(args)?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let key_file = inputs::ssh_key_file(source.ssh_key_path.clone(), home.as_deref())?;
    let key_text = std::fs::read_to_string(&key_file)
        .with_context(|| format!("cannot read the SSH public key {}", key_file.display()))?;
    let ssh_keys =
        ephemeros_node::validate::ssh_public_keys(&key_file.display().to_string(), &key_text)?;

    let (mut secrets, warnings) =
        Secrets::from_settings(&source.settings, ssh_keys).map_err(|e| in_users_words(args, e))?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    node::check_k3s_names(&secrets, args.strict)?;
    secrets.k3s_node_password =
        node::node_password(&secrets, source.node_password_path.as_deref(), &args.target)?;

    let (settings, config) = args.boot.settings(
        source.ign_path.as_deref(),
        secrets.hostname.clone(),
        secrets.ssh_keys.first().cloned(),
    )?;
    if let Some(source) = &config {
        node::check_served_config(source)?;
    }
    let template = match &args.template {
        Some(path) => ephemeros_ipxe::Template::from_file(path)?,
        None => ephemeros_ipxe::Template::builtin(),
    };
    let script = template
        .render(&settings)
        .context("cannot render the boot script")?;
    let user_template = args.template.as_ref().map(|_| template.name());
    super::ipxe::lint_script(&script, &settings, user_template)?;

    let efi_arch = match settings.arch {
        Arch::Amd64 => EfiArch::X64,
        Arch::Arm64 => EfiArch::Aa64,
    };
    // An empty EPHEMEROS_IPXE_EFI (say, from a failed `$(cargo xtask ipxe)`)
    // is unset: the search below then says what it looked for.
    let given = args
        .ipxe_efi
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty());
    let (ipxe_path, ipxe) = ipxe_efi::load(given, efi_arch, home.as_deref())?;

    let build_time = build_time()?;
    let built_at = timestamp::rfc3339(build_time);
    let config_ref = config.map(|c| ConfigRef {
        repository: c.remote_url,
        git_ref: c.git_ref,
        commit: c.commit,
        dirty: c.dirty,
        path_in_repo: c.path_in_repo,
    });
    let manifest = Manifest {
        format: manifest::FORMAT,
        tool: "ephemeros".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        built_at: built_at.clone(),
        config: config_ref.clone(),
        ignition_url: settings.ignition_url.clone(),
        flatcar: Flatcar {
            channel: settings.channel.to_string(),
            release: settings.release.clone(),
            arch: settings.arch.to_string(),
            base_url: settings.base_url.clone(),
        },
        components: manifest::components(&secrets),
    };

    let mut repro_args = reproduce_args(&settings, layout);
    if let Some(path) = &args.template {
        // The template is not on the stick: reproduce.sh needs the file.
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        repro_args.push(format!("--template={}", path.display()));
    }
    let reproduce = Reproduce {
        tool_version: env!("CARGO_PKG_VERSION"),
        built_at: &built_at,
        config: config_ref.as_ref(),
        ignition_url: &settings.ignition_url,
        settings: &secrets.settings(),
        ssh_keys: &secrets.ssh_keys,
        k3s_node_password: secrets.k3s_node_password.as_ref(),
        args: &repro_args,
    }
    .render()?;
    let mut secret_files = secrets.files()?;
    secret_files.push((secrets::files::REPRODUCE.into(), reproduce.into_bytes()));

    Ok(Contents {
        efi_arch,
        ipxe,
        ipxe_path,
        script,
        manifest_json: manifest.to_json(),
        secret_files,
        build_time,
        layout,
    })
}

/// The boot-script flags that rebuild the same script (the Ignition URL
/// is passed separately, already resolved).
fn reproduce_args(s: &BootSettings, layout: Layout) -> Vec<String> {
    let mut a: Vec<String> = vec![
        format!("--channel={}", s.channel),
        format!("--arch={}", s.arch),
        format!("--release={}", s.release),
    ];
    if let Some(u) = &s.base_url {
        a.push(format!("--base-url={u}"));
    }
    a.extend(s.console.iter().map(|c| format!("--console={c}")));
    a.extend(
        s.extra_kernel_args
            .iter()
            .map(|k| format!("--kernel-arg={k}")),
    );
    a.push(format!("--on-failure={}", s.on_failure));
    a.push(format!("--dhcp-attempts={}", s.dhcp_attempts));
    a.push(format!("--download-attempts={}", s.download_attempts));
    a.push(format!("--retry-pause={}", s.retry_pause_secs));
    if layout != Layout::default() {
        a.push(format!("--esp-size={}M", layout.esp_size / MIB));
        a.push(format!("--secrets-size={}M", layout.secrets_size / MIB));
    }
    a
}

const MAX_EPOCH: i64 = 253_402_300_799;

/// Unix seconds: SOURCE_DATE_EPOCH when set (reproducible builds), else now.
fn build_time() -> Result<i64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => {
            let secs: i64 = v
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?;
            // The manifest's built_at is RFC 3339, which has four-digit
            // years from 1970 on: 0 is 1970-01-01, the upper bound is
            // 9999-12-31T23:59:59Z.
            if !(0..=MAX_EPOCH).contains(&secs) {
                bail!("SOURCE_DATE_EPOCH={secs} is out of range: give seconds since 1970 from 0 to {MAX_EPOCH} (year 9999)");
            }
            Ok(secs)
        }
        Err(_) => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the system clock is before 1970")?
            .as_secs() as i64),
    }
}

fn write_image(args: &Args, c: &Contents) -> Result<()> {
    // Through a symbolic link, the file it names is written and the link
    // stays (never silently replaced by a regular file).
    let path = &target::follow_links(&args.target)?;
    if path != &args.target {
        eprintln!(
            "{} is a link: writing the image to {}",
            args.target.display(),
            path.display()
        );
    }
    let size = args.size.unwrap_or_else(|| c.layout.min_disk_size());
    if path.is_dir() {
        bail!(
            "{} is a directory; give a device or an image file name",
            path.display()
        );
    }
    if path.exists() && !args.force && !target::replaceable_image(path)? {
        bail!(
            "{} exists and is not a stick image; pass --force to replace it",
            path.display()
        );
    }
    if path.exists() {
        // Replacing a stick image needs no --force, but say whose it was so
        // a mix-up between nodes' images shows.
        eprintln!("Replacing {}: {}.", path.display(), previous_owner(path));
    }
    let disk = ephemeros_stick::build(&c.spec(), size)?;
    let written = target::write_image_file(path, &disk)?;
    eprintln!(
        "Wrote {} ({} image, {} of data; iPXE from {}).",
        path.display(),
        human_size(size),
        human_size(written),
        c.ipxe_path.display()
    );
    Ok(())
}

/// Which node an existing image was built for, from its manifest.
fn previous_owner(path: &Path) -> String {
    let Ok(file) = std::fs::File::open(path) else {
        return "unreadable".into();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return "an empty file".into();
    }
    let Ok(report) = ephemeros_stick::inspect::inspect(file, len, false) else {
        return "a file that is not a stick image".into();
    };
    match report.manifest {
        None => "a stick image without a readable manifest".into(),
        Some(m) => match m.components.get("hostname").and_then(|c| c.detail.clone()) {
            Some(h) => format!("the stick image of node {h}"),
            None => "a stick image without a hostname".into(),
        },
    }
}

fn write_device(args: &Args, c: &Contents) -> Result<()> {
    let path = &args.target;
    if args.size.is_some() {
        bail!("--size is for image files; a device keeps its own size (the backup GPT goes at its end)");
    }
    let roots = SystemRoots::default();
    let assessment = device::assess_path(&roots, path)?;
    let dev = &assessment.device;
    eprintln!("Target {}:", path.display());
    eprintln!("  {}", dev.summary());
    for line in dev.partition_lines() {
        eprintln!("  {line}");
    }
    assessment.check(args.force)?;
    // Opened once, before the prompt, and written through this descriptor
    // only once the device proves unchanged after it (see OpenedDevice).
    let opened = device::OpenedDevice::open(&roots, path, &assessment)?;
    if !args.yes {
        let stdin = std::io::stdin();
        confirm(&dev.name, stdin.is_terminal(), &mut stdin.lock())?;
    }
    opened.check_still_same(&roots, path)?;
    let (file, size) = (&opened.file, opened.identity.size);
    // An earlier stick's secrets partitions are wiped whole, wherever they
    // were, so no old node's token survives in free space.
    let old_secrets = device::old_secrets(file, size);
    let disk = ephemeros_stick::build_over(&c.spec(), size, &old_secrets)?;
    let total = disk.planned_bytes();
    let mut bar = ProgressBar::new(std::io::stderr().is_terminal());
    let result = device::write_and_verify(file, &disk, &mut |phase, done, total| {
        bar.show(phase, done, total)
    });
    bar.finish();
    result.with_context(|| {
        format!(
            "writing {} failed, so the stick is NOT usable; build it again (a stick that fails twice is worn out)",
            path.display()
        )
    })?;
    eprintln!(
        "Wrote and verified {} of data on {} ({}). The stick is ready.",
        human_size(total),
        path.display(),
        human_size(size)
    );
    Ok(())
}

/// Asks for a typed phrase naming the device, as the original tool did.
fn confirm(name: &str, interactive: bool, input: &mut dyn BufRead) -> Result<()> {
    let phrase = format!("erase {name}");
    if !interactive {
        bail!("refusing to write without confirmation: standard input is not a terminal; pass --yes to confirm");
    }
    eprint!("Everything on {name} will be lost. Type \"{phrase}\" to continue: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    input
        .read_line(&mut answer)
        .context("cannot read the confirmation")?;
    if answer.trim() != phrase {
        bail!("not confirmed; nothing was written");
    }
    Ok(())
}

/// A one-line progress bar on a terminal; silence otherwise.
struct ProgressBar {
    on: bool,
    last: Option<(Phase, u64)>,
}

impl ProgressBar {
    fn new(on: bool) -> ProgressBar {
        ProgressBar { on, last: None }
    }

    fn show(&mut self, phase: Phase, done: u64, total: u64) {
        if !self.on {
            return;
        }
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if self.last == Some((phase, pct)) {
            return;
        }
        self.last = Some((phase, pct));
        let label = match phase {
            Phase::Writing => "writing  ",
            Phase::Syncing => "syncing  ",
            Phase::Verifying => "verifying",
        };
        let filled = (pct as usize) * 30 / 100;
        eprint!(
            "\r{label} [{}{}] {pct:3}% {}/{}   ",
            "#".repeat(filled),
            " ".repeat(30 - filled),
            human_size(done),
            human_size(total)
        );
    }

    fn finish(&self) {
        if self.on && self.last.is_some() {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags' defaults are spelled out for `--help`; the layout's
    /// defaults live in the library. They must not drift apart.
    #[test]
    fn flag_defaults_are_the_library_layout() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let args = <Cli as clap::Parser>::try_parse_from(["x", "t.img"])
            .unwrap()
            .args;
        let layout = Layout::default();
        assert_eq!(args.esp_size, layout.esp_size);
        assert_eq!(args.secrets_size, layout.secrets_size);
        let help = <Cli as clap::CommandFactory>::command()
            .render_help()
            .to_string();
        let min = format!("the smallest that fits, {}M", layout.min_disk_size() / MIB);
        assert!(help.contains(&min), "{help}");
    }

    #[test]
    fn k3s_flag_parsing() {
        assert_eq!(
            parse_k3s("K3S_DATASTORE_ENDPOINT=").unwrap(),
            ("K3S_DATASTORE_ENDPOINT".into(), String::new())
        );
        assert_eq!(parse_k3s("K3S_TOKEN=a=b").unwrap().1, "a=b");
        assert!(parse_k3s("TOKEN=x").is_err());
        assert!(parse_k3s("K3S_TOKEN").is_err());
    }

    #[test]
    fn only_the_exact_phrase_confirms() {
        confirm("sdb", true, &mut &b"erase sdb\n"[..]).unwrap();
        for answer in [&b"yes\n"[..], b"erase sdc\n", b"", b"ERASE SDB\n"] {
            let e = confirm("sdb", true, &mut &answer[..])
                .unwrap_err()
                .to_string();
            assert!(e.contains("nothing was written"), "{e}");
        }
        let e = confirm("sdb", false, &mut &b"erase sdb\n"[..])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--yes"), "{e}");
    }

    #[test]
    fn reproduce_args_keep_non_defaults() {
        let s = BootSettings {
            console: vec!["ttyS0,115200n8".into()],
            ..BootSettings::default()
        };
        let a = reproduce_args(&s, Layout::default());
        assert!(a.contains(&"--console=ttyS0,115200n8".to_owned()));
        assert!(!a.iter().any(|x| x.starts_with("--esp-size")));
        let big = Layout {
            esp_size: 128 * MIB,
            ..Layout::default()
        };
        assert!(reproduce_args(&s, big).contains(&"--esp-size=128M".to_owned()));
    }
}
