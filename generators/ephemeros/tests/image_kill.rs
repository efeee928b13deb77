//! A killed `build-stick` never leaves the image, or any part of it, under
//! a name the user did not give: real SIGKILL, SIGTERM, SIGINT and SIGHUP
//! sent to the running binary at delays spread over its whole run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ephemeros_stick::image::EfiArch;

const BIN: &str = env!("CARGO_BIN_EXE_ephemeros");
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkVb9xQ8eph3m3r0s me@laptop";
const TOKEN: &str = "K10-KILLTEST-SECRET-5b7e";
const IMAGE: &str = "node.img";
const INPUTS: [&str; 3] = ["key.pub", "ipxe.efi", "home"];

fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("home")).unwrap();
    // Large enough that writing the image takes a while.
    let mut payload: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8 | 1).collect();
    payload.extend_from_slice(b"autoexec.ipxe");
    let ipxe = ephemeros_stick::ipxe_efi::fake_binary(EfiArch::X64, &payload);
    std::fs::write(dir.path().join("ipxe.efi"), ipxe).unwrap();
    std::fs::write(dir.path().join("key.pub"), format!("{KEY}\n")).unwrap();
    dir
}

fn build(dir: &Path, tmpfile: bool) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.join("home"))
        .env("EPHEMEROS_IPXE_EFI", dir.join("ipxe.efi"))
        .env("K3S_TOKEN", TOKEN)
        .env("K3S_URL", "https://10.0.0.1:6443")
        .current_dir(dir)
        .args([
            "build-stick",
            "--ssh-key",
            "key.pub",
            "--ignition-url",
            "http://10.0.2.2:8000/ignition.ign",
            IMAGE,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if !tmpfile {
        cmd.env("EPHEMEROS_IMAGE_TMPFILE", "0");
    }
    cmd
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !INPUTS.contains(&n.as_str()))
        .collect();
    v.sort();
    v
}

/// The image, if there is one, is a complete stick with this run's token.
fn assert_complete(dir: &Path, what: &str) {
    let image = dir.join(IMAGE);
    if !image.exists() {
        return;
    }
    let out = Command::new(BIN)
        .args(["inspect", "--json"])
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: {IMAGE} is not a complete stick"
    );
}

/// How long an undisturbed build takes here.
fn duration(dir: &Path, tmpfile: bool) -> Duration {
    let start = Instant::now();
    assert!(build(dir, tmpfile).status().unwrap().success());
    let took = start.elapsed();
    std::fs::remove_file(dir.join(IMAGE)).unwrap();
    took
}

/// Kills builds with `signal` at `runs` delays spread over a build's
/// length; returns what was left besides the inputs, per run.
fn kill_runs(tmpfile: bool, signal: i32, runs: u32, replace: bool) -> Vec<(Duration, Vec<String>)> {
    let dir = scratch();
    let d = dir.path();
    let took = duration(d, tmpfile);
    eprintln!("a build takes {took:?}");
    let mut left = Vec::new();
    for i in 0..runs {
        if replace {
            assert!(build(d, tmpfile).status().unwrap().success());
        } else {
            let _ = std::fs::remove_file(d.join(IMAGE));
        }
        let delay = took * (i + 1) / (runs + 1);
        let mut child = build(d, tmpfile).spawn().unwrap();
        std::thread::sleep(delay);
        // SAFETY: sends a signal to our own child, which is still unwaited.
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
        let _ = child.wait();
        assert_complete(d, &format!("signal {signal} after {delay:?}"));
        let extra: Vec<String> = names(d).into_iter().filter(|n| n != IMAGE).collect();
        left.push((delay, extra));
    }
    left
}

fn assert_nothing_left(tmpfile: bool, signals: &[i32]) {
    for &signal in signals {
        for replace in [false, true] {
            let runs = kill_runs(tmpfile, signal, 6, replace);
            let bad: Vec<_> = runs.iter().filter(|(_, extra)| !extra.is_empty()).collect();
            assert!(
                bad.is_empty(),
                "O_TMPFILE {tmpfile}, signal {signal}, replacing {replace}: left {bad:?}"
            );
        }
    }
}

#[test]
fn a_killed_build_leaves_no_file_but_the_image() {
    assert_nothing_left(
        true,
        &[libc::SIGKILL, libc::SIGTERM, libc::SIGINT, libc::SIGHUP],
    );
}

#[test]
fn without_o_tmpfile_every_catchable_signal_removes_the_temporary() {
    assert_nothing_left(false, &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP]);
}

/// SIGKILL cannot be caught: without O_TMPFILE it may leave the named
/// temporary, which the next build of the same image removes.
#[test]
fn a_temporary_left_by_sigkill_is_removed_by_the_next_build() {
    let dir = scratch();
    let d: PathBuf = dir.path().to_owned();
    // What a killed run (or an older ephemeros) leaves: a dead process's
    // temporary, holding secrets.
    let dead = {
        let mut c = Command::new("sh").args(["-c", "exit 0"]).spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let stale = d.join(format!(".{IMAGE}.ephemeros-{dead}.tmp"));
    std::fs::write(&stale, TOKEN).unwrap();
    // A live process's temporary is not touched.
    let live = d.join(format!(".{IMAGE}.ephemeros-{}.tmp", std::process::id()));
    std::fs::write(&live, "x").unwrap();
    for tmpfile in [true, false] {
        assert!(build(&d, tmpfile).status().unwrap().success());
        assert!(!stale.exists(), "the stale temporary is still there");
        assert!(live.exists(), "a running build's temporary was removed");
    }
}
