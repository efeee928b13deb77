//! Starting qemu with a hard timeout.
//!
//! A VM that hangs (a script ending in `shell`, a kernel waiting for a disk)
//! must never hang CI, so every run has a deadline: at the deadline qemu gets
//! SIGTERM (it restores the terminal and flushes logs), and SIGKILL if it is
//! still there a few seconds later.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exited(ExitStatus),
    /// The deadline passed and qemu was killed.
    TimedOut,
    /// The caller's stop condition held and qemu was killed.
    Stopped,
}

#[derive(Debug)]
pub struct RunResult {
    pub outcome: Outcome,
    /// Wall time from spawn to exit (or to the kill).
    pub elapsed: Duration,
    /// qemu's own stderr (warnings, errors), when captured.
    pub stderr: String,
}

impl RunResult {
    pub fn success(&self) -> bool {
        matches!(self.outcome, Outcome::Exited(s) if s.success())
    }
}

/// How long qemu gets between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(50);

/// Runs `cmd` with stdin/stdout detached and stderr captured, killing it at
/// `timeout`. For unattended runs whose serial port goes to a file.
pub fn run_captured(cmd: Command, timeout: Duration) -> Result<RunResult> {
    run_watched(cmd, timeout, || false)
}

/// Like [`run_captured`], and also stops qemu as soon as `stop()` returns
/// true (polled every 50 ms), e.g. when a log shows what was awaited.
pub fn run_watched(
    cmd: Command,
    timeout: Duration,
    mut stop: impl FnMut() -> bool,
) -> Result<RunResult> {
    supervise(cmd, Attach::Detached, Some(timeout), |_| stop())
}

/// Like [`run_watched`], with the command's standard output appended to
/// `log`: for a launcher that puts the serial console on its stdout.
pub fn run_logged(
    cmd: Command,
    log: std::fs::File,
    timeout: Duration,
    mut stop: impl FnMut() -> bool,
) -> Result<RunResult> {
    supervise(cmd, Attach::Log(log), Some(timeout), |_| stop())
}

/// Where a supervised child's standard streams go.
pub(crate) enum Attach {
    /// stdin and stdout on /dev/null, stderr captured.
    Detached,
    /// stdin on /dev/null, stdout appended to a file, stderr captured.
    Log(std::fs::File),
    /// stdin and stdout on the user's terminal; stderr captured and also
    /// copied to ours line by line, so qemu's warnings still show while the
    /// supervisor reads them (a KVM failure is recognised in them).
    Terminal,
}

/// What a poll sees of the running child.
pub(crate) struct Progress<'a> {
    /// Everything the child wrote to stderr so far.
    pub stderr: &'a str,
}

/// Starts `cmd`, then polls `stop` every 50 ms until the child exits,
/// `stop` says so (then the child is terminated: [`Outcome::Stopped`]) or
/// the deadline passes ([`Outcome::TimedOut`]).
pub(crate) fn supervise(
    mut cmd: Command,
    attach: Attach,
    timeout: Option<Duration>,
    mut stop: impl FnMut(&Progress) -> bool,
) -> Result<RunResult> {
    let forward = matches!(attach, Attach::Terminal);
    match attach {
        Attach::Detached => {
            cmd.stdin(Stdio::null()).stdout(Stdio::null());
        }
        Attach::Log(file) => {
            cmd.stdin(Stdio::null()).stdout(Stdio::from(file));
        }
        Attach::Terminal => {}
    }
    cmd.stderr(Stdio::piped());
    die_with_parent(&mut cmd);
    let program = PathBuf::from(cmd.get_program());
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|error| Error::Spawn {
        program: program.clone(),
        error,
    })?;
    let stderr = Arc::new(Mutex::new(String::new()));
    // Read stderr on a thread: a full pipe would otherwise block qemu.
    let pipe = child.stderr.take().expect("stderr is piped");
    let reader = {
        let stderr = Arc::clone(&stderr);
        thread::spawn(move || read_stderr(pipe, &stderr, forward))
    };
    let outcome = wait_with_deadline(&mut child, start, timeout, &mut || {
        let text = stderr.lock().map(|s| s.clone()).unwrap_or_default();
        stop(&Progress { stderr: &text })
    })?;
    let elapsed = start.elapsed();
    let _ = reader.join();
    let stderr = stderr.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(RunResult {
        outcome,
        elapsed,
        stderr,
    })
}

/// Text after which qemu's stderr is a register dump: when forwarding to
/// the terminal, the supervisor's one-line explanation replaces it.
pub(crate) const KVM_INTERNAL_ERROR: &str = "KVM internal error";

fn read_stderr(pipe: impl Read, into: &Mutex<String>, forward: bool) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    let mut quiet = false;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        quiet |= text.contains(KVM_INTERNAL_ERROR);
        if forward && !quiet {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&line);
            let _ = err.flush();
        }
        if let Ok(mut all) = into.lock() {
            all.push_str(&text);
        }
    }
}

/// The child gets SIGTERM when the thread that started it ends, so a VM
/// never outlives its launcher (killed by a harness timeout, a crash, …).
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl(2) is async-signal-safe and touches no memory of
        // the parent; it only sets an attribute of the forked child.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
    }
}

fn wait_with_deadline(
    child: &mut Child,
    start: Instant,
    timeout: Option<Duration>,
    stop: &mut dyn FnMut() -> bool,
) -> Result<Outcome> {
    // Whatever happens here (an error, a panic in `stop`), qemu must not
    // outlive the wait.
    let guard = KillOnDrop(child);
    let outcome = loop {
        if let Some(status) = guard.0.try_wait().map_err(Error::Wait)? {
            std::mem::forget(guard);
            return Ok(Outcome::Exited(status));
        }
        if stop() {
            break Outcome::Stopped;
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            break Outcome::TimedOut;
        }
        thread::sleep(POLL);
    };
    terminate(guard.0)?;
    std::mem::forget(guard);
    Ok(outcome)
}

struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGTERM, a grace period, then SIGKILL; always reaps the child.
fn terminate(child: &mut Child) -> Result<()> {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) on our own child's pid, which is not yet reaped
        // (try_wait returned None), so the pid cannot have been reused.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let asked = Instant::now();
    while asked.elapsed() < TERM_GRACE {
        if child.try_wait().map_err(Error::Wait)?.is_some() {
            return Ok(());
        }
        thread::sleep(POLL);
    }
    let _ = child.kill();
    child.wait().map_err(Error::Wait)?;
    Ok(())
}

/// Copies the OVMF variable-store template into `dir`: the firmware writes
/// its boot entries there, and the distribution's file is read-only (and
/// must stay pristine).
pub fn private_vars(template: &Path, dir: &Path) -> Result<PathBuf> {
    let dest = dir.join("OVMF_VARS.fd");
    fs::copy(template, &dest).map_err(|error| Error::Io {
        action: "copying OVMF vars to",
        path: dest.clone(),
        error,
    })?;
    // The template may be a read-only store path (Nix); the copy must be writable.
    let mut perms = fs::metadata(&dest)
        .map_err(|error| Error::Io {
            action: "reading",
            path: dest.clone(),
            error,
        })?
        .permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&dest, perms).map_err(|error| Error::Io {
        action: "making writable",
        path: dest.clone(),
        error,
    })?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_past_its_deadline_is_killed() {
        let mut c = Command::new("sleep");
        c.arg("30");
        let r = run_captured(c, Duration::from_millis(300)).unwrap();
        assert_eq!(r.outcome, Outcome::TimedOut);
        // SIGTERM ends sleep at once; the grace period is not waited out.
        assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    }

    #[test]
    fn a_stop_condition_ends_the_run_early() {
        let mut c = Command::new("sleep");
        c.arg("30");
        let mut polls = 0;
        let r = run_watched(c, Duration::from_secs(60), || {
            polls += 1;
            polls > 3
        })
        .unwrap();
        assert_eq!(r.outcome, Outcome::Stopped);
        assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    }

    #[test]
    fn a_panicking_watcher_still_kills_the_process() {
        let pid_file =
            std::env::temp_dir().join(format!("ephemeros-qemu-pid-{}", std::process::id()));
        let mut c = Command::new("sh");
        c.args([
            "-c",
            &format!("echo $$ > {}; exec sleep 30", pid_file.display()),
        ]);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_watched(c, Duration::from_secs(60), || {
                std::fs::read_to_string(&pid_file).is_ok_and(|p| !p.trim().is_empty())
                    && panic!("watcher")
            })
        }));
        assert!(r.is_err());
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        std::fs::remove_file(&pid_file).unwrap();
        // Killed and reaped: its /proc entry is gone.
        assert!(!std::path::Path::new(&format!("/proc/{}", pid.trim())).exists());
    }

    #[test]
    fn run_logged_appends_stdout_to_the_log() {
        let path = std::env::temp_dir().join(format!("ephemeros-qemu-log-{}", std::process::id()));
        fs::write(&path, b"before\n").unwrap();
        let log = fs::OpenOptions::new().append(true).open(&path).unwrap();
        let mut c = Command::new("sh");
        c.args(["-c", "echo console"]);
        let r = run_logged(c, log, Duration::from_secs(20), || false).unwrap();
        assert!(r.success());
        assert_eq!(fs::read_to_string(&path).unwrap(), "before\nconsole\n");
        fs::remove_file(path).unwrap();
    }

    #[test]
    fn exit_status_and_stderr_are_reported() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo oops >&2; exit 3"]);
        let r = run_captured(c, Duration::from_secs(20)).unwrap();
        assert_eq!(r.outcome, Outcome::Exited(r_status(3)));
        assert_eq!(r.stderr, "oops\n");
        assert!(!r.success());
    }

    fn r_status(code: i32) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn missing_program_names_it() {
        let err = run_captured(Command::new("/nonexistent/qemu"), Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/qemu"), "{err}");
    }

    #[test]
    fn private_vars_is_a_writable_copy() {
        let d = std::env::temp_dir().join(format!("ephemeros-qemu-vars-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        let t = d.join("template.fd");
        fs::write(&t, b"vars").unwrap();
        let mut p = fs::metadata(&t).unwrap().permissions();
        p.set_readonly(true);
        fs::set_permissions(&t, p).unwrap();
        let run_dir = d.join("run");
        fs::create_dir_all(&run_dir).unwrap();
        let v = private_vars(&t, &run_dir).unwrap();
        assert_eq!(fs::read(&v).unwrap(), b"vars");
        assert!(!fs::metadata(&v).unwrap().permissions().readonly());
        fs::remove_dir_all(&d).unwrap();
    }
}
