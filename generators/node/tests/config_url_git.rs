//! config_url::resolve against real git repositories in temporary directories.

use std::path::{Path, PathBuf};
use std::process::Command;

use ephemeros_node::config_url::{resolve, Forge, ResolveError, ResolveOptions};

struct Repo {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A repository on branch `main` with origin `remote` and one commit
/// holding `file` (a path that may have directories).
fn repo_with(remote: Option<&str>, file: &str) -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    git(&path, &["init", "-q", "-b", "main"]);
    if let Some(remote) = remote {
        git(&path, &["remote", "add", "origin", remote]);
    }
    let full = path.join(file);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(&full, "{\"ignition\":{\"version\":\"3.3.0\"}}\n").unwrap();
    git(&path, &["add", "."]);
    git(&path, &["commit", "-q", "-m", "init"]);
    Repo { _dir: dir, path }
}

fn opts(dir: &Path) -> ResolveOptions {
    ResolveOptions {
        repo_dir: dir.to_path_buf(),
        ..ResolveOptions::default()
    }
}

/// Pretend the last fetch saw the current HEAD on origin/<branch>.
fn mark_pushed(repo: &Repo, branch: &str) {
    git(
        &repo.path,
        &[
            "update-ref",
            &format!("refs/remotes/origin/{branch}"),
            "HEAD",
        ],
    );
}

#[test]
fn github_branch_pushed_and_clean() {
    let repo = repo_with(Some("git@github.com:acme/fleet.git"), "ignition.ign");
    mark_pushed(&repo, "main");
    let src = resolve(&opts(&repo.path)).unwrap();
    assert_eq!(
        src.url,
        "https://raw.githubusercontent.com/acme/fleet/main/ignition.ign"
    );
    assert_eq!(src.git_ref, "main");
    assert_eq!(src.commit, git(&repo.path, &["rev-parse", "HEAD"]));
    assert_eq!(src.path_in_repo, "ignition.ign");
    // Even the ssh user goes: nothing of the userinfo is recorded.
    assert_eq!(src.remote_url, "github.com:acme/fleet.git");
    assert!(!src.dirty);
    assert!(src.on_remote);
    assert!(src.warnings.is_empty(), "{:?}", src.warnings);
}

#[test]
fn unpushed_commit_warns() {
    let repo = repo_with(Some("git@github.com:acme/fleet.git"), "ignition.ign");
    let src = resolve(&opts(&repo.path)).unwrap();
    assert!(!src.on_remote);
    assert_eq!(src.warnings.len(), 1, "{:?}", src.warnings);
    assert!(
        src.warnings[0].contains("is not on origin/main"),
        "{:?}",
        src.warnings
    );

    // Pushed once, then a new local commit: not on the remote again.
    mark_pushed(&repo, "main");
    std::fs::write(repo.path.join("README"), "x").unwrap();
    git(&repo.path, &["add", "README"]);
    git(&repo.path, &["commit", "-q", "-m", "more"]);
    assert!(!resolve(&opts(&repo.path)).unwrap().on_remote);
}

#[test]
fn uncommitted_changes_to_the_file_warn() {
    let repo = repo_with(Some("https://github.com/acme/fleet.git"), "ignition.ign");
    mark_pushed(&repo, "main");
    // A change to another file is no reason to warn.
    std::fs::write(repo.path.join("notes.txt"), "x").unwrap();
    assert!(!resolve(&opts(&repo.path)).unwrap().dirty);

    std::fs::write(repo.path.join("ignition.ign"), "{}\n").unwrap();
    let src = resolve(&opts(&repo.path)).unwrap();
    assert!(src.dirty);
    assert!(
        src.warnings
            .iter()
            .any(|w| w.contains("ignition.ign has uncommitted changes")),
        "{:?}",
        src.warnings
    );

    // Staged but not committed is still not what nodes see.
    git(&repo.path, &["add", "ignition.ign"]);
    assert!(resolve(&opts(&repo.path)).unwrap().dirty);
}

#[test]
fn untracked_file_is_dirty() {
    let repo = repo_with(Some("https://github.com/acme/fleet.git"), "README");
    mark_pushed(&repo, "main");
    std::fs::write(repo.path.join("ignition.ign"), "{}\n").unwrap();
    let src = resolve(&opts(&repo.path)).unwrap();
    assert!(src.dirty);
}

#[test]
fn detached_head_needs_pin() {
    let repo = repo_with(Some("git@codeberg.org:acme/fleet.git"), "ignition.ign");
    mark_pushed(&repo, "main");
    let commit = git(&repo.path, &["rev-parse", "HEAD"]);
    git(&repo.path, &["checkout", "-q", "--detach"]);

    let err = resolve(&opts(&repo.path)).unwrap_err();
    assert!(matches!(err, ResolveError::DetachedHead { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("--pin") && msg.contains("--ignition-url"),
        "{msg}"
    );

    let src = resolve(&ResolveOptions {
        pin: true,
        ..opts(&repo.path)
    })
    .unwrap();
    assert_eq!(
        src.url,
        format!("https://codeberg.org/acme/fleet/raw/commit/{commit}/ignition.ign")
    );
    assert_eq!(src.git_ref, commit);
    assert!(src.on_remote, "{:?}", src.warnings);
}

#[test]
fn pinned_commit_not_on_remote_warns() {
    let repo = repo_with(Some("git@gitlab.com:acme/sub/fleet.git"), "ignition.ign");
    let src = resolve(&ResolveOptions {
        pin: true,
        ..opts(&repo.path)
    })
    .unwrap();
    assert!(
        src.url
            .starts_with("https://gitlab.com/acme/sub/fleet/-/raw/"),
        "{}",
        src.url
    );
    assert!(!src.on_remote);
    assert!(
        src.warnings
            .iter()
            .any(|w| w.contains("is not on any branch of remote")),
        "{:?}",
        src.warnings
    );
}

#[test]
fn file_in_a_subdirectory() {
    let repo = repo_with(
        Some("git@github.com:acme/fleet.git"),
        "clusters/home lab/ignition.ign",
    );
    mark_pushed(&repo, "main");
    // From the top level, naming the file by its relative path…
    let src = resolve(&ResolveOptions {
        file: "clusters/home lab/ignition.ign".into(),
        ..opts(&repo.path)
    })
    .unwrap();
    assert_eq!(src.path_in_repo, "clusters/home lab/ignition.ign");
    assert_eq!(
        src.url,
        "https://raw.githubusercontent.com/acme/fleet/main/clusters/home%20lab/ignition.ign"
    );
    // …and from inside the directory.
    let inside = resolve(&opts(&repo.path.join("clusters/home lab"))).unwrap();
    assert_eq!(inside.url, src.url);
}

#[test]
fn upstream_branch_name_on_the_remote_is_used() {
    let repo = repo_with(Some("git@github.com:acme/fleet.git"), "ignition.ign");
    mark_pushed(&repo, "production");
    git(&repo.path, &["checkout", "-q", "-b", "work"]);
    git(
        &repo.path,
        &["branch", "-q", "--set-upstream-to=origin/production"],
    );
    let src = resolve(&opts(&repo.path)).unwrap();
    assert_eq!(src.git_ref, "production");
    assert_eq!(
        src.url,
        "https://raw.githubusercontent.com/acme/fleet/production/ignition.ign"
    );
    assert!(src.on_remote);
}

#[test]
fn other_remote_and_declared_forge() {
    let repo = repo_with(Some("git@github.com:acme/fleet.git"), "ignition.ign");
    git(
        &repo.path,
        &[
            "remote",
            "add",
            "home",
            "ssh://git@forge.home.lan:2222/me/fleet.git",
        ],
    );
    let o = ResolveOptions {
        remote: "home".into(),
        ..opts(&repo.path)
    };
    let err = resolve(&o).unwrap_err().to_string();
    assert!(
        err.contains("forge.home.lan") && err.contains("--forge") && err.contains("--ignition-url"),
        "{err}"
    );
    let src = resolve(&ResolveOptions {
        forge: Some(Forge::Gitea),
        ..o
    })
    .unwrap();
    assert_eq!(
        src.url,
        "https://forge.home.lan/me/fleet/raw/branch/main/ignition.ign"
    );
}

#[test]
fn credentials_are_stripped_from_the_remote_url() {
    for (remote, shown) in [
        (
            "https://bot:s3cret@gitlab.com/acme/fleet.git",
            "https://gitlab.com/acme/fleet.git",
        ),
        (
            "https://s3cret@github.com/acme/fleet.git",
            "https://github.com/acme/fleet.git",
        ),
        (
            "https://s3cret:x-oauth-basic@github.com/acme/fleet",
            "https://github.com/acme/fleet",
        ),
    ] {
        let repo = repo_with(Some(remote), "ignition.ign");
        let src = resolve(&opts(&repo.path)).unwrap();
        assert_eq!(src.remote_url, shown, "{remote}");
        assert!(!format!("{src:?}").contains("s3cret"), "{src:?}");
    }
    // A remote whose credentials make it unusable: the error names the
    // problem, not the credentials.
    for remote in [
        "https://bot:s3/cret@example.com/acme/fleet",
        "https://s3cret@forge.home.lan/acme/fleet",
        "s3cret:x@forge.home.lan:acme/fleet",
    ] {
        let repo = repo_with(Some(remote), "ignition.ign");
        let err = resolve(&opts(&repo.path)).unwrap_err().to_string();
        assert!(!err.contains("s3"), "{remote}: {err}");
        assert!(err.contains("--ignition-url"), "{err}");
    }
}

#[test]
fn errors_name_the_way_out() {
    // No remote at all.
    let repo = repo_with(None, "ignition.ign");
    let err = resolve(&opts(&repo.path)).unwrap_err();
    assert!(matches!(err, ResolveError::NoRemote { .. }), "{err:?}");
    assert!(err.to_string().contains("--ignition-url"));

    // A local-path remote.
    git(
        &repo.path,
        &["remote", "add", "origin", "/srv/git/fleet.git"],
    );
    let err = resolve(&opts(&repo.path)).unwrap_err().to_string();
    assert!(
        err.contains("local path") && err.contains("--ignition-url"),
        "{err}"
    );

    // Not a repository.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("ignition.ign"), "{}").unwrap();
    let err = resolve(&opts(plain.path())).unwrap_err();
    assert!(
        matches!(err, ResolveError::NotARepository { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("--ignition-url"));

    // A directory is not the Ignition file.
    let err = resolve(&ResolveOptions {
        file: ".".into(),
        ..opts(&repo.path)
    })
    .unwrap_err();
    assert!(matches!(err, ResolveError::NotAFile { .. }), "{err:?}");

    // The file does not exist.
    let repo = repo_with(Some("git@github.com:acme/fleet.git"), "README");
    let err = resolve(&opts(&repo.path)).unwrap_err();
    assert!(matches!(err, ResolveError::FileMissing { .. }), "{err:?}");
}

#[test]
fn repository_without_commits() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(
        dir.path(),
        &["remote", "add", "origin", "git@github.com:acme/fleet.git"],
    );
    std::fs::write(dir.path().join("ignition.ign"), "{}").unwrap();
    let err = resolve(&opts(dir.path())).unwrap_err();
    assert!(matches!(err, ResolveError::NoCommit { .. }), "{err:?}");
    assert!(err.to_string().contains("--ignition-url"));
}

#[test]
fn insteadof_rewrites_are_honoured() {
    let repo = repo_with(Some("gh:acme/fleet"), "ignition.ign");
    git(
        &repo.path,
        &["config", "url.git@github.com:.insteadOf", "gh:"],
    );
    let src = resolve(&opts(&repo.path)).unwrap();
    assert_eq!(
        src.url,
        "https://raw.githubusercontent.com/acme/fleet/main/ignition.ign"
    );
}

#[test]
fn file_names_are_not_pathspec_patterns() {
    // With pathspec globbing, `ignition*.ign` would also match the dirty
    // `ignition-old.ign` and report a clean file as dirty.
    let repo = repo_with(Some("git@github.com:acme/fleet.git"), "ignition*.ign");
    mark_pushed(&repo, "main");
    std::fs::write(repo.path.join("ignition-old.ign"), "{}").unwrap();
    let src = resolve(&ResolveOptions {
        file: "ignition*.ign".into(),
        ..opts(&repo.path)
    })
    .unwrap();
    assert!(!src.dirty, "{:?}", src.warnings);
    assert_eq!(
        src.url,
        "https://raw.githubusercontent.com/acme/fleet/main/ignition%2A.ign"
    );
}

#[test]
fn remote_branch_with_a_newer_file_warns() {
    let repo = repo_with(Some("git@github.com:acme/fleet.git"), "ignition.ign");
    let old = git(&repo.path, &["rev-parse", "HEAD"]);
    std::fs::write(repo.path.join("ignition.ign"), "{}\n").unwrap();
    git(&repo.path, &["commit", "-q", "-am", "newer config"]);
    mark_pushed(&repo, "main");
    // Back to the older commit on main: it is on origin/main, but the file there differs.
    git(&repo.path, &["reset", "-q", "--hard", &old]);
    let src = resolve(&opts(&repo.path)).unwrap();
    assert!(src.on_remote);
    assert!(
        src.warnings
            .iter()
            .any(|w| w.contains("origin/main has a newer ignition.ign")),
        "{:?}",
        src.warnings
    );
}
