//! What each boot must show, checked from the serial log (markers) and the
//! loopback server's request log. Every check is printed; failures are
//! collected so one run reports all of them.

use std::collections::BTreeMap;

use anyhow::Result;
use ephemeros_qemu::{Outcome, RunResult};

use super::markers::{parse_env_file, Markers};
use super::node_config::Expect;
use super::scenario::{Scenario, CONFIG_TARGET, DOWNLOAD_ATTEMPTS, HOSTNAME};
use super::server::Request;

pub const KERNEL_TARGET: &str = "/flatcar/flatcar_production_pxe.vmlinuz";
pub const INITRD_TARGET: &str = "/flatcar/flatcar_production_pxe_image.cpio.gz";

#[derive(Default)]
pub struct Checks {
    pub failures: Vec<String>,
    passed: usize,
}

impl Checks {
    pub fn check(&mut self, what: impl Into<String>, ok: bool, detail: impl FnOnce() -> String) {
        let what = what.into();
        if ok {
            self.passed += 1;
            eprintln!("  ok    {what}");
        } else {
            let msg = format!("{what}: {}", detail());
            eprintln!("  FAIL  {msg}");
            self.failures.push(msg);
        }
    }

    /// Takes over another set's results (a boot's session).
    pub fn absorb(&mut self, other: Checks) {
        self.passed += other.passed;
        self.failures.extend(other.failures);
    }

    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failures.len())
    }
}

pub fn count(reqs: &[Request], target: &str, status: u16) -> usize {
    reqs.iter()
        .filter(|r| r.method == "GET" && r.target == target && r.status == status)
        .count()
}

/// The node boot: iPXE -> kernel -> stand-in -> secrets -> Ignition.
pub fn boot(
    c: &mut Checks,
    sc: &Scenario,
    run: &RunResult,
    log: &str,
    reqs: &[Request],
    expected: &[(String, Expect)],
    blob_targets: &[String],
) -> Result<()> {
    let m = Markers::parse(log)?;
    c.check(
        "qemu powered off by itself",
        matches!(run.outcome, Outcome::Exited(s) if s.success()),
        || format!("{:?}", run.outcome),
    );
    c.check(
        "iPXE found the stick's autoexec.ipxe and ran it",
        log.contains("/autoexec.ipxe... ok")
            && log.contains(&format!(
                "ephemeros: booting Flatcar stable amd64 current as {HOSTNAME}"
            )),
        || {
            "no `file:/autoexec.ipxe... ok` and `ephemeros: booting Flatcar … as <hostname>` lines"
                .into()
        },
    );
    c.check(
        "iPXE fetched the kernel and initrd once each",
        count(reqs, KERNEL_TARGET, 200) == 1 && count(reqs, INITRD_TARGET, 200) == 1,
        || format!("requests: {reqs:?}"),
    );
    c.check("the stand-in /init ran", m.has("init-start"), || {
        "no `E2E init-start` marker".into()
    });

    let cmdline = m
        .first("cmdline")
        .and_then(|b| super::markers::b64_decode(b).ok())
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\n')
                .to_owned()
        });
    let want = ephemeros_ipxe::expected_proc_cmdline(&sc.boot_settings()?)?;
    c.check(
        "/proc/cmdline is exactly what the script intended",
        cmdline.as_deref() == Some(want.as_str()),
        || format!("\n    got  {cmdline:?}\n    want {want:?}"),
    );
    // The same, derived independently of the ipxe crate: each setting
    // reached the kernel as one intact argument.
    let got = cmdline.unwrap_or_default();
    for arg in [
        format!("ignition.config.url={}", sc.ignition_url()),
        "flatcar.first_boot=1".to_owned(),
        format!("sshkey=\"{}\"", sc.ssh_key),
        format!("console={}", super::scenario::CONSOLE),
    ] {
        c.check(
            format!("kernel argument `{arg}`"),
            has_arg(&got, &arg),
            || format!("not in {got:?}"),
        );
    }
    c.check(
        format!("hostname {HOSTNAME} on the command line"),
        got.split(' ')
            .any(|w| w.ends_with(&format!("hostname={HOSTNAME}"))),
        || format!("not in {got:?}"),
    );

    c.check(
        "found the partition named `secrets`",
        m.has("secrets-dev"),
        || "no `secrets-dev` marker".into(),
    );
    let mount = m
        .first("secrets-mount")
        .and_then(|b| super::markers::b64_decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let opts: Vec<&str> = mount
        .split_whitespace()
        .nth(3)
        .unwrap_or("")
        .split(',')
        .collect();
    c.check(
        "secrets mounted vfat read-only",
        mount.split_whitespace().nth(2) == Some("vfat")
            && opts.contains(&"ro")
            && !m.has("secrets-writable"),
        || format!("mount line {mount:?}"),
    );
    for (file, vars) in sc.expected_env_files() {
        let got = m
            .secrets
            .get(file)
            .map(|b| parse_env_file(&String::from_utf8_lossy(b)));
        let ok = matches!(&got, Some(Ok(env)) if *env == vars);
        c.check(
            format!("secrets/{file} holds exactly the given values"),
            ok,
            || format!("\n    got  {got:?}\n    want {vars:?}"),
        );
    }
    let hostname = m
        .secrets
        .get("hostname")
        .map(|b| String::from_utf8_lossy(b).into_owned());
    c.check(
        "secrets/hostname",
        hostname.as_deref() == Some(&format!("{HOSTNAME}\n")),
        || format!("{hostname:?}"),
    );
    let keys = m
        .secrets
        .get("authorized_keys")
        .map(|b| String::from_utf8_lossy(b).into_owned());
    c.check(
        "secrets/authorized_keys holds the key",
        keys.as_deref()
            .is_some_and(|k| k.lines().any(|l| l == sc.ssh_key)),
        || format!("{keys:?}"),
    );
    c.check(
        "secrets/reproduce.sh is there",
        m.secrets.get("reproduce.sh").is_some_and(|b| !b.is_empty()),
        || format!("files: {:?}", m.secrets.keys().collect::<Vec<_>>()),
    );

    c.check(
        "Ignition fetched the config from the exact URL on the command line",
        count(reqs, CONFIG_TARGET, 200) >= 1,
        || {
            format!(
                "requests: {:?}",
                reqs.iter().map(|r| &r.target).collect::<Vec<_>>()
            )
        },
    );
    for t in blob_targets {
        c.check(
            format!("Ignition fetched the stand-in for a remote source ({t})"),
            count(reqs, t, 200) >= 1,
            || "never requested".into(),
        );
    }
    c.check(
        "ignition fetch stage succeeded",
        m.first("ignition-fetch") == Some("0"),
        || format!("{:?}", m.first("ignition-fetch")),
    );
    c.check(
        "ignition files stage succeeded",
        m.first("ignition-files") == Some("0"),
        || format!("{:?}", m.first("ignition-files")),
    );

    for (path, want) in expected {
        let got = m.entries.get(path);
        let (ok, detail) = match (want, got) {
            (_, None) => (false, "missing".to_owned()),
            (Expect::File { mode, sha512 }, Some(e)) => (
                e.kind == "file" && e.mode == *mode && e.detail == *sha512,
                format!(
                    "{} mode {:o}, want file mode {mode:o} with the config's contents",
                    e.kind, e.mode
                ),
            ),
            (Expect::Dir { mode }, Some(e)) => (
                e.kind == "dir" && e.mode == *mode,
                format!("{} mode {:o}", e.kind, e.mode),
            ),
            (Expect::Link { target }, Some(e)) => (
                e.kind == "link" && e.detail == *target,
                format!("{} -> {}", e.kind, e.detail),
            ),
            (Expect::Contains { line }, Some(_)) => {
                let text = m
                    .contents
                    .get(path)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                (text.lines().any(|l| l == line), format!("content {text:?}"))
            }
        };
        c.check(format!("/{path}: {}", describe(want)), ok, || detail);
    }
    c.check(
        "the stand-in finished",
        m.first("done") == Some("ok"),
        || format!("done = {:?}", m.first("done")),
    );
    Ok(())
}

/// `arg` occurs in `cmdline` delimited by spaces (or the ends).
pub fn has_arg(cmdline: &str, arg: &str) -> bool {
    cmdline.match_indices(arg).any(|(i, _)| {
        let before = cmdline[..i].chars().last();
        let after = cmdline[i + arg.len()..].chars().next();
        before.is_none_or(|c| c == ' ') && after.is_none_or(|c| c == ' ')
    })
}

fn describe(e: &Expect) -> String {
    match e {
        Expect::File { mode, .. } => format!("file {mode:o} with the config's contents"),
        Expect::Dir { mode } => format!("directory {mode:o}"),
        Expect::Link { target } => format!("link to {target}"),
        Expect::Contains { line } => format!("contains {line:?}"),
    }
}

/// The kernel cannot be had, either because the server answers 404
/// (`reqs` is its request log) or because it is down (`reqs` is None): iPXE
/// tries the download as often as the script says, gives up with its
/// message, and powers the machine off.
/// A boot whose script must give up and power off. `launcher_exit` is the
/// exit status expected of whoever started qemu: qemu itself exits 0 on the
/// guest's poweroff; `ephemeros qemu` exits [`LAUNCHER_GAVE_UP`] and says why.
pub fn failure(
    c: &mut Checks,
    run: &RunResult,
    log: &str,
    reqs: Option<&[Request]>,
    launcher_exit: i32,
) {
    c.check(
        format!(
            "the VM powered off by itself, exit status {launcher_exit} (not the harness timeout)"
        ),
        matches!(run.outcome, Outcome::Exited(s) if s.code() == Some(launcher_exit)),
        || format!("{:?}; stderr: {}", run.outcome, run.stderr),
    );
    if let Some(reqs) = reqs {
        let tries = count(reqs, KERNEL_TARGET, 404);
        c.check(
            format!("the server saw {DOWNLOAD_ATTEMPTS} kernel requests (404)"),
            tries == DOWNLOAD_ATTEMPTS as usize,
            || format!("{tries} tries; requests: {reqs:?}"),
        );
    }
    // iPXE prints `<url>... <error>` for each failed fetch.
    let fetch_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("{KERNEL_TARGET}...")))
        .collect();
    c.check(
        format!("iPXE reported {DOWNLOAD_ATTEMPTS} failed kernel downloads"),
        fetch_lines.len() == DOWNLOAD_ATTEMPTS as usize
            && fetch_lines.iter().all(|l| !l.trim_end().ends_with("ok")),
        || format!("{fetch_lines:?}"),
    );
    for n in 1..=DOWNLOAD_ATTEMPTS {
        let line = format!("ephemeros: downloading Flatcar, attempt {n} of {DOWNLOAD_ATTEMPTS}");
        c.check(format!("log shows `{line}`"), log.contains(&line), || {
            "absent".into()
        });
    }
    c.check(
        "log shows the script giving up",
        log.contains("ephemeros: giving up: could not download"),
        || "absent".into(),
    );
    c.check(
        "log shows `ephemeros: poweroff in …`",
        log.contains("ephemeros: poweroff in"),
        || "absent".into(),
    );
    c.check(
        "no kernel started",
        !log.contains("E2E init-start") && !log.contains("Linux version"),
        || "a kernel ran".into(),
    );
}

/// `ephemeros qemu` told the user how to log in and how to quit, and
/// forwarded the SSH port it named.
/// `ephemeros qemu`'s exit status when the boot script gave up.
pub const LAUNCHER_GAVE_UP: i32 = 3;

pub fn launcher(c: &mut Checks, run: &RunResult, ssh_port: u16) {
    c.check(
        "`ephemeros qemu` said in one line that the boot script gave up",
        run.stderr
            .lines()
            .filter(|l| l.starts_with("the guest stopped after the boot script gave up (ephemeros: giving up: could not download"))
            .count()
            == 1,
        || format!("stderr: {}", run.stderr),
    );
    let login = format!("ssh -p {ssh_port} core@127.0.0.1");
    c.check(
        format!("`ephemeros qemu` printed how to log in (`{login}`)"),
        run.stderr.contains(&login),
        || format!("stderr: {}", run.stderr),
    );
    c.check(
        "`ephemeros qemu` printed how to quit (Ctrl-A X)",
        run.stderr.contains("Ctrl-A X"),
        || format!("stderr: {}", run.stderr),
    );
}

/// Groups served blobs by target for the report.
pub fn blob_targets(blobs: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    blobs.keys().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::has_arg;

    #[test]
    fn kernel_arguments_match_whole() {
        let line = r#"vmlinuz sshkey="a b" console=ttyS0,115200n8 x=1"#;
        assert!(has_arg(line, r#"sshkey="a b""#));
        assert!(has_arg(line, "x=1"));
        assert!(!has_arg(line, "console=ttyS0"));
        assert!(!has_arg(line, "=1"));
    }
}
