//! `ephemeros qemu TARGET`: boot a stick or image the way a node would.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ephemeros_qemu::discover::Lookup;
use ephemeros_qemu::launch::console_log_in;
use ephemeros_qemu::{
    run_vm, Accel, AccelChoice as Choice, AccelPlan, DiskBus, Display, Outcome, Serial, VmSpec,
    Watch,
};

/// Exit status when --timeout stopped the VM, as timeout(1) has it: a
/// script can tell "the guest powered off" from "it was still running".
const TIMED_OUT: u8 = 124;

/// Exit status when the guest ended by itself after the boot script said
/// it was giving up (no DHCP, no download, a kernel that did not start).
const GAVE_UP: u8 = 3;

/// Flatcar unpacks its whole /usr into RAM; less than 3 GiB does not boot.
const MIN_MEMORY_MIB: u32 = 3072;

#[derive(clap::Args)]
#[command(after_help = "\
Boots under OVMF with the stick attached as a USB mass-storage device, like a \
node. Writes go to a temporary overlay (-snapshot): the stick or image is never \
modified. The guest's SSH port is forwarded to 127.0.0.1:<--ssh-port>.

The accelerator: with --accel auto (the default), KVM only where a short probe \
shows OVMF really runs under it, else TCG; a guest that still fails under KVM \
(qemu reports `KVM internal error`, or the console stays silent) is stopped \
and booted again under TCG, with one line saying why. --accel kvm makes that \
an error instead.

Exit status: 0 when the guest powered off or rebooted by itself (qemu runs \
with -no-reboot), or when you quit; 3 when it did so after the boot script gave up (its \
`ephemeros: giving up:` line is on the console); 124 when --timeout stopped \
it; 1 on any other error.

Examples:
  # Boot an image built by build-stick, console in this terminal:
  ephemeros qemu stick.img

  # Boot a real stick, in a window, and log in from another terminal:
  ephemeros qemu --gui /dev/sdb
  ssh -p 2222 core@localhost

  # Show the qemu command line instead of running it:
  ephemeros qemu --print-command stick.img")]
pub struct Args {
    /// The stick (block device) or image file to boot
    pub target: PathBuf,
    /// Open a window (VGA console) instead of using this terminal
    #[arg(long)]
    pub gui: bool,
    /// Guest memory in MiB (at least 3072)
    #[arg(long, default_value_t = MIN_MEMORY_MIB,
          value_parser = clap::value_parser!(u32).range(i64::from(MIN_MEMORY_MIB)..))]
    pub memory: u32,
    /// Guest CPUs
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus: u32,
    /// Host port on 127.0.0.1 forwarded to the guest's SSH port
    #[arg(long, default_value_t = 2222)]
    pub ssh_port: u16,
    /// Accelerator: kvm when a probe shows it works (auto), or forced
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto)]
    pub accel: AccelChoice,
    /// Attach the stick as virtio-blk instead of USB storage (faster, less real)
    #[arg(long)]
    pub virtio: bool,
    /// qemu-system-x86_64 to run [default: PATH]
    #[arg(long, env = ephemeros_qemu::ENV_QEMU, value_parser = super::path_or_empty)]
    pub qemu: Option<PathBuf>,
    /// OVMF code image [default: well-known paths]
    #[arg(long, env = ephemeros_qemu::ENV_OVMF_CODE, value_parser = super::path_or_empty)]
    pub ovmf_code: Option<PathBuf>,
    /// OVMF variable-store template (a private copy is booted)
    #[arg(long, env = ephemeros_qemu::ENV_OVMF_VARS, value_parser = super::path_or_empty)]
    pub ovmf_vars: Option<PathBuf>,
    /// Stop the VM after this many seconds (exit status 124, as timeout(1))
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Print the qemu command line a run would use (the accelerator probe
    /// included) instead of running it
    #[arg(long)]
    pub print_command: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccelChoice {
    Auto,
    Kvm,
    Tcg,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if !args.target.exists() {
        anyhow::bail!("{}: no such stick or image", args.target.display());
    }
    // qemu's own message for an unreadable device is cryptic; say it here.
    std::fs::File::open(&args.target).with_context(|| {
        format!(
            "cannot read {} (a device needs root or membership in its group, usually `disk`)",
            args.target.display()
        )
    })?;
    if !args.print_command {
        check_ssh_port(args.ssh_port)?;
    }
    // Empty means unset, for the flags' environment variables too.
    let given = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
    let tools = Lookup::from_env(
        given(&args.qemu),
        given(&args.ovmf_code),
        given(&args.ovmf_vars),
    )
    .tools()
    .context("finding qemu and OVMF")?;

    let scratch = Scratch::create()?;
    // The probe runs for --print-command too: the command printed is the
    // one a run would start with.
    let plan = AccelPlan::decide(args.accel.into(), &tools.qemu, &tools.firmware, &scratch.0);
    if args.accel == AccelChoice::Auto {
        eprintln!("{}", plan.describe());
    }
    // With -snapshot, qemu puts every drive, the OVMF variable store
    // included, behind a temporary overlay: the distribution's (or the Nix
    // store's read-only) VARS file is booted as is, never written, and the
    // printed command runs as printed.
    let mut spec = spec(
        &args,
        tools.qemu,
        tools.firmware.code,
        tools.firmware.vars,
        plan.accel,
    );
    if args.print_command {
        super::output::write_stdout(format!("{}\n", spec.shell_line()).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }

    // A copy of the console, so the launcher sees what the guest printed
    // (the KVM watch, and why the guest ended) while the terminal keeps it.
    let console = console_log_in(&scratch.0);
    spec.serial = Serial::Terminal {
        log: Some(console.clone()),
    };
    let run = boot(&args, &spec, &plan)?;
    let elapsed = run.elapsed;
    match run.result.outcome {
        Outcome::Exited(status) if status.success() => {
            let log = std::fs::read(&console).unwrap_or_default();
            Ok(ended(&ephemeros_qemu::console::strip_ansi(&log)))
        }
        Outcome::Exited(status) => {
            anyhow::bail!("qemu exited with {status}")
        }
        Outcome::TimedOut | Outcome::Stopped => {
            eprintln!("\nstopped the VM after {}s (--timeout)", elapsed.as_secs());
            Ok(ExitCode::from(TIMED_OUT))
        }
    }
}

impl From<AccelChoice> for Choice {
    fn from(c: AccelChoice) -> Self {
        match c {
            AccelChoice::Auto => Choice::Auto,
            AccelChoice::Kvm => Choice::Kvm,
            AccelChoice::Tcg => Choice::Tcg,
        }
    }
}

/// What qemu's console multiplexer prints when the user quits (Ctrl-A X);
/// it goes through the console, so the console's log ends with it.
const QUIT_BY_USER: &str = "QEMU: Terminated";

/// The one line said when qemu ended without error, and the exit status:
/// the boot script's give-up line means the node did not come up.
fn ended(console: &str) -> ExitCode {
    let last = console.lines().rev().map(str::trim).find(|l| !l.is_empty());
    if last == Some(QUIT_BY_USER) {
        return ExitCode::SUCCESS;
    }
    let gave_up = console
        .lines()
        .rev()
        .find_map(|l| l.find(ephemeros_ipxe::GIVE_UP).map(|at| l[at..].trim()));
    match gave_up {
        Some(line) => {
            eprintln!("\nthe guest stopped after the boot script gave up ({line})");
            ExitCode::from(GAVE_UP)
        }
        None => {
            eprintln!("\nthe guest powered off or rebooted by itself (qemu runs with -no-reboot)");
            ExitCode::SUCCESS
        }
    }
}

/// A private scratch directory (the KVM probe's files, the console copy),
/// removed when the command ends.
struct Scratch(PathBuf);

impl Scratch {
    fn create() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("ephemeros-qemu-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn boot(args: &Args, spec: &VmSpec, plan: &AccelPlan) -> Result<ephemeros_qemu::VmRun> {
    eprintln!(
        "booting {} (writes are discarded on exit)",
        args.target.display()
    );
    eprintln!(
        "log in:  ssh -p {} core@127.0.0.1   (with the SSH key the stick was built with)",
        args.ssh_port
    );
    if args.gui {
        eprintln!("quit:    close the window, or Ctrl-A X in this terminal");
    } else {
        eprintln!("quit:    Ctrl-A X   (Ctrl-A C switches to the qemu monitor)");
    }
    let timeout = args.timeout.map(Duration::from_secs);
    Ok(run_vm(
        spec,
        plan,
        Watch::default(),
        timeout,
        || false,
        |notice| eprintln!("ephemeros: {notice}"),
    )?)
}

/// The VM for these arguments; pure, so the exact command is testable.
fn spec(args: &Args, qemu: PathBuf, code: PathBuf, vars: PathBuf, accel: Accel) -> VmSpec {
    let mut s = VmSpec::node(qemu, code, vars, args.target.clone());
    s.memory_mib = args.memory;
    s.cpus = args.cpus;
    s.accel = accel;
    s.bus = if args.virtio {
        DiskBus::Virtio
    } else {
        DiskBus::Usb
    };
    s.forwards = vec![(args.ssh_port, 22)];
    // The serial console stays on the terminal with --gui too: Flatcar logs
    // there, and Ctrl-A X still quits.
    s.serial = Serial::Terminal { log: None };
    s.display = if args.gui {
        Display::Gui
    } else {
        Display::None
    };
    s
}

/// qemu's own message for a taken forwarding port ("Could not set up host
/// forwarding rule") names neither the port's owner nor the way out; a
/// listener bound and dropped here finds the clash first. (A race with
/// another program in between is possible, and then qemu's message shows.)
fn check_ssh_port(port: u16) -> Result<()> {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_listener) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "127.0.0.1:{port}, the host end of the guest's SSH forwarding, is already in use \
             (another VM?); pick a free port with --ssh-port"
        ),
        Err(err) => Err(err).with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{port} for the guest's SSH forwarding; \
                 pick another port with --ssh-port"
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("qemu").chain(argv.iter().copied())).map(|c| c.args)
    }

    fn line(argv: &[&str]) -> String {
        let a = parse(argv).unwrap();
        spec(
            &a,
            "/q/qemu-system-x86_64".into(),
            "/fw/CODE.fd".into(),
            "/run/VARS.fd".into(),
            Accel::Tcg,
        )
        .shell_line()
    }

    #[test]
    fn defaults_boot_like_a_node() {
        assert_eq!(
            line(&["/dev/sdb"]),
            "/q/qemu-system-x86_64 -machine q35,accel=tcg -m 3072 -smp 2 \
             -drive if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd \
             -drive if=pflash,format=raw,unit=1,file=/run/VARS.fd \
             -drive if=none,id=stick,format=raw,file=/dev/sdb \
             -device qemu-xhci,id=xhci \
             -device usb-storage,bus=xhci.0,drive=stick,removable=on,bootindex=0 \
             -snapshot -netdev user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22 \
             -device virtio-net-pci,netdev=net0 -serial mon:stdio \
             -display none -monitor none -no-reboot"
        );
    }

    #[test]
    fn flags_change_the_command() {
        let l = line(&[
            "--gui",
            "--memory",
            "4096",
            "--cpus",
            "4",
            "--ssh-port",
            "2200",
            "--virtio",
            "stick.img",
        ]);
        assert!(l.contains("-m 4096 -smp 4"), "{l}");
        assert!(l.contains("hostfwd=tcp:127.0.0.1:2200-:22"), "{l}");
        assert!(l.contains("virtio-blk-pci,drive=stick"), "{l}");
        assert!(!l.contains("-display none"), "{l}");
    }

    #[test]
    fn less_than_three_gib_is_refused() {
        assert!(parse(&["--memory", "2048", "x.img"]).is_err());
    }
}
