//! `ephemeros inspect` on sticks built by hand with hostile contents: an
//! old stick's manifest with a git token, terminal control sequences.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use ephemeros_node::manifest::{self, ConfigRef, Flatcar, Manifest};
use ephemeros_node::secrets::Secrets;
use ephemeros_stick::image::EfiArch;
use ephemeros_stick::layout::Layout;
use ephemeros_stick::StickSpec;

const BIN: &str = env!("CARGO_BIN_EXE_ephemeros");

/// What the crafted stick holds; every string lands in its files as given.
struct Crafted<'a> {
    repository: &'a str,
    ignition_url: &'a str,
    hostname_detail: &'a str,
    boot_script: &'a str,
    file_name: &'a str,
    file_content: &'a [u8],
}

fn build(c: &Crafted) -> tempfile::NamedTempFile {
    let settings: BTreeMap<String, String> = [("K3S_DATASTORE_ENDPOINT", "")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0vJ1abc me@host";
    let (mut secrets, _) = Secrets::from_settings(&settings, vec![key.into()]).unwrap();
    // A k3s stick carries its node password (inspect reports its absence).
    secrets.k3s_node_password =
        Some(ephemeros_node::node_password::NodePassword::generate().unwrap());
    let mut components = manifest::components(&secrets);
    components.insert(
        "hostname".into(),
        manifest::Component {
            enabled: true,
            detail: Some(c.hostname_detail.into()),
        },
    );
    let m = Manifest {
        format: manifest::FORMAT,
        tool: "ephemeros".into(),
        tool_version: "0.1.0".into(),
        built_at: "2026-11-22T05:29:52Z".into(),
        config: Some(ConfigRef {
            repository: c.repository.into(),
            git_ref: "main".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            dirty: false,
            path_in_repo: "ignition.ign".into(),
        }),
        ignition_url: c.ignition_url.into(),
        flatcar: Flatcar {
            channel: "stable".into(),
            release: "current".into(),
            arch: "amd64".into(),
            base_url: None,
        },
        components,
    };
    let mut files = secrets.files().unwrap();
    files.push(("hostname".into(), b"node1\n".to_vec()));
    files.push(("reproduce.sh".into(), b"#!/bin/sh\n".to_vec()));
    files.push((c.file_name.into(), c.file_content.to_vec()));
    let ipxe = ephemeros_stick::ipxe_efi::fake_binary(EfiArch::X64, b"..autoexec.ipxe..");
    let manifest_json = m.to_json();
    let spec = StickSpec {
        layout: Layout::default(),
        arch: EfiArch::X64,
        ipxe_efi: &ipxe,
        boot_script: c.boot_script,
        manifest_json: &manifest_json,
        secret_files: &files,
        build_time: 1_795_325_392,
    };
    let disk = ephemeros_stick::build(&spec, Layout::default().min_disk_size()).unwrap();
    let image = tempfile::NamedTempFile::new().unwrap();
    ephemeros_stick::target::write_image_file(image.path(), &disk).unwrap();
    image
}

fn inspect(image: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("inspect")
        .arg(image)
        .args(extra)
        .env_clear()
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const PLAIN: Crafted<'static> = Crafted {
    repository: "https://github.com/example/cluster.git",
    ignition_url: "https://raw.githubusercontent.com/example/cluster/main/ignition.ign",
    hostname_detail: "node1",
    boot_script: "#!ipxe\necho hello\n",
    file_name: "notes",
    file_content: b"x",
};

#[test]
fn an_old_manifest_with_a_git_token_shows_it_only_with_show_secrets() {
    let image = build(&Crafted {
        repository: "https://ghp_OLDTOKEN:x-oauth-basic@github.com/example/cluster.git",
        ignition_url: "https://OLDTOKEN2@example.org/ignition.ign",
        boot_script: "#!ipxe\nchain https://u:OLDTOKEN3@example.org/x\n",
        ..PLAIN
    });
    for args in [&[][..], &["--json"]] {
        let out = inspect(image.path(), args);
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        assert!(!t.contains("OLDTOKEN"), "{t}");
        assert!(t.contains("github.com/example/cluster.git"), "{t}");
    }
    let t = text(&inspect(image.path(), &["--show-secrets"]));
    assert!(t.contains("ghp_OLDTOKEN"), "{t}");
}

#[test]
fn a_malformed_env_file_on_a_stick_is_reported_without_its_value() {
    for sep in ["\"", "'", ",", ";", ":", " ", ""] {
        for tail in ["\n", "=x\n", "\"\n"] {
            let content = format!("HEARTBEAT_URL{sep}https://hc.example/K10SECRET{tail}");
            let image = build(&Crafted {
                file_name: "heartbeat_env",
                file_content: content.as_bytes(),
                ..PLAIN
            });
            for args in [&[][..], &["--json"]] {
                let t = text(&inspect(image.path(), args));
                assert!(t.contains("secrets/heartbeat_env:1:"), "{content:?}: {t}");
                assert!(!t.contains("K10SECRET"), "{content:?} leaked: {t}");
            }
        }
    }
}

/// Bytes a terminal acts on: C0 controls but the line feed, DEL, and C1
/// controls (as UTF-8, U+0080..U+009F), plus bidi overrides.
fn terminal_controls(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    text.char_indices()
        .filter(|(_, c)| (c.is_control() && *c != '\n') || ('\u{202a}'..='\u{202e}').contains(c))
        .map(|(i, c)| format!("U+{:04X} at {i}", c as u32))
        .collect()
}

#[test]
fn control_sequences_on_a_crafted_stick_never_reach_the_terminal() {
    let evil = "\x1b]0;owned\x07\x1b[2J\r\u{9b}31m\x7f\u{202e}";
    let hostname = format!("node{evil}");
    let script = format!("#!ipxe\necho {evil}\n");
    let repository = format!("https://github.com/example/{evil}.git");
    let image = build(&Crafted {
        repository: &repository,
        ignition_url: &repository,
        hostname_detail: &hostname,
        boot_script: &script,
        file_name: "notes",
        file_content: evil.as_bytes(),
    });
    for args in [
        &[][..],
        &["--json"],
        &["--show-secrets"],
        &["--json", "--show-secrets"],
    ] {
        let out = inspect(image.path(), args);
        assert!(!out.stdout.is_empty(), "{args:?}: {}", text(&out));
        let bad = terminal_controls(&out.stdout);
        assert!(bad.is_empty(), "{args:?}: {bad:?} in\n{}", text(&out));
        if args.contains(&"--json") {
            // Still JSON, and the values survive the escaping exactly.
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["manifest"]["components"]["hostname"]["detail"], hostname);
        } else {
            assert!(text(&out).contains("node\\u{1b}]0;owned"), "{}", text(&out));
        }
    }
}
