//! The initrd stage's HTTP boots: the node comes up (boot 1), and the two
//! boots where the kernel cannot be had (404, the server down), which must
//! give up and power off.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use anyhow::Result;
use camino::Utf8Path;
use ephemeros_qemu::AccelPlan;

use super::assertions::{self, Checks};
use super::scenario::Scenario;
use super::{boot, inputs, node_config, print_tail, server, BootOpts, Launcher};

/// Boot 1: the stick of `sc` against the HTTP server; the node comes up.
#[allow(clippy::too_many_arguments)]
pub fn http_boot(
    inputs: &inputs::Inputs,
    stick: &Utf8Path,
    accel: &mut AccelPlan,
    dir: &Utf8Path,
    timeout: Duration,
    sc: &Scenario,
    server: &server::Server,
    checks: &mut Checks,
    expected: &[(String, node_config::Expect)],
    blob_targets: &[String],
) -> Result<()> {
    eprintln!("e2e: boot 1: the node comes up");
    let (result, log, _) = boot(
        inputs,
        stick,
        accel,
        dir,
        "boot",
        timeout,
        Launcher::Direct,
        &BootOpts::default(),
    )?;
    eprintln!(
        "e2e: boot 1 wall time {:.1} s",
        result.elapsed.as_secs_f64()
    );
    let before = checks.failures.len();
    assertions::boot(
        checks,
        sc,
        &result,
        &log,
        &server.requests(),
        expected,
        blob_targets,
    )?;
    if checks.failures.len() > before {
        print_tail("boot 1", &log, &result, accel);
    }

    Ok(())
}

/// The two boots where the kernel cannot be had: the server answers 404
/// (boot `first`), then the server is down (boot `first + 1`, through the
/// user-facing `ephemeros qemu`). Both must give up and power off.
#[allow(clippy::too_many_arguments)]
pub fn failure_boots(
    inputs: &inputs::Inputs,
    stick: &Utf8Path,
    accel: &mut AccelPlan,
    dir: &Utf8Path,
    timeout: Duration,
    server: server::Server,
    bin: &Utf8Path,
    checks: &mut Checks,
    first: u32,
) -> Result<()> {
    let second = first + 1;
    eprintln!(
        "e2e: boot {first}: the kernel is missing (404); the script must give up and power off"
    );
    server.reset(BTreeMap::new());
    let (result, log, _) = boot(
        inputs,
        stick,
        accel,
        dir,
        "not-found",
        timeout,
        Launcher::Direct,
        &BootOpts::default(),
    )?;
    eprintln!(
        "e2e: boot {first} wall time {:.1} s",
        result.elapsed.as_secs_f64()
    );
    let before = checks.failures.len();
    assertions::failure(checks, &result, &log, Some(&server.requests()), 0);
    if checks.failures.len() > before {
        print_tail(&format!("boot {first}"), &log, &result, accel);
    }

    eprintln!(
        "e2e: boot {second} (through `ephemeros qemu`): the server is down; the script must give up and power off"
    );
    drop(server);
    let vars_before = fs::read(&inputs.vm.firmware.vars).ok();
    let ssh_port = server::bind()?.local_addr()?.port();
    let launcher = Launcher::Ephemeros {
        bin,
        ssh_port,
        trust_ca: None,
    };
    let (result, log, forwarded) = boot(
        inputs,
        stick,
        accel,
        dir,
        "server-down",
        timeout,
        launcher,
        &BootOpts::default(),
    )?;
    assertions::launcher(checks, &result, ssh_port);
    checks.check(
        format!("qemu accepted connections on the forwarded SSH port 127.0.0.1:{ssh_port}"),
        forwarded == Some(true),
        || "no connection succeeded while the VM ran".into(),
    );
    checks.check(
        "the OVMF VARS template was not written (-snapshot)",
        fs::read(&inputs.vm.firmware.vars).ok() == vars_before,
        || format!("{} changed", inputs.vm.firmware.vars.display()),
    );
    eprintln!(
        "e2e: boot {second} wall time {:.1} s",
        result.elapsed.as_secs_f64()
    );
    let before = checks.failures.len();
    assertions::failure(checks, &result, &log, None, assertions::LAUNCHER_GAVE_UP);
    if checks.failures.len() > before {
        print_tail(&format!("boot {second}"), &log, &result, accel);
    }
    Ok(())
}
