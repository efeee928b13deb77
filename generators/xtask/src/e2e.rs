//! `cargo xtask e2e`: real sticks boot in qemu under OVMF against a
//! stand-in Flatcar served from a loopback HTTP server. Two stages:
//!
//! - `node` (the default, `node/`): the stand-in is a Debian userland with
//!   Flatcar's contract; real Ignition writes the node config in the initrd,
//!   real systemd runs every unit, and the harness checks them over SSH
//!   against loopback stand-ins of the outside world;
//! - `initrd` (what the Nix check runs): a busybox initramfs where real
//!   Ignition applies the config, listed back on the console
//!   (`initramfs.rs`, `init_script.rs`, `markers.rs`, `assertions.rs`);
//!   besides the HTTP boots (`http_boots.rs`), two over HTTPS from a
//!   mirror with a private CA (`https.rs`, `https_boots.rs`): the firmware
//!   holds the CA and the node comes up the same way, or the mirror's
//!   certificate is from another CA and the script gives up without
//!   falling back to plain HTTP (`--no-https` skips them, `--only-https`
//!   runs only them).
//!
//! Both: inputs (`inputs.rs`; Debian's archive by default, E2E_* variables
//! for Nix), sticks from `ephemeros build-stick` with test values for every
//! setting (`scenario.rs`, `stick.rs`), the served config (`node_config.rs`),
//! and two failure boots: the kernel is missing (404), the server is down
//! (through `ephemeros qemu`); the script must retry, give up and power off.
//! `timeline.rs` reports when each stage of a boot showed up.
//!
//! Inputs can be overridden (the Nix flake does): E2E_KERNEL +
//! E2E_KERNEL_MODULES, E2E_BUSYBOX, E2E_IGNITION, EPHEMEROS_IPXE_EFI,
//! EPHEMEROS_QEMU, EPHEMEROS_OVMF_CODE/_VARS, E2E_EPHEMEROS (a prebuilt
//! `ephemeros`), E2E_USERLAND (a userland tarball for the node stage),
//! E2E_OFFLINE=1 (never fetch from Debian).
//!
//! Always ends: every qemu run has a hard timeout, the server stops when
//! dropped, and the run directory is removed (unless `--keep`).

pub mod assertions;
mod cpio;
mod debian;
mod http_boots;
mod https;
mod https_boots;
mod init_script;
mod initramfs;
mod inputs;
mod markers;
pub mod node;
mod node_config;
mod scenario;
pub mod server;
mod stick;
mod timeline;

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use ephemeros_qemu::{
    console, run, run_vm, Accel, AccelChoice, AccelPlan, DiskBus, Display, RunResult, Serial,
    VmSpec, Watch,
};
use xshell::Shell;

use crate::workspace_root;
use assertions::{Checks, INITRD_TARGET, KERNEL_TARGET};
use scenario::{Scenario, CONFIG_TARGET};

#[derive(clap::Args)]
pub struct Args {
    /// Hard limit for each boot, in seconds
    #[arg(long, default_value_t = 240)]
    pub timeout: u64,
    /// Accelerator: kvm only where a probe shows it works (auto), or forced
    #[arg(long, default_value = "auto", value_parser = ["auto", "kvm", "tcg"])]
    pub accel: String,
    /// Keep the run directory (stick image, initramfs, serial logs)
    #[arg(long)]
    pub keep: bool,
    /// Skip the failure-case boots (404, server down, untrusted HTTPS)
    #[arg(long)]
    pub no_failure_case: bool,
    /// Initrd stage: skip the HTTPS boots (for an OVMF built without
    /// NETWORK_TLS_ENABLE, which ignores the CA list qemu hands it, or an
    /// iPXE from before March 2025, which does not read it)
    #[arg(long, conflicts_with = "only_https")]
    pub no_https: bool,
    /// Initrd stage: only the HTTPS boots (what CI adds to the node stage,
    /// which has the HTTP and failure boots of its own)
    #[arg(long)]
    pub only_https: bool,
    /// How far the stand-in goes: `node` boots into systemd and checks every
    /// unit; `initrd` stops after Ignition in a busybox initrd (no Debian
    /// userland needed: the Nix check's stage)
    #[arg(long, default_value = "node", value_parser = ["node", "initrd"])]
    pub stage: String,
    /// Node stage: run only these boots (comma-separated: node-1, node-2,
    /// agent, ssh-only), e.g. while changing one unit
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

/// Lines of serial log shown when a boot fails.
const TAIL_LINES: usize = 80;

pub fn run(sh: &Shell, args: Args) -> Result<()> {
    if args.stage != "initrd" && (args.no_https || args.only_https) {
        bail!("--no-https and --only-https are options of --stage initrd (the node stage has no HTTPS boots)");
    }
    let started = Instant::now();
    let dir = RunDir::create(args.keep)?;
    let result = if args.stage == "initrd" {
        run_initrd_stage(sh, &args, &dir.path)
    } else {
        node::run(sh, &args, &dir.path)
    };
    eprintln!(
        "e2e: total wall time {:.1} s",
        started.elapsed().as_secs_f64()
    );
    result
}

fn run_initrd_stage(sh: &Shell, args: &Args, dir: &Utf8Path) -> Result<()> {
    let t = Instant::now();
    let inputs = inputs::resolve(sh)?;
    eprintln!(
        "e2e: kernel {} (modules {}), busybox {}, ignition {}, iPXE {}, qemu {}, OVMF {}",
        inputs.kernel,
        inputs.module_version,
        inputs.busybox,
        inputs.ignition,
        inputs.ipxe_efi,
        inputs.vm.qemu.display(),
        inputs.vm.firmware.code.display()
    );

    // The port is reserved before the stick is built: the stick names it.
    let listener = server::bind()?;
    let sc = Scenario {
        port: listener.local_addr()?.port(),
        kind: scenario::Kind::Full,
        ssh_key: scenario::SSH_KEY.into(),
        logs_port: 6514,
        https_port: None,
    };

    let bin = match std::env::var("E2E_EPHEMEROS") {
        // A prebuilt binary (the Nix check passes its package's).
        Ok(p) if !p.is_empty() => Utf8PathBuf::from(p),
        _ => crate::ephemeros_bin(sh, crate::Profile::Debug)?,
    };
    let stick = stick::build(&bin, &sc, &inputs.ipxe_efi, dir, "stick")?;

    let initrd = initramfs::build(&initramfs::Parts {
        busybox: &inputs.busybox,
        ignition: &inputs.ignition,
        modules_root: &inputs.modules_root,
        module_version: &inputs.module_version,
    })?;
    let (config_path, config) = node_config_source()?;
    let served = node_config::serve(&config, &sc.base(), config_path.as_str())?;
    for (from, to) in &served.rewritten {
        eprintln!("e2e: remote source {from} served as stand-in {to}");
    }
    let expected = node_config::expectations(&served, &sc.base())?;
    let blob_targets = assertions::blob_targets(&served.blobs);

    let kernel = fs::read(&inputs.kernel).with_context(|| format!("reading {}", inputs.kernel))?;
    let sizes = (kernel.len(), initrd.len());
    let mut routes: BTreeMap<String, Arc<Vec<u8>>> = BTreeMap::new();
    routes.insert(KERNEL_TARGET.into(), Arc::new(kernel));
    routes.insert(INITRD_TARGET.into(), Arc::new(initrd));
    routes.insert(CONFIG_TARGET.into(), Arc::new(served.config.clone()));
    for (target, body) in served.blobs.clone() {
        routes.insert(target, Arc::new(body));
    }
    let https = match args.no_https {
        true => None,
        false => Some(https_boots::Setup::prepare(
            &bin, &inputs, &sc, &routes, dir,
        )?),
    };
    let server = server::Server::start(listener, routes.clone())?;
    eprintln!(
        "e2e: prepared in {:.1} s (kernel {:.1} MiB, initramfs {:.1} MiB)",
        t.elapsed().as_secs_f64(),
        sizes.0 as f64 / (1 << 20) as f64,
        sizes.1 as f64 / (1 << 20) as f64,
    );

    let mut accel = choose_accel(&args.accel, &inputs.vm, dir);
    let timeout = Duration::from_secs(args.timeout);
    let mut checks = Checks::default();

    let mut next = 1;
    if !args.only_https {
        http_boots::http_boot(
            &inputs,
            &stick,
            &mut accel,
            dir,
            timeout,
            &sc,
            &server,
            &mut checks,
            &expected,
            &blob_targets,
        )?;
        next += 1;
    }

    let ctx = https_boots::Ctx {
        inputs: &inputs,
        dir,
        timeout,
        bin: &bin,
        routes: &routes,
    };
    if let Some(h) = &https {
        h.trusted_boot(
            &ctx,
            next,
            &mut accel,
            &server,
            &mut checks,
            &expected,
            &blob_targets,
        )?;
        next += 1;
        if !args.no_failure_case {
            h.untrusted_boot(&ctx, next, &mut accel, &server, &mut checks)?;
            next += 1;
        }
    } else {
        eprintln!("e2e: HTTPS boots skipped (--no-https)");
    }

    if !args.no_failure_case && !args.only_https {
        http_boots::failure_boots(
            &inputs,
            &stick,
            &mut accel,
            dir,
            timeout,
            server,
            &bin,
            &mut checks,
            next,
        )?;
    } else {
        drop(server);
    }

    eprintln!("e2e: {}", checks.summary());
    if !checks.failures.is_empty() {
        bail!("e2e failed:\n  {}", checks.failures.join("\n  "));
    }
    Ok(())
}

/// The committed node config, as every node fetches it.
fn node_config_source() -> Result<(Utf8PathBuf, Vec<u8>)> {
    let path = workspace_root().join("ignition.ign");
    let data =
        fs::read(&path).with_context(|| format!("reading {path} (the committed node config)"))?;
    Ok((path, data))
}

/// The accelerator every boot starts with: the same probe and fallback as
/// `ephemeros qemu` (the shared launcher library).
fn choose_accel(choice: &str, vm: &ephemeros_qemu::Tools, dir: &Utf8Path) -> AccelPlan {
    let choice = match choice {
        "kvm" => AccelChoice::Kvm,
        "tcg" => AccelChoice::Tcg,
        _ => AccelChoice::Auto,
    };
    let plan = AccelPlan::decide(choice, &vm.qemu, &vm.firmware, dir.as_std_path());
    eprintln!("e2e: {}", plan.describe());
    plan
}

/// After a boot fell back to TCG, later boots start there: KVM failed on
/// this machine once already.
fn settle_on_tcg(plan: &mut AccelPlan, why: &str) {
    *plan = AccelPlan {
        accel: Accel::Tcg,
        may_fall_back: false,
        reason: format!("KVM failed in an earlier boot: {why}"),
    };
}

/// What `ephemeros qemu --accel` should be told so that it behaves as the
/// harness's own launches do.
fn accel_flag(plan: &AccelPlan) -> &'static str {
    match (plan.accel, plan.may_fall_back) {
        (Accel::Tcg, _) => "tcg",
        (Accel::Kvm, true) => "auto",
        (Accel::Kvm, false) => "kvm",
    }
}

/// Who starts qemu: the harness itself (the shared launcher library), or
/// the user-facing `ephemeros qemu` with the serial console on its stdout.
#[derive(Clone, Copy)]
enum Launcher<'a> {
    Direct,
    Ephemeros {
        bin: &'a Utf8Path,
        ssh_port: u16,
        /// `--trust-ca`: a CA certificate the firmware holds.
        trust_ca: Option<&'a Utf8Path>,
    },
}

/// `ephemeros qemu` gets this long past its own --timeout before the
/// harness kills it: its own deadline should act first.
const LAUNCHER_GRACE: Duration = Duration::from_secs(20);

/// How a direct boot differs between the stages.
pub struct BootOpts<'a> {
    pub memory_mib: u32,
    /// `(host port, guest port)` forwards (the node stage's SSH).
    pub forwards: Vec<(u16, u16)>,
    /// qemu is stopped once this is set (a session gave up on the VM).
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
    /// The firmware's CA list (an EFI signature list file), as
    /// `ephemeros qemu --trust-ca` hands it over.
    pub tls_ca_certs: Option<std::path::PathBuf>,
}

impl Default for BootOpts<'_> {
    fn default() -> Self {
        Self {
            // The stand-in needs far less than Flatcar's 3 GiB; less RAM boots faster.
            memory_mib: 1024,
            forwards: Vec::new(),
            stop: None,
            tls_ca_certs: None,
        }
    }
}

/// One boot of the stick; returns the run and the serial log with terminal
/// escapes removed (also written to `<name>-serial.log`).
#[allow(clippy::too_many_arguments)]
fn boot(
    inputs: &inputs::Inputs,
    stick: &Utf8Path,
    accel: &mut AccelPlan,
    dir: &Utf8Path,
    name: &str,
    timeout: Duration,
    launcher: Launcher,
    opts: &BootOpts,
) -> Result<(RunResult, String, Option<bool>)> {
    let vm_dir = dir.join(name);
    fs::create_dir_all(&vm_dir).with_context(|| format!("creating {vm_dir}"))?;
    let raw_log = vm_dir.join("serial.raw");
    let mut timeline = timeline::Timeline::new(raw_log.clone().into());
    // Under `ephemeros qemu`, also see that qemu listens on the forwarded
    // SSH port while the VM runs.
    let forwarded = match launcher {
        Launcher::Ephemeros { ssh_port, .. } => Some(ssh_port),
        Launcher::Direct => None,
    };
    let mut port_open = false;
    let poll = || {
        timeline.poll();
        if let (Some(port), false) = (forwarded, port_open) {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            port_open =
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        }
        opts.stop
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
    };
    let result = match launcher {
        Launcher::Direct => {
            let vars = run::private_vars(&inputs.vm.firmware.vars, vm_dir.as_std_path())?;
            let mut spec = VmSpec::node(
                inputs.vm.qemu.clone(),
                inputs.vm.firmware.code.clone(),
                vars,
                stick.into(),
            );
            spec.memory_mib = opts.memory_mib;
            spec.forwards = opts.forwards.clone();
            spec.bus = DiskBus::Usb;
            spec.serial = Serial::File(raw_log.clone().into());
            spec.display = Display::None;
            spec.tls_ca_certs = opts.tls_ca_certs.clone();
            let vm = run_vm(&spec, accel, Watch::default(), Some(timeout), poll, |n| {
                eprintln!("e2e: {name}: {n}")
            })?;
            if let Some(why) = &vm.fell_back {
                settle_on_tcg(accel, why);
            }
            vm.result
        }
        Launcher::Ephemeros {
            bin,
            ssh_port,
            trust_ca,
        } => {
            let mut cmd = std::process::Command::new(bin);
            cmd.arg("qemu");
            if let Some(ca) = trust_ca {
                cmd.arg("--trust-ca").arg(ca);
            }
            cmd.arg("--accel")
                .arg(accel_flag(accel))
                .args(["--timeout", &timeout.as_secs().to_string()])
                .args(["--ssh-port", &ssh_port.to_string()])
                .arg("--qemu")
                .arg(&inputs.vm.qemu)
                .arg("--ovmf-code")
                .arg(&inputs.vm.firmware.code)
                .arg("--ovmf-vars")
                .arg(&inputs.vm.firmware.vars)
                .arg(stick);
            let log = fs::File::create(&raw_log).with_context(|| format!("creating {raw_log}"))?;
            let result = run::run_logged(cmd, log, timeout + LAUNCHER_GRACE, poll)?;
            if let Some(line) = result
                .stderr
                .lines()
                .find(|l| l.contains("booting again under TCG"))
            {
                settle_on_tcg(accel, line);
            }
            result
        }
    };
    timeline.poll();
    eprintln!("e2e: {name} timeline: {}", timeline.summary());
    if !result.stderr.trim().is_empty() {
        eprintln!("stderr:\n{}", result.stderr.trim_end());
    }
    let raw = fs::read(&raw_log).unwrap_or_default();
    let log = console::strip_ansi(&raw);
    let clean = dir.join(format!("{name}-serial.log"));
    fs::write(&clean, &log).with_context(|| format!("writing {clean}"))?;
    Ok((result, log, forwarded.map(|_| port_open)))
}

fn print_tail(what: &str, log: &str, result: &RunResult, accel: &AccelPlan) {
    let lines: Vec<&str> = log.lines().collect();
    let from = lines.len().saturating_sub(TAIL_LINES);
    eprintln!(
        "---- {what} (under {}): last {} lines of the serial log ({:?}) ----",
        accel.accel.name(),
        lines.len() - from,
        result.outcome
    );
    if accel.accel == Accel::Kvm {
        eprintln!(
            "e2e: {what} ran under KVM; where KVM is unreliable, run with `--accel tcg` \
             (`cargo xtask e2e --accel tcg`, `cargo xtask ci --accel tcg`)"
        );
    }
    for l in &lines[from..] {
        eprintln!("{l}");
    }
    eprintln!("---- end of serial log ----");
}

/// A scratch directory, removed on drop (unless `--keep`).
struct RunDir {
    path: Utf8PathBuf,
    keep: bool,
}

impl RunDir {
    fn create(keep: bool) -> Result<Self> {
        // The system temp dir ($TMPDIR): writable in a Nix build sandbox too.
        let tmp = Utf8PathBuf::try_from(std::env::temp_dir()).context("TMPDIR is not UTF-8")?;
        let path = tmp.join(format!("ephemeros-e2e-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).with_context(|| format!("creating {path}"))?;
        Ok(Self { path, keep })
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("e2e: kept {}", self.path);
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
