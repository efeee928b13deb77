//! `ephemeros qemu` failures that must be caught before qemu starts.

use std::net::TcpListener;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ephemeros");

#[test]
fn a_taken_ssh_port_is_named_with_the_way_out() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    // The check comes before qemu and OVMF are looked for, so any readable
    // file will do as the image. /bin/false and a timeout: without the
    // check, this must fail differently rather than boot anything.
    let out = Command::new(BIN)
        .args(["qemu", "--ssh-port", &port, "--qemu", "/bin/false"])
        .args(["--accel", "tcg", "--timeout", "5", "/dev/null"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}"))
            && err.contains("already in use")
            && err.contains("--ssh-port"),
        "{err}"
    );
    drop(taken);
}

#[test]
fn printing_the_command_does_not_need_the_port() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = std::env::temp_dir().join(format!("ephemeros-qemu-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (code, vars) = (dir.join("code.fd"), dir.join("vars.fd"));
    std::fs::write(&code, b"c").unwrap();
    std::fs::write(&vars, b"v").unwrap();
    let out = Command::new(BIN)
        .args(["qemu", "--print-command", "--ssh-port", &port])
        .args(["--qemu", "/bin/true", "--ovmf-code"])
        .arg(&code)
        .arg("--ovmf-vars")
        .arg(&vars)
        .arg("/dev/null")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("hostfwd=tcp:127.0.0.1:{port}-:22")),
        "{text}"
    );
    drop(taken);
}
