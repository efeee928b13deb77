//! The files of the secrets partition for fixed inputs, compared with the
//! reviewed copies in tests/fixtures/ (UPDATE_GOLDEN=1 rewrites them).

mod common;

use std::path::PathBuf;

use common::*;
use ephemeros_node::reproduce::Reproduce;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn check_golden(name: &str, actual: &[u8]) {
    let path = fixture(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    assert!(
        expected == actual,
        "{name} differs from {}:\n--- expected\n{}\n--- actual\n{}",
        path.display(),
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual)
    );
}

#[test]
fn secrets_files_match_the_fixtures() {
    let secrets = sample_secrets();
    for (name, bytes) in secrets.files().unwrap() {
        check_golden(&name, &bytes);
    }
}

#[test]
fn reproduce_sh_matches_the_fixture_and_passes_shellcheck() {
    let secrets = sample_secrets();
    let manifest = sample_manifest(&secrets);
    let script = Reproduce {
        tool_version: "0.1.0",
        built_at: "2026-11-22T05:29:52Z",
        config: manifest.config.as_ref(),
        ignition_url: &manifest.ignition_url,
        settings: &secrets.settings(),
        ssh_keys: &secrets.ssh_keys,
        k3s_node_password: secrets.k3s_node_password.as_ref(),
        args: &[
            "--channel=stable".into(),
            "--console=ttyS0,115200n8".into(),
            "--kernel-arg=quiet loglevel='3'".into(),
        ],
    }
    .render()
    .unwrap();
    check_golden("reproduce.sh", script.as_bytes());
    if let Some(out) = run_tool("shellcheck", &[fixture("reproduce.sh").to_str().unwrap()]) {
        assert!(out.status.success(), "shellcheck:\n{}", text(&out));
    }
}
