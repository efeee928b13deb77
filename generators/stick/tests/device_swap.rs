//! The device swap of the review, on real loop devices: the path given
//! (a `/dev/disk/by-id/…`-style link) is pointed at another, larger disk
//! while the prompt waits, or the disk behind the open descriptor grows.
//! Needs root and `losetup`; skipped loudly otherwise (CI runs it where it
//! can, like the xtask device check).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;

use ephemeros_stick::device::{assess_path, OpenedDevice, SystemRoots};

struct Loop(PathBuf);

impl Loop {
    fn attach(backing: &Path) -> Option<Loop> {
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(backing)
            .output()
            .ok()?;
        out.status.success().then(|| {
            Loop(PathBuf::from(
                String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            ))
        })
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

fn backing(dir: &Path, name: &str, size: u64) -> PathBuf {
    let p = dir.join(name);
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&p)
        .unwrap();
    f.set_len(size).unwrap();
    p
}

#[test]
fn a_swapped_or_resized_device_is_refused_after_the_prompt() {
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let dir = tempfile::tempdir().unwrap();
    let small = backing(dir.path(), "small", 64 << 20);
    let big = backing(dir.path(), "big", 256 << 20);
    let (Some(a), Some(b)) = (
        root.then(|| Loop::attach(&small)).flatten(),
        Loop::attach(&big),
    ) else {
        eprintln!("\n*** SKIPPED: needs root and losetup (loop devices) ***\n");
        return;
    };
    let roots = SystemRoots::default();
    let link = dir.path().join("by-id-stick");
    std::os::unix::fs::symlink(&a.0, &link).unwrap();
    let assessment = assess_path(&roots, &link).unwrap();
    let opened = OpenedDevice::open(&roots, &link, &assessment).unwrap();
    opened.check_still_same(&roots, &link).unwrap();

    // The link now names the other disk (a stick swapped during the prompt).
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&b.0, &link).unwrap();
    let e = opened
        .check_still_same(&roots, &link)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("is now device") && e.contains("nothing was written"),
        "{e}"
    );

    // The same device, grown behind the open descriptor.
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&a.0, &link).unwrap();
    opened.check_still_same(&roots, &link).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&small)
        .unwrap()
        .set_len(128 << 20)
        .unwrap();
    assert!(Command::new("losetup")
        .arg("-c")
        .arg(&a.0)
        .status()
        .unwrap()
        .success());
    let e = opened
        .check_still_same(&roots, &link)
        .unwrap_err()
        .to_string();
    assert!(e.contains("size is now 128 MiB, was 64 MiB"), "{e}");
}
