//! The few facts we need from a git repository, asked of the `git` CLI.
//!
//! The CLI (rather than a library) honours the user's own configuration:
//! `url.<base>.insteadOf` rewrites, `safe.directory`, worktrees.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A failed git invocation: what was run and what git said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{command}` failed: {message}")]
pub struct GitError {
    pub command: String,
    pub message: String,
}

/// Whether the environment variable `name` is a node setting of
/// `build-stick` (`K3S_*`, `LOGEXPORT_*`, `HEARTBEAT_URL`, `NODE_HOSTNAME`,
/// `SSH_KEY_PATH`, `IGN_PATH`). Those hold the node's secrets, and git
/// runs hooks, filters and credential helpers from the repository and the
/// user's configuration: none of them gets to see the values.
pub fn is_node_setting(name: &str) -> bool {
    const PREFIXES: [&str; 2] = ["K3S_", "LOGEXPORT_"];
    const NAMES: [&str; 4] = ["HEARTBEAT_URL", "NODE_HOSTNAME", "SSH_KEY_PATH", "IGN_PATH"];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

/// Runs `git -C dir ARGS`: `Ok(Ok(stdout))` on success, `Ok(Err(stderr))`
/// when git answers with a non-zero exit (often just "no"), `Err` when git
/// cannot be run at all.
fn run(dir: &Path, args: &[&str]) -> Result<Result<String, String>, GitError> {
    let mut command = Command::new("git");
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_node_setting) {
            command.env_remove(&name);
        }
    }
    let output = command
        .arg("-C")
        .arg(dir)
        .args(args)
        // Messages we pass on must not depend on the user's locale, and a
        // file name with `*` or `:` must not be read as pathspec magic.
        .env("LC_ALL", "C")
        .env("GIT_LITERAL_PATHSPECS", "1")
        .output()
        .map_err(|e| GitError {
            command: format!("git {}", args.join(" ")),
            message: format!("cannot run git: {e}"),
        })?;
    // git may quote a remote URL in a message; its credentials stay out.
    let text =
        |bytes: &[u8]| super::remote::redact_in_text(String::from_utf8_lossy(bytes).trim_end());
    Ok(if output.status.success() {
        Ok(text(&output.stdout))
    } else {
        Err(text(&output.stderr))
    })
}

/// A question to git: `None` when it exits non-zero.
fn git(dir: &Path, args: &[&str]) -> Result<Option<String>, GitError> {
    Ok(run(dir, args)?.ok())
}

/// A command that must succeed.
fn git_required(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    run(dir, args)?.map_err(|message| GitError {
        command: format!("git {}", args.join(" ")),
        message,
    })
}

pub struct Repo {
    /// The directory git commands run in.
    dir: PathBuf,
    pub toplevel: PathBuf,
}

impl Repo {
    /// The work tree containing `dir`.
    pub fn open(dir: &Path) -> Result<Repo, GitError> {
        let toplevel = git_required(dir, &["rev-parse", "--show-toplevel"])?;
        Ok(Repo {
            dir: dir.to_path_buf(),
            toplevel: PathBuf::from(toplevel),
        })
    }

    /// The URL of `remote` after git's `insteadOf` rewriting, if it exists.
    pub fn remote_url(&self, remote: &str) -> Result<Option<String>, GitError> {
        git(&self.dir, &["remote", "get-url", "--", remote])
    }

    /// The checked-out branch, `None` on a detached HEAD.
    pub fn current_branch(&self) -> Result<Option<String>, GitError> {
        git(&self.dir, &["symbolic-ref", "--quiet", "--short", "HEAD"])
    }

    /// The commit HEAD points at, `None` before the first commit.
    pub fn head_commit(&self) -> Result<Option<String>, GitError> {
        git(
            &self.dir,
            &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        )
    }

    /// The branch name on `remote` that `branch` tracks, if it tracks one there.
    pub fn upstream_branch(&self, branch: &str, remote: &str) -> Result<Option<String>, GitError> {
        let refname = format!("refs/heads/{branch}");
        let out = git(
            &self.dir,
            &[
                "for-each-ref",
                "--format=%(upstream:remotename)%00%(upstream)",
                &refname,
            ],
        )?;
        let Some(out) = out else { return Ok(None) };
        let Some((upstream_remote, upstream_ref)) = out.split_once('\0') else {
            return Ok(None);
        };
        if upstream_remote != remote {
            return Ok(None);
        }
        Ok(upstream_ref
            .strip_prefix(&format!("refs/remotes/{remote}/"))
            .map(str::to_string))
    }

    /// Whether `commit` is contained in `refs/remotes/<remote>/<branch>`.
    pub fn is_on_remote_branch(
        &self,
        commit: &str,
        remote: &str,
        branch: &str,
    ) -> Result<bool, GitError> {
        let tracking = format!("refs/remotes/{remote}/{branch}");
        if git(&self.dir, &["rev-parse", "--verify", "--quiet", &tracking])?.is_none() {
            return Ok(false);
        }
        Ok(git(
            &self.dir,
            &["merge-base", "--is-ancestor", commit, &tracking],
        )?
        .is_some())
    }

    /// Whether `commit` is contained in any remote-tracking branch of `remote`.
    pub fn is_on_any_remote_branch(&self, commit: &str, remote: &str) -> Result<bool, GitError> {
        let pattern = format!("refs/remotes/{remote}/");
        let out = git(
            &self.dir,
            &[
                "for-each-ref",
                "--format=%(refname)",
                "--contains",
                commit,
                &pattern,
            ],
        )?;
        Ok(out.is_some_and(|o| !o.trim().is_empty()))
    }

    /// Whether `path` (relative to the top level) differs from HEAD in the
    /// index or work tree, or is not tracked at all.
    pub fn is_dirty(&self, path: &str) -> Result<bool, GitError> {
        let out = git_required(
            &self.toplevel,
            &["status", "--porcelain", "--untracked-files=all", "--", path],
        )?;
        Ok(!out.trim().is_empty())
    }

    /// The blob id of `path` at `rev`, if it exists there.
    pub fn blob_id(&self, rev: &str, path: &str) -> Result<Option<String>, GitError> {
        let spec = format!("{rev}:{path}");
        git(&self.toplevel, &["rev-parse", "--verify", "--quiet", &spec])
    }

    /// The bytes of `path` at `rev`, if it exists there (unchanged: `run`
    /// would trim and re-encode them).
    pub fn blob(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let spec = format!("{rev}:{path}");
        if self.blob_id(rev, path)?.is_none() {
            return Ok(None);
        }
        let output = Command::new("git")
            .arg("-C")
            .arg(&self.toplevel)
            .args(["cat-file", "blob", &spec])
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| GitError {
                command: format!("git cat-file blob {spec}"),
                message: format!("cannot run git: {e}"),
            })?;
        if !output.status.success() {
            return Err(GitError {
                command: format!("git cat-file blob {spec}"),
                message: String::from_utf8_lossy(&output.stderr)
                    .trim_end()
                    .to_string(),
            });
        }
        Ok(Some(output.stdout))
    }

    /// Whether `path` exists in the commit `commit`.
    pub fn exists_in_commit(&self, commit: &str, path: &str) -> Result<bool, GitError> {
        let spec = format!("{commit}:{path}");
        Ok(git(&self.toplevel, &["cat-file", "-e", &spec])?.is_some())
    }
}
