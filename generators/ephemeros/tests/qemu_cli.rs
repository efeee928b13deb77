//! `ephemeros qemu`: failures caught before qemu starts, and how a run ends,
//! against a fake qemu that behaves the way real qemu was seen to behave
//! (ephemeros-qemu's `fake` module).

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ephemeros_qemu::fake::FakeQemu;

const BIN: &str = env!("CARGO_BIN_EXE_ephemeros");

/// A free port for the SSH forwarding (the fake never listens on it).
fn free_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port().to_string()
}

fn qemu_with(fake: &FakeQemu, args: &[&str]) -> Output {
    let stick = fake.dir.join("stick.img");
    std::fs::write(&stick, b"stick").unwrap();
    Command::new(BIN)
        .arg("qemu")
        .args(args)
        .args(["--ssh-port", &free_port(), "--qemu"])
        .arg(&fake.qemu)
        .arg("--ovmf-code")
        .arg(&fake.firmware.code)
        .arg("--ovmf-vars")
        .arg(&fake.firmware.vars)
        .arg(&stick)
        .env("TMPDIR", &fake.dir)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_taken_ssh_port_is_named_with_the_way_out() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let fake = FakeQemu::new("cli-port", "abort", "abort");
    // The check comes before qemu and OVMF are looked for: the fake would
    // fail differently (it aborts) if it were started.
    let out = Command::new(BIN)
        .args(["qemu", "--ssh-port", &port, "--qemu"])
        .arg(&fake.qemu)
        .args(["--accel", "tcg", "--timeout", "5", "/dev/null"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}"))
            && err.contains("already in use")
            && err.contains("--ssh-port"),
        "{err}"
    );
    assert_eq!(fake.starts(), 0);
    drop(taken);
}

#[test]
fn printing_the_command_does_not_need_the_port() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let fake = FakeQemu::new("cli-print", "abort", "abort");
    let out = Command::new(BIN)
        .args([
            "qemu",
            "--print-command",
            "--accel",
            "tcg",
            "--ssh-port",
            &port,
        ])
        .arg("--qemu")
        .arg(&fake.qemu)
        .arg("--ovmf-code")
        .arg(&fake.firmware.code)
        .arg("--ovmf-vars")
        .arg(&fake.firmware.vars)
        .arg("/dev/null")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains(&format!("hostfwd=tcp:127.0.0.1:{port}-:22")),
        "{text}"
    );
    drop(taken);
}

#[test]
fn the_printed_command_has_the_accelerator_a_run_would_use() {
    for (accel, expect) in [("kvm", "accel=kvm -cpu host"), ("tcg", "accel=tcg")] {
        let fake = FakeQemu::new(&format!("cli-print-{accel}"), "abort", "abort");
        let out = qemu_with(&fake, &["--print-command", "--accel", accel]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(text.contains(expect), "{accel}: {text}");
    }
    // auto: the probe decides, and says so; the command follows it. The
    // fake dies under KVM, so with or without /dev/kvm here it is TCG.
    let fake = FakeQemu::new("cli-print-auto", "internal-error", "abort");
    let out = qemu_with(&fake, &["--print-command"]);
    let (text, err) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(out.status.success(), "{err}");
    assert!(err.starts_with("accelerator: tcg ("), "{err}");
    assert!(text.contains("accel=tcg"), "{text}");
}

#[test]
fn forced_kvm_that_dies_is_a_clear_error_not_a_hang() {
    let fake = FakeQemu::new("cli-forced-kvm", "internal-error", "poweroff");
    let started = Instant::now();
    let out = qemu_with(&fake, &["--accel", "kvm"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("KVM internal error"), "{err}");
    assert!(err.contains("--accel tcg"), "{err}");
    // The register dump that follows qemu's first line stays off the terminal.
    assert!(!err.contains("RAX="), "{err}");
    assert_eq!(fake.starts(), 1);
    // No --timeout: without the watch this would never end.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_guest_that_powers_off_exits_zero_and_says_so() {
    let fake = FakeQemu::new("cli-poweroff", "abort", "poweroff");
    let out = qemu_with(&fake, &["--accel", "tcg"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("the guest powered off or rebooted by itself"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("fake firmware on tcg"));
}

#[test]
fn quitting_is_not_reported_as_the_guest_ending() {
    let fake = FakeQemu::new("cli-quit", "abort", "quit");
    let out = qemu_with(&fake, &["--accel", "tcg"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("the guest"), "{err}");
}

#[test]
fn a_boot_script_that_gave_up_exits_three_and_says_why() {
    let fake = FakeQemu::new("cli-giveup", "internal-error", "giveup");
    let out = qemu_with(&fake, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let said: Vec<&str> = err.lines().filter(|l| l.contains("gave up")).collect();
    assert_eq!(
        said,
        ["the guest stopped after the boot script gave up (ephemeros: giving up: could not download the kernel (fake))"],
        "{err}"
    );
    // The scratch directory (probe, console copy) is gone.
    let left: Vec<_> = std::fs::read_dir(&fake.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ephemeros-qemu-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_timeout_exits_124() {
    let fake = FakeQemu::new("cli-timeout", "abort", "console");
    let out = qemu_with(&fake, &["--accel", "tcg", "--timeout", "1"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(124), "{err}");
    assert!(err.contains("(--timeout)"), "{err}");
}

const TEST_CA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../qemu/tests/fixtures/test-ca.pem"
);

#[test]
fn a_bad_trust_ca_file_is_named_before_qemu_starts() {
    let fake = FakeQemu::new("cli-trust-bad", "abort", "poweroff");
    let bad = fake.dir.join("not-a-cert.pem");
    std::fs::write(&bad, "hello\n").unwrap();
    let out = qemu_with(
        &fake,
        &["--accel", "tcg", "--trust-ca", bad.to_str().unwrap()],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("--trust-ca: {}: no certificate", bad.display())),
        "{err}"
    );
    assert_eq!(fake.starts(), 0);
}

#[test]
fn trusted_cas_reach_qemu_as_the_firmware_list() {
    let der = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../qemu/tests/fixtures/test-ca.der"
    ))
    .unwrap();
    // A run: qemu gets the list from the run's scratch directory.
    let fake = FakeQemu::new("cli-trust-run", "abort", "poweroff");
    let out = qemu_with(&fake, &["--accel", "tcg", "--trust-ca", TEST_CA]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let args = fake.args();
    let (_, after) = args
        .split_once("-fw_cfg name=etc/edk2/https/cacerts,file=")
        .unwrap_or_else(|| panic!("no -fw_cfg in {args}"));
    let list = after.split_whitespace().next().unwrap();
    assert!(list.ends_with("/cacerts.esl"), "{list}");

    // A printed command names a list that is still there afterwards,
    // holding the certificate.
    let fake = FakeQemu::new("cli-trust-print", "abort", "abort");
    let out = qemu_with(
        &fake,
        &["--print-command", "--accel", "tcg", "--trust-ca", TEST_CA],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, after) = text
        .split_once("-fw_cfg name=etc/edk2/https/cacerts,file=")
        .unwrap_or_else(|| panic!("no -fw_cfg in {text}"));
    let kept = std::path::PathBuf::from(after.trim_end());
    assert!(kept.starts_with(&fake.dir), "{}", kept.display());
    let bytes = std::fs::read(&kept).unwrap();
    assert_eq!(bytes.len(), 44 + der.len());
    assert!(bytes.ends_with(&der));
    assert!(stderr(&out).contains("kept for the printed command"));
}

#[test]
fn an_ecdsa_ca_is_taken_with_a_warning() {
    let ec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../qemu/tests/fixtures/test-ec-ca.pem"
    );
    let fake = FakeQemu::new("cli-trust-ec", "abort", "abort");
    let out = qemu_with(
        &fake,
        &["--print-command", "--accel", "tcg", "--trust-ca", ec],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("warning: --trust-ca {ec}: an ECDSA")),
        "{err}"
    );
    let rsa = qemu_with(
        &fake,
        &["--print-command", "--accel", "tcg", "--trust-ca", TEST_CA],
    );
    assert!(!stderr(&rsa).contains("ECDSA"), "{}", stderr(&rsa));
}
