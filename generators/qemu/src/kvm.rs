//! Does KVM really work here?
//!
//! On CI-style VMs `/dev/kvm` can exist and qemu can even create a KVM VM,
//! yet guests fail or crawl (nested virtualisation). So the probe runs real
//! guest code: SeaBIOS under `accel=kvm` with no disks, logging to the debug
//! port; KVM counts as usable only if SeaBIOS reports it runs on KVM and gets
//! to the end of its boot attempt within a few seconds.

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::run::{run_watched, Outcome};

/// The probe's verdict and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvmProbe {
    pub usable: bool,
    pub reason: String,
}

/// SeaBIOS's last words when it finds nothing to boot.
const BIOS_DONE: &str = "No bootable device";
const BIOS_ON_KVM: &str = "Running on KVM";
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Probes KVM with `qemu`, using `scratch` for the probe's log.
pub fn probe(qemu: &Path, scratch: &Path) -> KvmProbe {
    let verdict = |usable, reason: String| KvmProbe { usable, reason };
    if let Err(e) = OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        return verdict(false, format!("/dev/kvm: {e}"));
    }
    let log = scratch.join("kvm-probe.log");
    let _ = fs::remove_file(&log);
    let mut cmd = Command::new(qemu);
    cmd.args([
        "-machine",
        "q35,accel=kvm",
        "-cpu",
        "host",
        "-m",
        "128",
        "-display",
        "none",
        "-nodefaults",
        "-serial",
        "none",
        "-no-reboot",
        "-chardev",
    ])
    .arg(format!(
        "file,id=dbg,path={}",
        log.display().to_string().replace(',', ",,")
    ))
    .args(["-device", "isa-debugcon,iobase=0x402,chardev=dbg"]);
    // With no display SeaBIOS halts after its boot attempt, so the VM never
    // ends by itself: stop it as soon as the log says the BIOS is done.
    let watched = log.clone();
    let run = run_watched(cmd, PROBE_TIMEOUT, || {
        fs::read_to_string(&watched).is_ok_and(|t| t.contains(BIOS_DONE))
    });
    let text = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_file(&log);
    let result = match run {
        Ok(r) => r,
        Err(e) => return verdict(false, e.to_string()),
    };
    match result.outcome {
        Outcome::Stopped if text.contains(BIOS_ON_KVM) => {
            verdict(true, "SeaBIOS ran to completion under KVM".into())
        }
        Outcome::Exited(status) => verdict(
            false,
            format!("qemu exited with {status}: {}", first_line(&result.stderr)),
        ),
        _ => verdict(
            false,
            format!(
                "SeaBIOS did not finish under KVM within {}s {}",
                PROBE_TIMEOUT.as_secs(),
                first_line(&result.stderr)
            ),
        ),
    }
}

/// qemu's first complaint names the problem; the rest is an assertion dump.
fn first_line(stderr: &str) -> &str {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.contains("warning:"))
        .unwrap_or("")
}
