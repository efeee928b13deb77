//! The public raw-file URL of `ignition.ign`, derived from a git remote.
//!
//! Nodes fetch their Ignition config from the forge hosting this repository.
//! By default the URL names the current branch, so a node picks up whatever
//! was pushed when it reboots; with `pin` it names the commit instead.
//!
//! Every error ends with the way out: `--ignition-url` (`IGN_PATH`).

pub mod forge;
mod git;
pub mod remote;

use std::path::{Path, PathBuf};

pub use forge::{raw_url, Forge, Ref};
pub use git::{is_node_setting, GitError};
pub use remote::{ParseRemoteError, Remote};

/// What to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOptions {
    /// A directory inside the repository's work tree.
    pub repo_dir: PathBuf,
    /// The remote nodes fetch from, `origin` by default.
    pub remote: String,
    /// Name the commit instead of the branch.
    pub pin: bool,
    /// The Ignition file, relative to `repo_dir` (or absolute).
    pub file: String,
    /// The forge, when the remote's host is not one we recognise.
    pub forge: Option<Forge>,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions {
            repo_dir: PathBuf::from("."),
            remote: "origin".to_string(),
            pin: false,
            file: "ignition.ign".to_string(),
            forge: None,
        }
    }
}

/// The resolved URL and the facts behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSource {
    pub url: String,
    /// The remote's URL without userinfo (no user, password or token).
    pub remote_url: String,
    /// The branch (on the remote) or the commit the URL names.
    pub git_ref: String,
    /// The commit HEAD points at.
    pub commit: String,
    /// The Ignition file has uncommitted changes (or is untracked).
    pub dirty: bool,
    /// HEAD is on the remote-tracking branch (as of the last fetch), so the
    /// URL serves what is committed here.
    pub on_remote: bool,
    /// Path of the Ignition file inside the repository, `/`-separated.
    pub path_in_repo: String,
    /// Human-readable warnings (dirty file, commit not pushed, …).
    pub warnings: Vec<String>,
    /// The Ignition file as nodes get it: its bytes at the remote branch
    /// (or, with `pin`, at the commit once it is on the remote), as of the
    /// last fetch; `None` when it is not there, and nodes would get 404.
    pub served: Option<Vec<u8>>,
    /// Where `served` was read, e.g. `origin/main`.
    pub served_from: String,
}

const WAY_OUT: &str = "give the config URL with --ignition-url (or IGN_PATH)";

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{} is not inside a git work tree ({git}); {WAY_OUT}", dir.display())]
    NotARepository { dir: PathBuf, git: GitError },
    #[error("the repository has no remote named {remote:?}; add one (git remote add {remote} URL), pick another with --remote, or {WAY_OUT}")]
    NoRemote { remote: String },
    #[error("cannot derive a public URL from remote {remote:?} ({url}): {problem}; {WAY_OUT}")]
    BadRemote {
        remote: String,
        url: String,
        problem: String,
    },
    #[error("remote {remote:?} is on {host}, a host whose forge is not known; name it with --forge ({forges}), or {WAY_OUT}")]
    UnknownForge {
        remote: String,
        host: String,
        forges: String,
    },
    #[error("HEAD is detached, so there is no branch for nodes to follow; check out a branch, use --pin to name commit {commit}, or {WAY_OUT}")]
    DetachedHead { commit: String },
    #[error("the repository has no commit yet; commit {file} and push it, or {WAY_OUT}")]
    NoCommit { file: String },
    #[error("{} does not exist; generate it (ephemeros ignite) and commit it, or {WAY_OUT}", path.display())]
    FileMissing { path: PathBuf },
    #[error("{} is not a file; name the Ignition file itself, or {WAY_OUT}", path.display())]
    NotAFile { path: PathBuf },
    #[error("{} is outside the repository at {}; {WAY_OUT}", path.display(), toplevel.display())]
    FileOutsideRepository { path: PathBuf, toplevel: PathBuf },
    // Not #[from]: that makes the GitError a `source` as well, and `{:#}`
    // would print it twice.
    #[error("{0}; {WAY_OUT}")]
    Git(GitError),
}

impl From<GitError> for ResolveError {
    fn from(err: GitError) -> Self {
        ResolveError::Git(err)
    }
}

/// Works out the raw URL of the Ignition file on the forge behind the remote.
pub fn resolve(opts: &ResolveOptions) -> Result<ConfigSource, ResolveError> {
    let repo = git::Repo::open(&opts.repo_dir).map_err(|git| ResolveError::NotARepository {
        dir: opts
            .repo_dir
            .canonicalize()
            .unwrap_or_else(|_| opts.repo_dir.clone()),
        git,
    })?;
    let path_in_repo = path_in_repo(&opts.repo_dir, &opts.file, &repo.toplevel)?;

    let raw_remote_url = repo
        .remote_url(&opts.remote)?
        .ok_or_else(|| ResolveError::NoRemote {
            remote: opts.remote.clone(),
        })?;
    let remote_url = remote::redact(&raw_remote_url);
    // Checked before anything else so that an unusable remote is reported
    // first; the URL itself is built once the ref is known.
    derive_url(
        &raw_remote_url,
        opts.forge,
        Ref::Branch("main"),
        "ignition.ign",
    )
    .map_err(|e| e.into_resolve_error(&opts.remote, &remote_url))?;

    let commit = repo.head_commit()?.ok_or_else(|| ResolveError::NoCommit {
        file: path_in_repo.clone(),
    })?;
    let branch = repo.current_branch()?;
    let mut warnings = Vec::new();

    let (git_ref, on_remote) = if opts.pin {
        let on_remote = repo.is_on_any_remote_branch(&commit, &opts.remote)?;
        if !on_remote {
            warnings.push(format!(
                "commit {} is not on any branch of remote {:?} (as of the last fetch); push it, or nodes cannot fetch {path_in_repo}",
                short(&commit),
                opts.remote
            ));
        }
        (commit.clone(), on_remote)
    } else {
        let Some(local) = branch else {
            return Err(ResolveError::DetachedHead { commit });
        };
        // The branch on the remote may be named differently (main tracking
        // origin/master); nodes fetch from the remote's name.
        let on_remote_name = repo
            .upstream_branch(&local, &opts.remote)?
            .unwrap_or_else(|| local.clone());
        let on_remote = repo.is_on_remote_branch(&commit, &opts.remote, &on_remote_name)?;
        let tracking = format!("refs/remotes/{}/{on_remote_name}", opts.remote);
        if !on_remote {
            warnings.push(format!(
                "commit {} is not on {}/{on_remote_name} (as of the last fetch); until it is pushed, nodes fetch the {path_in_repo} that is there",
                short(&commit),
                opts.remote
            ));
        } else if repo.blob_id(&tracking, &path_in_repo)? != repo.blob_id(&commit, &path_in_repo)? {
            // HEAD is behind the remote branch, which changed the file since.
            warnings.push(format!(
                "{}/{on_remote_name} has a newer {path_in_repo} than this checkout; nodes fetch that one (pull to see it)",
                opts.remote
            ));
        }
        (on_remote_name, on_remote)
    };

    // What nodes get: the file at the remote branch, or at the pinned
    // commit once that commit is on the remote.
    let (served_rev, served_from) = if opts.pin {
        (
            git_ref.clone(),
            format!("commit {} on remote {:?}", short(&git_ref), opts.remote),
        )
    } else {
        (
            format!("refs/remotes/{}/{git_ref}", opts.remote),
            format!("{}/{git_ref}", opts.remote),
        )
    };
    let served = if opts.pin && !on_remote {
        None
    } else {
        repo.blob(&served_rev, &path_in_repo)?
    };

    let dirty = repo.is_dirty(&path_in_repo)?;
    if dirty {
        warnings.push(format!(
            "{path_in_repo} has uncommitted changes; nodes fetch the committed version, commit and push it"
        ));
    } else if !repo.exists_in_commit(&commit, &path_in_repo)? {
        warnings.push(format!(
            "{path_in_repo} is not in commit {}",
            short(&commit)
        ));
    }

    let git_ref_kind = if opts.pin {
        Ref::Commit(&git_ref)
    } else {
        Ref::Branch(&git_ref)
    };
    let url = derive_url(&raw_remote_url, opts.forge, git_ref_kind, &path_in_repo)
        .map_err(|e| e.into_resolve_error(&opts.remote, &remote_url))?;
    Ok(ConfigSource {
        url,
        remote_url,
        git_ref,
        commit,
        dirty,
        on_remote,
        path_in_repo,
        warnings,
        served,
        served_from,
    })
}

/// Why a remote URL gives no raw-file URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeriveError {
    /// The URL cannot be read, or its path does not fit the forge.
    BadRemote(String),
    /// The host is not a known forge and none was named.
    UnknownForge { host: String },
}

impl DeriveError {
    fn into_resolve_error(self, remote: &str, url: &str) -> ResolveError {
        match self {
            DeriveError::BadRemote(problem) => ResolveError::BadRemote {
                remote: remote.to_string(),
                url: url.to_string(),
                problem,
            },
            DeriveError::UnknownForge { host } => ResolveError::UnknownForge {
                remote: remote.to_string(),
                host,
                forges: Forge::ALL.map(Forge::as_str).join(", "),
            },
        }
    }
}

/// The raw-file URL of `path` at `git_ref` for a remote URL as git spells
/// it; `forge` is needed only when the host is not a well-known one.
pub fn derive_url(
    remote_url: &str,
    forge: Option<Forge>,
    git_ref: Ref<'_>,
    path: &str,
) -> Result<String, DeriveError> {
    let remote = Remote::parse(remote_url).map_err(|e| DeriveError::BadRemote(e.0))?;
    let forge = match forge {
        Some(forge) => forge,
        None => Forge::recognise(&remote.host)
            .map(|(forge, _)| forge)
            .ok_or_else(|| DeriveError::UnknownForge {
                host: remote.host.clone(),
            })?,
    };
    raw_url(forge, &remote, git_ref, path).map_err(DeriveError::BadRemote)
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// `file` (relative to `dir`) as a `/`-separated path below `toplevel`.
fn path_in_repo(dir: &Path, file: &str, toplevel: &Path) -> Result<String, ResolveError> {
    let path = dir.join(file);
    let canonical = path
        .canonicalize()
        .map_err(|_| ResolveError::FileMissing { path: path.clone() })?;
    if !canonical.is_file() {
        return Err(ResolveError::NotAFile { path });
    }
    // git prints the top level with symlinks resolved; resolve ours the same way.
    let toplevel = toplevel
        .canonicalize()
        .unwrap_or_else(|_| toplevel.to_path_buf());
    let relative =
        canonical
            .strip_prefix(&toplevel)
            .map_err(|_| ResolveError::FileOutsideRepository {
                path: canonical.clone(),
                toplevel: toplevel.clone(),
            })?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        return Err(ResolveError::FileMissing { path });
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use crate::error::chain;

    #[test]
    fn a_git_failure_names_its_cause_once() {
        let from_git = super::ResolveError::from(super::GitError {
            command: "git rev-parse".into(),
            message: "boom".into(),
        });
        let text = chain(&from_git);
        assert_eq!(text.matches("boom").count(), 1, "{text}");
    }
}
