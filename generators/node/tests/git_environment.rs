//! git, run to derive the config URL, never sees the node's settings: a
//! fake `git` first on PATH records the environment it was given and hands
//! over to the real one. (Its own test binary: it changes the process
//! environment.)

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use ephemeros_node::config_url::{resolve, ResolveOptions};

fn real_git() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("git"))
        .find(|p| p.is_file())
}

#[test]
fn git_runs_without_the_node_settings() {
    let Some(git) = real_git() else {
        assert!(std::env::var_os("CI").is_none(), "git is not installed");
        eprintln!("*** SKIPPED: git is not installed ***");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let run = |args: &[&str]| {
        let ok = Command::new(&git)
            .arg("-C")
            .arg(&repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    run(&["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("ignition.ign"), "{}\n").unwrap();
    run(&["add", "ignition.ign"]);
    run(&["commit", "-q", "-m", "c"]);
    run(&[
        "remote",
        "add",
        "origin",
        "https://github.com/acme/fleet.git",
    ]);

    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let record = dir.path().join("env.log");
    let fake = bin.join("git");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nenv >> '{}'\necho --- >> '{}'\nexec '{}' \"$@\"\n",
            record.display(),
            record.display(),
            git.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let secrets = [
        ("K3S_TOKEN", "K10-SECRET-token"),
        ("K3S_DATASTORE_ENDPOINT", "postgres://u:SECRET-db@db/k3s"),
        ("K3S_NODE_PASSWORD", "SECRET-node-pw"),
        ("LOGEXPORT_HOST", "SECRET-logs.example.com"),
        ("LOGEXPORT_PORT", "6514"),
        ("HEARTBEAT_URL", "https://hc.example/SECRET-ping"),
        ("NODE_HOSTNAME", "SECRET-node1"),
        ("SSH_KEY_PATH", "/home/me/SECRET.pub"),
        ("IGN_PATH", "https://example.org/SECRET.ign"),
    ];
    let path = std::env::join_paths(
        std::iter::once(bin.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    // SAFETY (edition 2024 wording): this test binary has one test, so
    // nothing else reads the environment while it changes.
    std::env::set_var("PATH", &path);
    for (k, v) in secrets {
        std::env::set_var(k, v);
    }
    std::env::set_var("UNRELATED_SETTING", "kept");

    let src = resolve(&ResolveOptions {
        repo_dir: repo.clone(),
        ..ResolveOptions::default()
    })
    .unwrap();
    assert!(src.url.contains("acme/fleet"), "{}", src.url);

    let log = std::fs::read_to_string(&record).expect("the fake git ran");
    assert!(log.contains("UNRELATED_SETTING=kept"), "{log}");
    for (k, _) in secrets {
        assert!(
            !log.contains(&format!("\n{k}=")) && !log.starts_with(&format!("{k}=")),
            "git saw {k}"
        );
    }
    assert!(!log.contains("SECRET"), "{log}");
}
