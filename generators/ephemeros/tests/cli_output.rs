//! Commands that print to standard output, when standard output fails: a
//! full disk (/dev/full) or a reader that went away (`| head`). Each must
//! fail with an error, never a panic (exit status 101 and a backtrace hint).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use ephemeros_stick::image::EfiArch;

const BIN: &str = env!("CARGO_BIN_EXE_ephemeros");
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkVb9xQ8eph3m3r0s me@laptop";

/// A scratch directory holding a freshly built stick image.
struct Scratch(PathBuf);

impl Scratch {
    fn with_image(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "ephemeros-cli-output-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ipxe = ephemeros_stick::ipxe_efi::fake_binary(EfiArch::X64, b"..autoexec.ipxe..");
        std::fs::write(dir.join("ipxe.efi"), ipxe).unwrap();
        std::fs::write(dir.join("key.pub"), format!("{KEY}\n")).unwrap();
        // --print-command only checks that the firmware files exist.
        std::fs::write(dir.join("code.fd"), b"code").unwrap();
        std::fs::write(dir.join("vars.fd"), b"vars").unwrap();
        // Never started: --print-command with a forced accelerator probes nothing.
        std::fs::write(dir.join("qemu-system-x86_64"), b"#!/bin/sh\nexit 99\n").unwrap();
        let out = Command::new(BIN)
            .current_dir(&dir)
            .env("HOME", &dir)
            .env("EPHEMEROS_IPXE_EFI", dir.join("ipxe.efi"))
            .env("IGN_PATH", "https://x.example/i.ign")
            .env("SSH_KEY_PATH", "key.pub")
            .args(["build-stick", "a.img"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "build-stick: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_with_stdout(args: &[&str], stdout: Stdio) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn to_dev_full(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    run_with_stdout(args, Stdio::from(full))
}

/// Standard output is a pipe whose reading end is already closed.
fn to_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    run_with_stdout(args, Stdio::from(writer))
}

fn assert_clean_failure(what: &str, out: &Output, expect: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(err.starts_with("error: "), "{what}: {err}");
    assert!(err.contains(expect), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: {err}");
}

fn cases(s: &Scratch) -> Vec<(&'static str, Vec<String>)> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let image = &s.path("a.img");
    vec![
        ("inspect", v(&["inspect", image])),
        ("inspect --json", v(&["inspect", image, "--json"])),
        (
            "qemu --print-command",
            v(&[
                "qemu",
                "--print-command",
                "--accel",
                "tcg",
                "--qemu",
                &s.path("qemu-system-x86_64"),
                "--ovmf-code",
                &s.path("code.fd"),
                "--ovmf-vars",
                &s.path("vars.fd"),
                image,
            ]),
        ),
        ("completions bash", v(&["completions", "bash"])),
        ("completions zsh", v(&["completions", "zsh"])),
        (
            "ipxe",
            v(&["ipxe", "--ignition-url", "https://x.example/i.ign"]),
        ),
        ("ipxe --print-template", v(&["ipxe", "--print-template"])),
    ]
}

#[test]
fn a_full_disk_on_stdout_is_an_error_not_a_panic() {
    let s = Scratch::with_image("full");
    for (what, args) in cases(&s) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = to_dev_full(&args);
        assert_clean_failure(
            what,
            &out,
            "cannot write to standard output: No space left on device",
        );
    }
}

#[test]
fn a_closed_pipe_on_stdout_is_a_short_error_not_a_panic() {
    let s = Scratch::with_image("pipe");
    for (what, args) in cases(&s) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = to_closed_pipe(&args);
        assert_clean_failure(what, &out, "standard output was closed");
    }
}

#[test]
fn the_same_commands_succeed_on_a_working_stdout() {
    // The failure tests above only mean something if these commands do
    // write to stdout when nothing goes wrong.
    let s = Scratch::with_image("ok");
    for (what, args) in cases(&s) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_with_stdout(&args, Stdio::piped());
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "{what}");
    }
}
