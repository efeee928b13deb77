//! The booted node over SSH, as `core` with the stick's key, through qemu's
//! forwarded port: `ssh -p PORT core@127.0.0.1`. One multiplexed connection
//! serves all commands (each new SSH handshake costs seconds under TCG).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

pub struct Guest {
    pub port: u16,
    key: Utf8PathBuf,
    control: Utf8PathBuf,
}

/// What one remote script did.
pub struct Output {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Guest {
    pub fn new(port: u16, key: &Utf8Path, dir: &Utf8Path) -> Self {
        Self {
            port,
            key: key.to_owned(),
            control: dir.join(format!("ssh-{port}.ctl")),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-p", &self.port.to_string(), "-i"])
            .arg(&self.key)
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "ServerAliveInterval=5",
                "-o",
                "ControlMaster=auto",
                "-o",
                "ControlPersist=300",
            ])
            .arg("-o")
            .arg(format!("ControlPath={}", self.control))
            .arg("core@127.0.0.1");
        c
    }

    /// Runs `script` with bash on the node (as core; `sudo` for root).
    pub fn run(&self, script: &str, timeout: Duration) -> Result<Output> {
        let mut child = self
            .command()
            .arg("bash -s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running ssh (Debian package openssh-client)")?;
        let mut stdin = child.stdin.take().context("ssh stdin")?;
        let text = script.to_owned();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
        let mut out = child.stdout.take().context("ssh stdout")?;
        let mut err = child.stderr.take().context("ssh stderr")?;
        let r_out = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            s
        });
        let r_err = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = child.try_wait().context("waiting for ssh")? {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = writer.join();
        let stdout = String::from_utf8_lossy(&r_out.join().unwrap_or_default()).into_owned();
        let stderr = String::from_utf8_lossy(&r_err.join().unwrap_or_default()).into_owned();
        let Some(status) = status else {
            bail!("ssh command timed out after {timeout:?}: {script:.80}\n{stderr}");
        };
        Ok(Output {
            ok: status.success(),
            code: status.code(),
            stdout,
            stderr,
        })
    }

    /// The trimmed standard output of a script that must succeed.
    pub fn out(&self, script: &str) -> Result<String> {
        let o = self.run(script, Duration::from_secs(60))?;
        if !o.ok {
            bail!(
                "`{}` failed ({:?}): {}",
                script.trim(),
                o.code,
                o.stderr.trim()
            );
        }
        Ok(o.stdout.trim_end().to_owned())
    }

    /// Waits until a login works; false when `deadline` passes or `gone()`
    /// says the VM has ended.
    pub fn wait_for_login(&self, deadline: Instant, gone: impl Fn() -> bool) -> bool {
        while Instant::now() < deadline && !gone() {
            if let Ok(o) = self.run("true", Duration::from_secs(20)) {
                if o.ok {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        false
    }

    /// What a failure report needs: failed units, and the given units'
    /// status and journal.
    pub fn diagnose(&self, units: &[&str]) -> String {
        let mut script = String::from(
            "echo '--- systemctl --failed'; sudo systemctl --failed --no-pager --full 2>&1\n",
        );
        for u in units {
            script.push_str(&format!(
                "echo '--- {u}'; sudo systemctl status --no-pager --full -n 0 {u} 2>&1; \
                 sudo journalctl -b --no-pager -o short-monotonic -n 60 -u {u} 2>&1\n"
            ));
        }
        match self.run(&script, Duration::from_secs(60)) {
            Ok(o) => o.stdout,
            Err(e) => format!("(no diagnosis over SSH: {e:#})"),
        }
    }

    /// Asks the node to power off (qemu then exits, `-no-reboot`).
    pub fn poweroff(&self) {
        let _ = self.run(
            "sudo systemctl --no-block poweroff",
            Duration::from_secs(20),
        );
        let _ = Command::new("ssh")
            .args([
                "-o",
                &format!("ControlPath={}", self.control),
                "-O",
                "exit",
                "x",
            ])
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .status();
    }
}
