//! Does KVM really work here, for the firmware that will run?
//!
//! On CI-style VMs (nested virtualisation) `/dev/kvm` can open and SeaBIOS
//! can even run under KVM, yet OVMF dies at once: qemu prints `KVM internal
//! error. Suberror: 1` and pauses the guest, or aborts while setting up the
//! host CPU model. So the probe boots what a run boots, OVMF on the same
//! machine type and CPU model (a scratch copy of the variable store, no
//! disks), and counts KVM as usable only if the firmware writes to the serial
//! console: proof that guest code ran. A healthy KVM gets there in well under
//! a second; the probe stops at the first byte, or at the first sign of
//! failure, and never waits longer than [`PROBE_TIMEOUT`]. Nothing is cached:
//! every run probes afresh.

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::command::{machine_args, opt_with_path, Accel};
use crate::discover::Firmware;
use crate::run::{private_vars, supervise, Attach, Outcome, KVM_INTERNAL_ERROR};

/// The probe's verdict and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvmProbe {
    pub usable: bool,
    pub reason: String,
}

/// The longest a probe runs. OVMF under a working KVM prints within a
/// second even on a loaded 2-core machine.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(6);

/// Probes KVM with `qemu` and `firmware`, using `scratch` for the probe's
/// files (removed again).
pub fn probe(qemu: &Path, firmware: &Firmware, scratch: &Path) -> KvmProbe {
    if let Err(e) = OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        return verdict(false, format!("/dev/kvm: {e}"));
    }
    probe_firmware(qemu, firmware, scratch, PROBE_TIMEOUT)
}

fn verdict(usable: bool, reason: String) -> KvmProbe {
    KvmProbe { usable, reason }
}

/// The probe proper, without the `/dev/kvm` check (tests run it against a
/// fake qemu on machines without KVM).
pub(crate) fn probe_firmware(
    qemu: &Path,
    firmware: &Firmware,
    scratch: &Path,
    timeout: Duration,
) -> KvmProbe {
    let dir = scratch.join("kvm-probe");
    let _ = fs::remove_dir_all(&dir);
    if let Err(e) = fs::create_dir_all(&dir) {
        return verdict(false, format!("creating {}: {e}", dir.display()));
    }
    let result = probe_in(qemu, firmware, &dir, timeout);
    let _ = fs::remove_dir_all(&dir);
    result
}

fn probe_in(qemu: &Path, firmware: &Firmware, dir: &Path, timeout: Duration) -> KvmProbe {
    let vars = match private_vars(&firmware.vars, dir) {
        Ok(v) => v,
        Err(e) => return verdict(false, e.to_string()),
    };
    let log = dir.join("serial.log");
    let mut cmd = Command::new(qemu);
    cmd.args(machine_args(Accel::Kvm))
        .args(["-m", "256", "-nodefaults", "-display", "none", "-no-reboot"])
        .arg("-drive")
        .arg(opt_with_path(
            "if=pflash,format=raw,unit=0,readonly=on,file=",
            &firmware.code,
        ))
        .arg("-drive")
        .arg(opt_with_path("if=pflash,format=raw,unit=1,file=", &vars))
        .arg("-chardev")
        .arg(opt_with_path("file,id=probe0,path=", &log))
        .args(["-serial", "chardev:probe0"]);
    let run = supervise(cmd, Attach::Detached, Some(timeout), |p| {
        p.stderr.contains(KVM_INTERNAL_ERROR) || console_written(&log)
    });
    let run = match run {
        Ok(r) => r,
        Err(e) => return verdict(false, e.to_string()),
    };
    let ran = console_written(&log);
    if let Some(line) = line_with(&run.stderr, KVM_INTERNAL_ERROR) {
        return verdict(false, format!("OVMF died under KVM: {line}"));
    }
    match run.outcome {
        Outcome::Stopped if ran => verdict(true, "OVMF runs under KVM".into()),
        Outcome::Exited(status) => verdict(
            false,
            format!(
                "qemu exited with {status} under KVM: {}",
                first_complaint(&run.stderr)
            ),
        ),
        _ => verdict(
            false,
            format!(
                "OVMF wrote nothing to the console within {} s under KVM",
                timeout.as_secs_f64()
            ),
        ),
    }
}

/// Whether the guest has written anything to the console log yet.
pub(crate) fn console_written(log: &Path) -> bool {
    fs::metadata(log).is_ok_and(|m| m.len() > 0)
}

/// The first line of `text` that contains `needle`, trimmed.
pub(crate) fn line_with<'a>(text: &'a str, needle: &str) -> Option<&'a str> {
    text.lines().find(|l| l.contains(needle)).map(str::trim)
}

/// qemu's first complaint names the problem; the rest is an assertion dump.
pub(crate) fn first_complaint(stderr: &str) -> &str {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.contains("warning:"))
        .unwrap_or("no message")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeQemu;

    #[test]
    fn firmware_output_under_kvm_counts_as_usable() {
        let fake = FakeQemu::new("probe-ok", "console", "abort");
        let p = probe_firmware(&fake.qemu, &fake.firmware, &fake.dir, PROBE_TIMEOUT);
        assert!(p.usable, "{p:?}");
        let args = fake.args();
        // The probe asks KVM for what a run asks: q35, the host CPU, OVMF.
        assert!(args.contains("-machine q35,accel=kvm -cpu host"), "{args}");
        assert!(args.contains("readonly=on,file="), "{args}");
    }

    #[test]
    fn kvm_internal_error_is_not_usable_and_ends_the_probe_at_once() {
        let fake = FakeQemu::new("probe-internal", "internal-error", "abort");
        let p = probe_firmware(&fake.qemu, &fake.firmware, &fake.dir, PROBE_TIMEOUT);
        assert!(!p.usable);
        assert!(
            p.reason.contains("KVM internal error. Suberror: 1"),
            "{p:?}"
        );
    }

    #[test]
    fn qemu_exiting_at_once_is_not_usable_and_says_why() {
        let fake = FakeQemu::new("probe-exit", "abort", "console");
        let p = probe_firmware(&fake.qemu, &fake.firmware, &fake.dir, PROBE_TIMEOUT);
        assert!(!p.usable);
        assert!(p.reason.contains("failed to set MSR"), "{p:?}");
    }

    #[test]
    fn silence_is_not_usable() {
        let fake = FakeQemu::new("probe-silent", "silent", "console");
        let p = probe_firmware(
            &fake.qemu,
            &fake.firmware,
            &fake.dir,
            Duration::from_millis(500),
        );
        assert!(!p.usable);
        assert!(p.reason.contains("wrote nothing"), "{p:?}");
    }
}
