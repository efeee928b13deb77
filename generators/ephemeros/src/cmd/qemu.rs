//! `ephemeros qemu TARGET`: boot a stick or image the way a node would.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ephemeros_qemu::cacerts;
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
  ephemeros qemu --print-command stick.img

  # A stick whose --base-url is an HTTPS mirror with a private CA: the
  # firmware holds the CA, as a node's would (its TlsCaCertificate variable):
  ephemeros qemu --trust-ca mirror-ca.pem stick.img")]
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
    /// A CA certificate (PEM, or DER) the firmware trusts for HTTPS, as a
    /// node's firmware holds it in its `TlsCaCertificate` variable; iPXE
    /// trusts it too. Repeatable; a PEM file may hold several
    #[arg(long, value_name = "FILE")]
    pub trust_ca: Vec<PathBuf>,
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
    // Before anything slow: a bad certificate file is a typo to fix.
    let ca_list = trusted_ca_list(&args.trust_ca)?;
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
    let ca_file = match &ca_list {
        Some(list) => Some(write_ca_list(list, &scratch.0, args.print_command)?),
        None => None,
    };
    let mut spec = spec(
        &args,
        tools.qemu,
        tools.firmware.code,
        tools.firmware.vars,
        plan.accel,
    );
    spec.tls_ca_certs = ca_file;
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

/// The EFI signature list of every certificate in `files`, or None when
/// none is given. Each error names its file (and line, in PEM).
fn trusted_ca_list(files: &[PathBuf]) -> Result<Option<Vec<u8>>> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut certs = Vec::new();
    for file in files {
        let read = cacerts::read_file(file).context("--trust-ca")?;
        if read.iter().any(cacerts::Certificate::has_ec_key) {
            eprintln!(
                "warning: --trust-ca {}: an ECDSA (elliptic-curve) CA; iPXE builds before \
                 December 2025, the ones this project ships among them, cannot verify what \
                 it signs, so a mirror certificate from it fails the handshake",
                file.display()
            );
        }
        certs.extend(read);
    }
    Ok(Some(cacerts::signature_list(&certs)))
}

/// Where qemu reads the CA list from. A run keeps it in its scratch
/// directory; a printed command must still find it after this command
/// ended, so it goes to a file in the temp directory named after its
/// contents (the same certificates give the same file), left in place.
fn write_ca_list(list: &[u8], scratch: &Path, print_command: bool) -> Result<PathBuf> {
    let path = if print_command {
        std::env::temp_dir().join(format!("ephemeros-cacerts-{:016x}.esl", fnv1a(list)))
    } else {
        scratch.join("cacerts.esl")
    };
    std::fs::write(&path, list).with_context(|| format!("writing {}", path.display()))?;
    if print_command {
        eprintln!(
            "the firmware's CA list (--trust-ca) is in {}, kept for the printed command",
            path.display()
        );
    }
    Ok(path)
}

/// FNV-1a, 64 bit: a stable name for a file's contents (not a security
/// measure; the file is rewritten on every use).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
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

    const CA_PEM: &str = include_str!("../../../qemu/tests/fixtures/test-ca.pem");

    #[test]
    fn trusted_cas_become_one_signature_list() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.pem"), dir.path().join("b.der"));
        std::fs::write(&a, CA_PEM).unwrap();
        let der = cacerts::parse(CA_PEM.as_bytes()).unwrap();
        std::fs::write(&b, der[0].der()).unwrap();
        assert_eq!(trusted_ca_list(&[]).unwrap(), None);
        let list = trusted_ca_list(&[a.clone(), b]).unwrap().unwrap();
        assert_eq!(
            list,
            cacerts::signature_list(&[der[0].clone(), der[0].clone()])
        );

        let bad = dir.path().join("key.pem");
        std::fs::write(&bad, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n").unwrap();
        let err = format!("{:#}", trusted_ca_list(&[a, bad.clone()]).unwrap_err());
        assert!(
            err.starts_with(&format!(
                "--trust-ca: {}:1: holds a private key",
                bad.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn a_printed_command_names_a_ca_list_that_outlives_it() {
        let scratch = tempfile::tempdir().unwrap();
        let list = cacerts::signature_list(&cacerts::parse(CA_PEM.as_bytes()).unwrap());
        let run = write_ca_list(&list, scratch.path(), false).unwrap();
        assert!(run.starts_with(scratch.path()));
        let printed = write_ca_list(&list, scratch.path(), true).unwrap();
        assert!(
            !printed.starts_with(scratch.path()),
            "{}",
            printed.display()
        );
        assert_eq!(std::fs::read(&printed).unwrap(), list);
        // The same certificates, the same file.
        assert_eq!(write_ca_list(&list, scratch.path(), true).unwrap(), printed);
        std::fs::remove_file(&printed).unwrap();

        let mut a = parse(&["--trust-ca", "x.pem", "--trust-ca", "y.der", "s.img"]).unwrap();
        assert_eq!(a.trust_ca, [PathBuf::from("x.pem"), PathBuf::from("y.der")]);
        a.trust_ca.clear();
        let mut s = spec(&a, "/q".into(), "/c".into(), "/v".into(), Accel::Tcg);
        s.tls_ca_certs = Some(printed.clone());
        assert!(s.shell_line().ends_with(&format!(
            " -no-reboot -fw_cfg name=etc/edk2/https/cacerts,file={}",
            printed.display()
        )));
    }

    #[test]
    fn less_than_three_gib_is_refused() {
        assert!(parse(&["--memory", "2048", "x.img"]).is_err());
    }
}
