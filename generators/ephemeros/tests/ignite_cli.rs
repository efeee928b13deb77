//! `ephemeros ignite` as a user runs it: flags, stdin/stdout, files,
//! exit status and both diagnostic formats.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../butane/tests/fixtures")
}

fn ignite(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ephemeros"))
        .arg("ignite")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch directory, removed when the test ends (pass or fail).
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("ignite-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

#[test]
fn pretty_output_of_a_file_matches_the_golden_config() {
    let bu = fixtures().join("ok/node.bu");
    let out = ignite(&["-p", bu.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let golden = std::fs::read_to_string(fixtures().join("ok/node.ign")).unwrap();
    assert_eq!(text(&out.stdout), golden);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn compact_output_from_stdin_is_one_json_line() {
    let out = ignite(
        &[],
        Some("variant: flatcar\nversion: 1.0.0\nkernel_arguments: {should_exist: [a]}\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"ignition\":{\"version\":\"3.3.0\"},\"kernelArguments\":{\"shouldExist\":[\"a\"]}}\n"
    );
    let dash = ignite(&["-"], Some("variant: flatcar\nversion: 1.1.0\n"));
    assert_eq!(
        text(&dash.stdout),
        "{\"ignition\":{\"version\":\"3.4.0\"}}\n"
    );
}

#[test]
fn output_file_check_mode_and_files_dir() {
    let dir = scratch("out");
    let out_file = dir.join("out.ign");
    let bu = fixtures().join("ok/v1_1-fields.bu");
    let files = fixtures().join("files");
    let args = [
        bu.to_str().unwrap(),
        "-d",
        files.to_str().unwrap(),
        "-o",
        out_file.to_str().unwrap(),
    ];
    let out = ignite(&args, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        written.contains("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake2 two@example"),
        "{written}"
    );
    assert!(written.ends_with("}\n"));

    let checked = dir.join("checked.ign");
    let out = ignite(
        &[
            "-c",
            bu.to_str().unwrap(),
            "-d",
            files.to_str().unwrap(),
            "-o",
            checked.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success());
    assert!(!checked.exists(), "--check wrote output");

    // Without -d, local contents cannot be read.
    let out = ignite(&[bu.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("must be specified with -d/--files-dir"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn errors_are_shown_at_their_source_position_and_leave_no_output() {
    let dir = scratch("err");
    let bu = dir.join("bad.bu");
    std::fs::write(
        &bu,
        "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: etc/motd\n",
    )
    .unwrap();
    let out_file = dir.join("out.ign");
    std::fs::write(&out_file, "previous").unwrap();
    let out = ignite(
        &[bu.to_str().unwrap(), "-o", out_file.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let expected = format!(
        "error: path not absolute\n --> {}:5:13\n  |\n5 |     - path: etc/motd\n  |             ^^^^^^^^\n",
        bu.display()
    );
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.contains("= at $.storage.files.0.path"), "{err}");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "previous");
    assert!(out.stdout.is_empty());

    let short = ignite(&[bu.to_str().unwrap(), "--message-format", "short"], None);
    let first = text(&short.stderr).lines().next().unwrap().to_string();
    assert_eq!(
        first,
        format!(
            "{}:5:13: error: path not absolute [at $.storage.files.0.path]",
            bu.display()
        )
    );
    let raw = ignite(&[bu.to_str().unwrap(), "--raw-errors"], None);
    assert_eq!(
        text(&raw.stderr).lines().next().unwrap(),
        "error at $.storage.files.0.path, line 5 col 13: path not absolute"
    );
}

#[test]
fn warnings_pass_unless_strict() {
    let input = "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/x\n      mode: 644\n";
    let out = ignite(&["--message-format", "short"], Some(input));
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("<stdin>:6:13: warning: unreasonable mode"),
        "{}",
        text(&out.stderr)
    );
    assert!(!out.stdout.is_empty());
    let strict = ignite(&["-s"], Some(input));
    assert_eq!(strict.status.code(), Some(1));
    assert!(strict.stdout.is_empty());
    assert!(
        text(&strict.stderr).contains("--strict"),
        "{}",
        text(&strict.stderr)
    );
}

/// As with butane, a null section and a `<<` merge key are warnings (the
/// config still translates), so `--strict` refuses them.
#[test]
fn strict_refuses_null_sections_and_merge_keys() {
    let cases = [
        ("variant: flatcar\nversion: 1.0.0\nstorage:\n", "<stdin>:3:9: warning: context tree does not match content tree at $.storage."),
        (
            "variant: flatcar\nversion: 1.0.0\nx: &d {mode: 0600}\nstorage:\n  files:\n    - path: /etc/x\n      <<: *d\n",
            "<stdin>:7:7: warning: unused key << [at $.storage.files.0.<<]",
        ),
    ];
    for (input, warning) in cases {
        let out = ignite(&["--message-format", "short"], Some(input));
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(warning), "{}", text(&out.stderr));
        let strict = ignite(&["--strict"], Some(input));
        assert_eq!(strict.status.code(), Some(1), "{input}");
        assert!(strict.stdout.is_empty());
    }
}

#[test]
fn unreadable_input_is_named() {
    let out = ignite(&["/nonexistent/config.bu"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/nonexistent/config.bu"),
        "{}",
        text(&out.stderr)
    );
}
