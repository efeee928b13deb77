//! `ephemeros ipxe` as a user runs it: the built binary, in real git repositories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory removed on drop (no tempfile dependency needed here).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path =
            std::env::temp_dir().join(format!("ephemeros-ipxe-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn git(dir: &Path, args: &[&str]) {
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
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fleet repository: origin git@github.com:acme/fleet.git, branch main,
/// ignition.ign committed and (as far as the last fetch knows) pushed.
fn fleet(name: &str) -> Scratch {
    let s = Scratch::new(name);
    git(&s.0, &["init", "-q", "-b", "main"]);
    git(
        &s.0,
        &["remote", "add", "origin", "git@github.com:acme/fleet.git"],
    );
    std::fs::write(
        s.0.join("ignition.ign"),
        "{\"ignition\":{\"version\":\"3.3.0\"}}\n",
    )
    .unwrap();
    git(&s.0, &["add", "ignition.ign"]);
    git(&s.0, &["commit", "-q", "-m", "init"]);
    git(&s.0, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    s
}

fn ephemeros(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ephemeros"));
    cmd.current_dir(dir).arg("ipxe").args(args);
    // The caller's environment must not leak into what is tested.
    for var in ["IGN_PATH", "NODE_HOSTNAME", "SSH_KEY_PATH"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn kernel_line(script: &str) -> &str {
    script
        .lines()
        .find(|l| l.starts_with("kernel "))
        .expect("a kernel line")
}

#[test]
fn done_when_github_origin_on_main() {
    let repo = fleet("done");
    let out = ephemeros(&repo.0, &[], &[]);
    let script = stdout(&out);
    assert!(script.starts_with("#!ipxe\n"));
    let kernel = kernel_line(&script);
    let words: Vec<&str> = kernel.split(' ').collect();
    for arg in [
        "ignition.config.url=https://raw.githubusercontent.com/acme/fleet/main/ignition.ign",
        "flatcar.first_boot=1",
        "initrd=flatcar_production_pxe_image.cpio.gz",
        "https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_pxe.vmlinuz",
    ] {
        assert!(words.contains(&arg), "{arg} missing from {kernel}");
    }
    assert!(script.contains(
        "initrd --timeout 60000 https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_pxe_image.cpio.gz"
    ));
    // Pushed and clean: nothing to warn about.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn identity_from_environment_and_output_file() {
    let repo = fleet("identity");
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop work key";
    std::fs::write(repo.0.join("id.pub"), format!("# my key\n{key}\n")).unwrap();
    let key_path = repo.0.join("id.pub");
    let out = ephemeros(
        &repo.0,
        &[
            "-o",
            "autoexec.ipxe",
            "--on-failure",
            "poweroff",
            "--console",
            "ttyS0",
        ],
        &[
            ("NODE_HOSTNAME", "node-7"),
            ("SSH_KEY_PATH", key_path.to_str().unwrap()),
            ("IGN_PATH", "http://10.0.2.2:8000/ign?a=1&b=%41"),
        ],
    );
    assert_eq!(stdout(&out), "", "the script goes to the file");
    let script = std::fs::read_to_string(repo.0.join("autoexec.ipxe")).unwrap();
    let kernel = kernel_line(&script);
    assert!(kernel.contains(&format!(" sshkey=\"{key}\" ")), "{kernel}");
    assert!(kernel.contains(" systemd.hostname=node-7 "), "{kernel}");
    assert!(
        kernel.contains(" ignition.config.url=http://10.0.2.2:8000/ign?a=1&b=%41 "),
        "{kernel}"
    );
    assert!(kernel.contains(" console=ttyS0 "), "{kernel}");
    assert!(script.contains("\npoweroff || reboot || goto start_over\n"));
    // Only the script was written: no temporary file left behind.
    let mut names: Vec<String> = std::fs::read_dir(&repo.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".git", "autoexec.ipxe", "id.pub", "ignition.ign"]);
}

#[test]
fn unsafe_key_is_rejected_and_nothing_is_written() {
    let repo = fleet("badkey");
    std::fs::write(
        repo.0.join("id.pub"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsab \"quoted\"\n",
    )
    .unwrap();
    let out = ephemeros(
        &repo.0,
        &["--ssh-key", "id.pub", "-o", "autoexec.ipxe"],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid SSH public key") && err.contains("double quote"),
        "{err}"
    );
    assert!(!repo.0.join("autoexec.ipxe").exists());
}

#[test]
fn detached_head_error_names_the_override() {
    let repo = fleet("detached");
    git(&repo.0, &["checkout", "-q", "--detach"]);
    let out = ephemeros(&repo.0, &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HEAD is detached") && err.contains("--ignition-url") && err.contains("--pin"),
        "{err}"
    );

    let pinned = stdout(&ephemeros(&repo.0, &["--pin"], &[]));
    assert!(kernel_line(&pinned)
        .contains("ignition.config.url=https://raw.githubusercontent.com/acme/fleet/"));
}

#[test]
fn dirty_file_warns_on_stderr() {
    let repo = fleet("dirty");
    std::fs::write(repo.0.join("ignition.ign"), "{}\n").unwrap();
    let out = ephemeros(&repo.0, &[], &[]);
    stdout(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: ignition.ign has uncommitted changes"),
        "{err}"
    );
}

#[test]
fn template_errors_name_file_and_line() {
    let repo = fleet("template");
    std::fs::write(
        repo.0.join("mine.j2"),
        "#!ipxe\necho {{ kernel_url }}\necho {{ nope }}\n",
    )
    .unwrap();
    let out = ephemeros(&repo.0, &["--template", "mine.j2"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("template mine.j2, line 3: undefined value"),
        "{err}"
    );

    // A template that renders but would hang a node is flagged.
    std::fs::write(
        repo.0.join("mine.j2"),
        "#!ipxe\nkernel {{ kernel_url }} {{ kernel_args }} || shell\nboot\n",
    )
    .unwrap();
    let out = ephemeros(&repo.0, &["--template", "mine.j2"], &[]);
    let script = stdout(&out);
    assert!(script.starts_with("#!ipxe\nkernel https://"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: mine.j2: rendered script line 2: `shell` waits for a person"),
        "{err}"
    );

    // The built-in template is the documented starting point.
    let builtin = stdout(&ephemeros(&repo.0, &["--print-template"], &[]));
    assert!(builtin.contains("{{ kernel_args }}"));
}

#[test]
fn help_shows_environment_variables_and_examples() {
    let help = stdout(&ephemeros(Path::new("."), &["--help"], &[]));
    for needle in [
        "[env: IGN_PATH=]",
        "[env: NODE_HOSTNAME=]",
        "[env: SSH_KEY_PATH=]",
        "Examples:",
        "--on-failure",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn empty_variables_mean_unset() {
    let repo = fleet("empty");
    let out = ephemeros(
        &repo.0,
        &[],
        &[
            ("IGN_PATH", ""),
            ("NODE_HOSTNAME", ""),
            ("SSH_KEY_PATH", ""),
        ],
    );
    let script = stdout(&out);
    let kernel = kernel_line(&script);
    assert!(kernel.contains(
        " ignition.config.url=https://raw.githubusercontent.com/acme/fleet/main/ignition.ign "
    ));
    assert!(
        !kernel.contains("systemd.hostname") && !kernel.contains("sshkey"),
        "{kernel}"
    );
}

#[test]
fn a_missing_template_names_its_cause_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_ephemeros"))
        .args([
            "ipxe",
            "--ignition-url",
            "https://x.example/i.ign",
            "--template",
            "/nonexistent-ephemeros/t.ipxe",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot read template /nonexistent-ephemeros/t.ipxe: No such file or directory (os error 2)\n"
    );
}

#[test]
fn a_key_file_build_stick_accepts_works_here_too() {
    // Two keys: build-stick puts both into authorized_keys and the first
    // into sshkey=; `ipxe` must accept the same file and pick the same key.
    let s = Scratch::new("two-keys");
    let first =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl first";
    let second = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkVb9xQ8eph3m3r0sAAAAAAAAAAAAAAA second";
    std::fs::write(s.0.join("two.pub"), format!("{first}\n\n{second}\n")).unwrap();
    let out = ephemeros(
        &s.0,
        &["--ssh-key", "two.pub"],
        &[("IGN_PATH", "https://x.example/i.ign")],
    );
    let script = stdout(&out);
    let kernel = kernel_line(&script);
    assert!(
        kernel.contains(&format!(" sshkey=\"{first}\" ")),
        "{kernel}"
    );
    assert!(!kernel.contains("second"), "{kernel}");

    // …and refuses what build-stick refuses, naming the file and line.
    std::fs::write(s.0.join("bad.pub"), format!("{first}\nnot a key\n")).unwrap();
    let out = ephemeros(
        &s.0,
        &["--ssh-key", "bad.pub"],
        &[("IGN_PATH", "https://x.example/i.ign")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.pub:2"), "{err}");
}

#[test]
fn urls_and_arguments_that_would_fail_on_the_node_are_refused_here() {
    let s = Scratch::new("refused");
    let out = ephemeros(&s.0, &[], &[("IGN_PATH", "ftp://x.example/i.ign")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ftp://x.example/i.ign") && err.contains("--ignition-url or IGN_PATH"),
        "{err}"
    );

    let out = ephemeros(
        &s.0,
        &[
            "--ignition-url",
            "https://x.example/i.ign",
            "--kernel-arg",
            "ignition.config.url=https://y.example/j.ign",
        ],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("use --ignition-url"), "{err}");
}

/// An LTS fleet can stay on one yearly stream; other channels have none.
#[test]
fn an_lts_stream_is_a_release() {
    let s = Scratch::new("lts-stream");
    let ign = [("IGN_PATH", "https://x.example/i.ign")];
    let out = ephemeros(
        &s.0,
        &["--channel", "lts", "--release", "current-2024"],
        &ign,
    );
    let script = stdout(&out);
    assert!(
        kernel_line(&script).contains(
            "https://lts.release.flatcar-linux.net/amd64-usr/current-2024/flatcar_production_pxe.vmlinuz"
        ),
        "{script}"
    );
    let out = ephemeros(&s.0, &["--release", "current-2024"], &ign);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--channel lts"), "{err}");
    // flatcar.config.url would replace the boot script's URL on the node.
    let out = ephemeros(
        &s.0,
        &["--kernel-arg", "flatcar.config.url=https://y.example/j.ign"],
        &ign,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("use --ignition-url"), "{err}");
}

/// `ipxe` and `build-stick` take the same hostnames (one rule,
/// `ephemeros_node::Hostname`): what one refuses, the other refuses too.
#[test]
fn hostnames_follow_the_rule_build_stick_follows() {
    let s = Scratch::new("hostnames");
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me";
    std::fs::write(s.0.join("k.pub"), format!("{key}\n")).unwrap();
    for (name, why) in [
        ("Node1", "lowercase"),
        ("node1.", "trailing dot"),
        ("node_1", "'_'"),
    ] {
        let ipxe = ephemeros(
            &s.0,
            &["--ssh-key", "k.pub", "--hostname", name],
            &[("IGN_PATH", "https://x.example/i.ign")],
        );
        let stick = Command::new(env!("CARGO_BIN_EXE_ephemeros"))
            .current_dir(&s.0)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["build-stick", "--ignition-url", "https://x.example/i.ign"])
            .args([
                "--ssh-key",
                "k.pub",
                "--hostname",
                name,
                "never-written.img",
            ])
            .output()
            .unwrap();
        for (what, out) in [("ipxe", &ipxe), ("build-stick", &stick)] {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && err.contains(why),
                "{what} --hostname {name:?}: {err}"
            );
        }
        assert!(!s.0.join("never-written.img").exists());
    }
}
