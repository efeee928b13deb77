//! A scratch directory to run the node's scripts in: fake programs on PATH,
//! a marker file that an injected command would create, and child processes
//! that are always cleaned up (each runs in its own process group).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

pub struct Sandbox {
    pub dir: Utf8PathBuf,
}

impl Sandbox {
    pub fn new(dir: Utf8PathBuf) -> Result<Sandbox> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {dir}"))?;
        }
        std::fs::create_dir_all(dir.join("bin")).with_context(|| format!("creating {dir}/bin"))?;
        Ok(Sandbox { dir })
    }

    /// The file an injected `touch` would create.
    pub fn pwned(&self) -> Utf8PathBuf {
        self.dir.join("pwned")
    }

    /// A secret value that runs `touch pwned` if any shell ever evaluates
    /// it, in every form a shell would: `$(…)`, backticks, `;`, and with
    /// spaces that word splitting would break apart.
    pub fn evil(&self) -> String {
        let p = self.pwned();
        format!("x$(touch {p}) `touch {p}`; touch {p} #")
    }

    pub fn assert_not_pwned(&self, what: &str) -> Result<()> {
        if self.pwned().exists() {
            bail!(
                "{what}: a value from /secrets was run as a command ({} exists)",
                self.pwned()
            );
        }
        Ok(())
    }

    /// A fake program in bin/ (put first on PATH by `command`).
    pub fn fake(&self, name: &str, script: &str) -> Result<()> {
        self.write_exec(&self.dir.join("bin").join(name), script)
    }

    pub fn write_exec(&self, path: &Utf8Path, script: &str) -> Result<()> {
        std::fs::write(path, script).with_context(|| format!("writing {path}"))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod {path}"))
    }

    /// `bash SCRIPT` with a clean environment: PATH (fakes first), FAKE_DIR,
    /// and `env`.
    pub fn command(&self, script: &Utf8Path, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(script.as_str())
            .env_clear()
            .env(
                "PATH",
                format!("{}/bin:/usr/sbin:/usr/bin:/sbin:/bin", self.dir),
            )
            .env("FAKE_DIR", self.dir.as_str())
            .envs(env.iter().copied())
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .process_group(0);
        cmd
    }

    /// Runs to completion (at most `limit`), returning status and stderr.
    pub fn run(&self, mut cmd: Command, limit: Duration) -> Result<(ExitStatus, String)> {
        let stderr = self.dir.join("stderr");
        let file = std::fs::File::create(&stderr).with_context(|| format!("creating {stderr}"))?;
        let child = cmd
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .context("starting bash")?;
        let mut proc = Proc { child };
        let status = proc.wait(limit)?;
        let text = std::fs::read_to_string(&stderr).unwrap_or_default();
        match status {
            Some(status) => Ok((status, text)),
            None => bail!("did not finish within {limit:?}; stderr:\n{text}"),
        }
    }

    /// NUL-separated arguments a fake recorded with `printf '%s\0' "$@"`.
    pub fn recorded_args(&self, file: &str) -> Result<Vec<String>> {
        let path = self.dir.join(file);
        let data = std::fs::read(&path).with_context(|| format!("{path} was not written"))?;
        Ok(data
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect())
    }
}

/// A child in its own process group; dropping it kills the whole group.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Result<Proc> {
        cmd.process_group(0);
        Ok(Proc {
            child: cmd.spawn().context("starting a child process")?,
        })
    }

    /// The exit status, or None if still running after `limit`.
    pub fn wait(&mut self, limit: Duration) -> Result<Option<ExitStatus>> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().context("waiting for a child")? {
                return Ok(Some(status));
            }
            if start.elapsed() > limit {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM to the process itself (not its group), as systemd's
    /// KillMode=mixed does.
    pub fn terminate(&self) -> Result<()> {
        signal("-TERM", &self.child.id().to_string())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = signal("-KILL", &format!("-{}", self.child.id()));
        let _ = self.child.wait();
    }
}

/// bash's builtin kill: no dependency on procps's /usr/bin/kill.
fn signal(sig: &str, target: &str) -> Result<()> {
    let status = Command::new("bash")
        .args(["-c", r#"kill "$1" -- "$2""#, "kill", sig, target])
        .stderr(Stdio::null())
        .status()
        .context("running kill")?;
    if !status.success() && sig != "-KILL" {
        bail!("kill {sig} {target} failed");
    }
    Ok(())
}

/// Polls `check` until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}
