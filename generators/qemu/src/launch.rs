//! Running a VM under the accelerator the user asked for, and falling back
//! to TCG when KVM turns out not to work.
//!
//! The probe ([`crate::kvm`]) catches most broken KVMs before a run. A
//! guest can still die under KVM later (the same nested-virtualisation
//! failures, only later in the boot); qemu then pauses it for good, so a run
//! that is not watched hangs until its deadline. Every run under KVM is
//! therefore watched: qemu reporting `KVM internal error`, qemu failing
//! before the guest printed anything, or a console still empty after
//! [`Watch::kvm_first_output`] all mean KVM failed. With `--accel auto` the
//! VM is stopped and started again under TCG, with one line saying why;
//! with `--accel kvm` it is an error. This is the one implementation:
//! `ephemeros qemu` and the e2e harness both run VMs through it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::command::{Accel, Serial, VmSpec};
use crate::discover::Firmware;
use crate::kvm::{self, console_written, first_complaint, line_with};
use crate::run::{supervise, Attach, Outcome, RunResult, KVM_INTERNAL_ERROR};
use crate::{Error, Result};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelChoice {
    /// KVM where the probe shows it works, with a fallback to TCG.
    Auto,
    /// KVM or an error.
    Kvm,
    /// TCG (software emulation): slow, works everywhere.
    Tcg,
}

impl AccelChoice {
    /// The spelling of `--accel`.
    pub fn name(self) -> &'static str {
        match self {
            AccelChoice::Auto => "auto",
            AccelChoice::Kvm => "kvm",
            AccelChoice::Tcg => "tcg",
        }
    }
}

/// The accelerator a run will start with, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccelPlan {
    pub accel: Accel,
    /// Whether a KVM failure at run time restarts the VM under TCG
    /// (`auto`) or is an error (`kvm`).
    pub may_fall_back: bool,
    pub reason: String,
}

impl AccelPlan {
    /// Decides, probing KVM with `firmware` for `auto` (a few seconds at
    /// most; see [`kvm::probe`]). `scratch` holds the probe's files.
    pub fn decide(choice: AccelChoice, qemu: &Path, firmware: &Firmware, scratch: &Path) -> Self {
        match choice {
            AccelChoice::Tcg => Self::fixed(Accel::Tcg),
            AccelChoice::Kvm => Self::fixed(Accel::Kvm),
            AccelChoice::Auto => {
                let probe = kvm::probe(qemu, firmware, scratch);
                Self {
                    accel: if probe.usable { Accel::Kvm } else { Accel::Tcg },
                    may_fall_back: probe.usable,
                    reason: probe.reason,
                }
            }
        }
    }

    /// Exactly `accel`, as forced with `--accel`.
    pub fn fixed(accel: Accel) -> Self {
        Self {
            accel,
            may_fall_back: false,
            reason: "--accel".into(),
        }
    }

    /// One line for the user: `accelerator: kvm (OVMF runs under KVM)`.
    pub fn describe(&self) -> String {
        format!("accelerator: {} ({})", self.accel.name(), self.reason)
    }
}

/// How closely a run under KVM is watched.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    /// A guest under KVM that has printed nothing by then is taken for dead.
    /// OVMF prints within a second under a working KVM; under TCG it takes
    /// a few seconds, and TCG runs are never held to this.
    pub kvm_first_output: Duration,
}

impl Default for Watch {
    fn default() -> Self {
        Self {
            kvm_first_output: Duration::from_secs(15),
        }
    }
}

/// A finished VM run.
#[derive(Debug)]
pub struct VmRun {
    /// The last run's result (the TCG one after a fallback).
    pub result: RunResult,
    /// The accelerator the last run used.
    pub accel: Accel,
    /// Why KVM was given up at run time, if it was.
    pub fell_back: Option<String>,
    /// Wall time of all runs together.
    pub elapsed: Duration,
}

/// Runs `spec` under `plan`'s accelerator (the one in `spec` is ignored),
/// with an overall deadline and a stop condition polled every 50 ms.
/// `notice` receives the one line said when KVM is given up.
///
/// The serial console is watched through the file it goes to
/// ([`Serial::File`], or the log of [`Serial::Terminal`]); with
/// [`Serial::None`] only qemu's stderr is.
pub fn run_vm(
    spec: &VmSpec,
    plan: &AccelPlan,
    watch: Watch,
    timeout: Option<Duration>,
    mut stop: impl FnMut() -> bool,
    mut notice: impl FnMut(&str),
) -> Result<VmRun> {
    let start = Instant::now();
    let mut spec = spec.clone();
    spec.accel = plan.accel;
    let first = run_once(&spec, watch, timeout, &mut stop)?;
    let Some(reason) = first.kvm_failure else {
        return Ok(VmRun {
            result: first.result,
            accel: spec.accel,
            fell_back: None,
            elapsed: start.elapsed(),
        });
    };
    if !plan.may_fall_back {
        return Err(Error::KvmFailed { reason });
    }
    notice(&format!(
        "KVM failed at run time ({reason}); booting again under TCG"
    ));
    spec.accel = Accel::Tcg;
    let remaining = timeout.map(|t| t.saturating_sub(start.elapsed()));
    let second = run_once(&spec, watch, remaining, &mut stop)?;
    Ok(VmRun {
        result: second.result,
        accel: Accel::Tcg,
        fell_back: Some(reason),
        elapsed: start.elapsed(),
    })
}

struct Once {
    result: RunResult,
    /// Set when the run under KVM was found dead (and stopped).
    kvm_failure: Option<String>,
}

fn run_once(
    spec: &VmSpec,
    watch: Watch,
    timeout: Option<Duration>,
    stop: &mut dyn FnMut() -> bool,
) -> Result<Once> {
    let console = console_log(&spec.serial).map(Path::to_path_buf);
    let attach = match spec.serial {
        Serial::Terminal { .. } => Attach::Terminal,
        Serial::File(_) | Serial::None => Attach::Detached,
    };
    let under_kvm = spec.accel == Accel::Kvm;
    let start = Instant::now();
    let mut failure: Option<String> = None;
    let result = supervise(spec.command(), attach, timeout, |p| {
        if under_kvm {
            failure = kvm_death(p.stderr, console.as_deref(), start.elapsed(), watch);
            if failure.is_some() {
                return true;
            }
        }
        stop()
    })?;
    if under_kvm && failure.is_none() {
        // qemu gave up on KVM before the guest printed a thing (it aborts
        // setting up the host CPU model on some machines).
        if let Outcome::Exited(status) = result.outcome {
            let printed = console.as_deref().is_some_and(console_written);
            if !status.success() && !printed {
                failure = Some(format!(
                    "qemu exited with {status}: {}",
                    first_complaint(&result.stderr)
                ));
            }
        }
    }
    Ok(Once {
        result,
        kvm_failure: failure,
    })
}

/// Why a guest under KVM is taken for dead, if it is.
fn kvm_death(
    stderr: &str,
    console: Option<&Path>,
    elapsed: Duration,
    watch: Watch,
) -> Option<String> {
    if let Some(line) = line_with(stderr, KVM_INTERNAL_ERROR) {
        return Some(format!("qemu reported `{line}`"));
    }
    let console = console?;
    (elapsed >= watch.kvm_first_output && !console_written(console)).then(|| {
        format!(
            "the guest printed nothing within {} s",
            watch.kvm_first_output.as_secs_f64()
        )
    })
}

/// The file the guest's console is copied to, if any.
pub fn console_log(serial: &Serial) -> Option<&Path> {
    match serial {
        Serial::File(p) => Some(p),
        Serial::Terminal { log: Some(p) } => Some(p),
        Serial::Terminal { log: None } | Serial::None => None,
    }
}

/// A console log path inside `dir` (for [`Serial::Terminal`]).
pub fn console_log_in(dir: &Path) -> PathBuf {
    dir.join("console.log")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeQemu;

    fn spec(fake: &FakeQemu) -> VmSpec {
        let mut s = VmSpec::node(
            fake.qemu.clone(),
            fake.firmware.code.clone(),
            fake.firmware.vars.clone(),
            fake.dir.join("stick.img"),
        );
        s.serial = Serial::File(fake.dir.join("serial.log"));
        s
    }

    const QUICK: Watch = Watch {
        kvm_first_output: Duration::from_millis(800),
    };

    fn auto_chose_kvm() -> AccelPlan {
        AccelPlan {
            accel: Accel::Kvm,
            may_fall_back: true,
            reason: "test".into(),
        }
    }

    /// A run of `spec` as `--accel auto` makes it once the probe chose KVM.
    fn run_auto(spec: &VmSpec, watch: Watch) -> VmRun {
        run_vm(
            spec,
            &auto_chose_kvm(),
            watch,
            Some(Duration::from_secs(60)),
            || false,
            |_| {},
        )
        .unwrap()
    }

    #[test]
    fn a_kvm_internal_error_falls_back_to_tcg_at_once() {
        let fake = FakeQemu::new("fallback-internal", "internal-error", "poweroff");
        let mut notices = Vec::new();
        let run = run_vm(
            &spec(&fake),
            &auto_chose_kvm(),
            Watch::default(),
            Some(Duration::from_secs(60)),
            || false,
            |n| notices.push(n.to_owned()),
        )
        .unwrap();
        assert_eq!(run.accel, Accel::Tcg);
        assert!(run.result.success(), "{run:?}");
        let why = run.fell_back.unwrap();
        assert!(why.contains("KVM internal error. Suberror: 1"), "{why}");
        // One line, and the hang was cut short long before any deadline
        // (the kvm_first_output deadline here is 15 s).
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0].contains("booting again under TCG"),
            "{notices:?}"
        );
        assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
        assert_eq!(fake.starts(), 2);
        assert!(fake.args().lines().nth(1).unwrap().contains("accel=tcg"));
    }

    #[test]
    fn a_silent_guest_under_kvm_falls_back_after_the_deadline() {
        let fake = FakeQemu::new("fallback-silent", "silent", "poweroff");
        let run = run_auto(&spec(&fake), QUICK);
        assert_eq!(run.accel, Accel::Tcg);
        assert!(run.fell_back.unwrap().contains("printed nothing"));
    }

    #[test]
    fn qemu_dying_at_once_under_kvm_falls_back() {
        let fake = FakeQemu::new("fallback-abort", "abort", "poweroff");
        let run = run_auto(&spec(&fake), QUICK);
        assert_eq!(run.accel, Accel::Tcg);
        assert!(run.fell_back.unwrap().contains("failed to set MSR"));
    }

    #[test]
    fn forced_kvm_is_an_error_not_a_fallback() {
        let fake = FakeQemu::new("forced-kvm", "internal-error", "poweroff");
        let err = run_vm(
            &spec(&fake),
            &AccelPlan::fixed(Accel::Kvm),
            Watch::default(),
            Some(Duration::from_secs(60)),
            || false,
            |_| panic!("no fallback when KVM is forced"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("KVM internal error"), "{err}");
        assert!(err.contains("--accel tcg"), "{err}");
        assert_eq!(fake.starts(), 1);
    }

    #[test]
    fn a_working_kvm_run_is_left_alone() {
        let fake = FakeQemu::new("kvm-ok", "poweroff", "abort");
        let run = run_vm(
            &spec(&fake),
            &auto_chose_kvm(),
            QUICK,
            Some(Duration::from_secs(60)),
            || false,
            |_| panic!("no fallback for a working KVM"),
        )
        .unwrap();
        assert_eq!(run.accel, Accel::Kvm);
        assert!(run.fell_back.is_none());
        assert!(run.result.success());
    }

    #[test]
    fn tcg_runs_are_never_held_to_the_kvm_deadline() {
        let fake = FakeQemu::new("tcg-silent", "abort", "silent");
        let run = run_vm(
            &spec(&fake),
            &AccelPlan::fixed(Accel::Tcg),
            QUICK,
            Some(Duration::from_millis(1500)),
            || false,
            |_| panic!("TCG has nothing to fall back to"),
        )
        .unwrap();
        assert_eq!(run.result.outcome, Outcome::TimedOut);
        assert_eq!(fake.starts(), 1);
    }

    #[test]
    fn an_interactive_console_is_watched_through_its_log() {
        let fake = FakeQemu::new("terminal-log", "silent", "poweroff");
        let mut s = spec(&fake);
        s.serial = Serial::Terminal {
            log: Some(console_log_in(&fake.dir)),
        };
        let run = run_auto(&s, QUICK);
        assert_eq!(run.accel, Accel::Tcg);
        assert!(fake.args().contains("stdio,id=con0,mux=on,logfile="));
        let log = std::fs::read_to_string(console_log_in(&fake.dir)).unwrap();
        assert!(log.contains("fake firmware on tcg"), "{log}");
    }
}
