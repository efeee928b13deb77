//! Shared by the integration tests: a complete sample stick and helpers to
//! run real tools on it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ephemeros_node::manifest::{self, ConfigRef, Flatcar, Manifest};
use ephemeros_node::node_password::NodePassword;
use ephemeros_node::secrets::Secrets;
use ephemeros_stick::image::EfiArch;
use ephemeros_stick::layout::Layout;
use ephemeros_stick::{ipxe_efi, StickSpec};

pub const TOKEN: &str = "K10-distinctive-token-$`\"\\'-7f3a9";
pub const BOOT_SCRIPT: &str =
    "#!ipxe\necho sample boot script\nchain http://10.0.2.2:8080/vmlinuz\n";

pub fn sample_secrets() -> Secrets {
    let settings: BTreeMap<String, String> = [
        ("NODE_HOSTNAME", "node1"),
        ("LOGEXPORT_HOST", "logs.example.com"),
        ("LOGEXPORT_PORT", "6514"),
        ("HEARTBEAT_URL", "https://hc.example/ping/5e1f"),
        ("K3S_DATASTORE_ENDPOINT", ""),
        ("K3S_TOKEN", TOKEN),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut secrets = Secrets::from_settings(
        &settings,
        vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0vJ1abc me@host".into()],
    )
    .unwrap()
    .0;
    secrets.k3s_node_password =
        Some(NodePassword::parse(NODE_PASSWORD.as_bytes(), "sample").unwrap());
    secrets
}

/// A fixed node password (generated ones differ on every build).
pub const NODE_PASSWORD: &str = "5e1f0c2a9b7d4e6f8a1c3b5d7e9f0a2c";

pub fn sample_manifest(secrets: &Secrets) -> Manifest {
    Manifest {
        format: manifest::FORMAT,
        tool: "ephemeros".into(),
        tool_version: "0.1.0".into(),
        built_at: "2026-11-22T05:29:52Z".into(),
        config: Some(ConfigRef {
            repository: "https://github.com/example/cluster.git".into(),
            git_ref: "main".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            dirty: false,
            path_in_repo: "ignition.ign".into(),
        }),
        ignition_url: "https://raw.githubusercontent.com/example/cluster/main/ignition.ign".into(),
        flatcar: Flatcar {
            channel: "stable".into(),
            release: "current".into(),
            arch: "amd64".into(),
            base_url: None,
        },
        components: manifest::components(secrets),
    }
}

/// A fake iPXE: valid PE header, the autoexec marker, and 300 KiB of
/// non-zero filler so that file data spans many clusters.
pub fn fake_ipxe() -> Vec<u8> {
    let mut payload: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8 | 1).collect();
    payload.extend_from_slice(b"autoexec.ipxe");
    ipxe_efi::fake_binary(EfiArch::X64, &payload)
}

/// Builds the sample stick into an image file of `size` bytes.
pub fn build_image(path: &Path, size: Option<u64>) -> PathBuf {
    build_image_sized(path, &sample_secrets(), size)
}

/// The sample stick with other secrets.
pub fn build_image_with(path: &Path, secrets: &Secrets) -> PathBuf {
    build_image_sized(path, secrets, None)
}

fn build_image_sized(path: &Path, secrets: &Secrets, size: Option<u64>) -> PathBuf {
    let mut files = secrets.files().unwrap();
    // build-stick always adds it; inspect checks for it.
    files.push((
        "reproduce.sh".to_owned(),
        b"#!/bin/sh\nexec ephemeros build-stick \"$@\"\n".to_vec(),
    ));
    let layout = Layout::default();
    let size = size.unwrap_or(layout.min_disk_size());
    let disk = with_spec_for(secrets, layout, &files, |spec| {
        ephemeros_stick::build(spec, size)
    })
    .unwrap();
    ephemeros_stick::target::write_image_file(path, &disk).unwrap();
    path.to_owned()
}

/// The sample stick's spec (the sample manifest, fake iPXE, the sample boot
/// script, a fixed build time) with `layout` and `secret_files`, handed to `f`.
pub fn with_spec<R>(
    layout: Layout,
    secret_files: &[(String, Vec<u8>)],
    f: impl FnOnce(&StickSpec) -> R,
) -> R {
    with_spec_for(&sample_secrets(), layout, secret_files, f)
}

/// [`with_spec`] with the manifest of `secrets`.
pub fn with_spec_for<R>(
    secrets: &Secrets,
    layout: Layout,
    secret_files: &[(String, Vec<u8>)],
    f: impl FnOnce(&StickSpec) -> R,
) -> R {
    let manifest_json = sample_manifest(secrets).to_json();
    let ipxe = fake_ipxe();
    f(&StickSpec {
        layout,
        arch: EfiArch::X64,
        ipxe_efi: &ipxe,
        boot_script: BOOT_SCRIPT,
        manifest_json: &manifest_json,
        secret_files,
        build_time: 1_795_325_392,
    })
}

/// The plan for a stick whose only secret file is a k3s_env holding
/// `secret`, over whatever `file` (a device of `device_size` bytes) holds
/// now, as build-stick plans a device.
pub fn plan_over(
    file: &std::fs::File,
    device_size: u64,
    layout: Layout,
    secret: &[u8],
) -> ephemeros_stick::sparse::SparseDisk {
    let files = vec![("k3s_env".to_owned(), secret.to_vec())];
    let old = ephemeros_stick::device::old_secrets(file, device_size);
    with_spec(layout, &files, |spec| {
        ephemeros_stick::build_over(spec, device_size, &old)
    })
    .unwrap()
}

/// Runs a tool; `None` when it is not installed (outside CI), after saying
/// so loudly. In CI (env CI set) a missing tool fails the test.
pub fn run_tool(program: &str, args: &[&str]) -> Option<Output> {
    match Command::new(program).args(args).output() {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && std::env::var_os("CI").is_none() => {
            eprintln!(
                "\n*** SKIPPED: `{program}` is not installed; install it to run this check ***\n"
            );
            None
        }
        Err(e) => panic!("running {program}: {e}"),
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
