//! `ephemeros build-stick` and `ephemeros inspect`, run as a user would.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use ephemeros_stick::image::EfiArch;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ephemeros");
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkVb9xQ8eph3m3r0s me@laptop";
const IGN: &str = "http://10.0.2.2:8000/ignition.ign";
// Distinctive values that must never show up in any output.
const TOKEN: &str = "K10tok-Zq8!$HOME`id`\"'\\x-91f3";
const LOG_HOST: &str = "logs-q7w3.example.net";
const HEARTBEAT: &str = "https://hc.example.org/ping/7c5e0b3a-aaaa-4bbb";
const DATASTORE: &str = "postgres://k3s:pw-Yh2@db.lan:5432/k3s";

/// A scratch directory with a fake iPXE, an SSH key and an empty HOME.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ephemeros-stick-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let ipxe = ephemeros_stick::ipxe_efi::fake_binary(EfiArch::X64, b"..autoexec.ipxe..");
        std::fs::write(dir.join("ipxe.efi"), ipxe).unwrap();
        std::fs::write(dir.join("key.pub"), format!("{KEY}\n")).unwrap();
        Scratch { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Runs the binary with a clean environment plus `env`.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("EPHEMEROS_IPXE_EFI", self.path("ipxe.efi"))
            .env("SOURCE_DATE_EPOCH", "1795325392")
            .current_dir(&self.dir)
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn inspect_json(&self, image: &str, show: bool) -> Value {
        let mut args = vec!["inspect", image, "--json"];
        if show {
            args.push("--show-secrets");
        }
        let out = self.run(&args, &[]);
        assert!(out.status.success(), "inspect: {}", all(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn all(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_no_secrets(what: &str, text: &str) {
    for secret in [TOKEN, LOG_HOST, HEARTBEAT, DATASTORE, "pw-Yh2", "Zq8"] {
        assert!(
            !text.contains(secret),
            "{what} shows a secret ({secret}):\n{text}"
        );
    }
}

fn full_env_file(s: &Scratch) -> PathBuf {
    let q = ephemeros_node::envfile::quote;
    let text = format!(
        "# node 1\nNODE_HOSTNAME=node1\nSSH_KEY_PATH=key.pub\nLOGEXPORT_HOST={}\nLOGEXPORT_PORT=6514\n\
         HEARTBEAT_URL={}\nK3S_TOKEN={}\nK3S_DATASTORE_ENDPOINT={}\nK3S_RESOLV_CONF=\"/run/zone=a/resolv.conf\"\nIGN_PATH={IGN}\n",
        q(LOG_HOST),
        q(HEARTBEAT),
        q(TOKEN),
        q(DATASTORE)
    );
    let p = s.path("node1.env");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn build_then_inspect_round_trips_without_showing_secrets() {
    let s = Scratch::new();
    let env_file = full_env_file(&s);
    let out = s.run(
        &[
            "build-stick",
            "--env-file",
            env_file.to_str().unwrap(),
            "node1.img",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", all(&out));
    assert_no_secrets("build-stick", &all(&out));
    assert!(!all(&out).contains("warning"), "{}", all(&out));

    let meta = std::fs::metadata(s.path("node1.img")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 43 << 20);

    let text = s.run(&["inspect", "node1.img"], &[]);
    assert!(text.status.success(), "{}", all(&text));
    assert_no_secrets("inspect", &all(&text));
    assert!(
        all(&text).contains("k3s: enabled (server, external datastore)"),
        "{}",
        all(&text)
    );

    let r = s.inspect_json("node1.img", false);
    assert_no_secrets("inspect --json", &r.to_string());
    let m = &r["manifest"];
    assert_eq!(m["ignition_url"], IGN);
    assert_eq!(m["built_at"], "2026-11-22T05:29:52Z");
    assert_eq!(m["flatcar"]["channel"], "stable");
    for c in ["k3s", "logexport", "heartbeat", "hostname", "ssh"] {
        assert_eq!(m["components"][c]["enabled"], true, "{c}");
    }
    let names: Vec<&str> = r["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "k3s_env",
            "k3s_node_password",
            "logexport_env",
            "heartbeat_env",
            "hostname",
            "authorized_keys",
            "reproduce.sh"
        ]
    );
    assert!(r["boot_script"].as_str().unwrap().contains(IGN));

    let r = s.inspect_json("node1.img", true);
    let k3s = &r["secrets"][0]["values"];
    assert_eq!(k3s["K3S_TOKEN"], TOKEN);
    assert_eq!(k3s["K3S_DATASTORE_ENDPOINT"], DATASTORE);
    assert_eq!(k3s["K3S_RESOLV_CONF"], "/run/zone=a/resolv.conf");
    assert_eq!(r["secrets"][2]["values"]["LOGEXPORT_HOST"], LOG_HOST);
    assert_eq!(r["secrets"][3]["values"]["HEARTBEAT_URL"], HEARTBEAT);
    assert_eq!(r["secrets"][5]["content"], format!("{KEY}\n"));
    // A generated node password in k3s's format, shown only on request.
    let password = r["secrets"][1]["content"].as_str().unwrap().to_owned();
    let password = password.strip_suffix('\n').unwrap();
    assert_eq!(password.len(), 32);
    assert!(
        password.bytes().all(|b| b.is_ascii_hexdigit()),
        "{password}"
    );
    assert!(!all(&text).contains(password));
    assert!(!all(&out).contains(password));
    // Rebuilding the same node's stick keeps its password.
    let out = s.run(
        &[
            "build-stick",
            "--env-file",
            env_file.to_str().unwrap(),
            "node1.img",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", all(&out));
    assert!(
        all(&out).contains("keeping the node password"),
        "{}",
        all(&out)
    );
    let r = s.inspect_json("node1.img", true);
    assert_eq!(
        r["secrets"][1]["content"].as_str().unwrap(),
        format!("{password}\n")
    );
    // Another node's stick, or a new image, gets another one.
    for (hostname, image) in [("node2", "node1.img"), ("node1", "fresh.img")] {
        let out = s.run(
            &[
                "build-stick",
                "--env-file",
                env_file.to_str().unwrap(),
                "--hostname",
                hostname,
                image,
            ],
            &[],
        );
        assert!(out.status.success(), "{}", all(&out));
        assert!(
            all(&out).contains("a new node password was generated"),
            "{}",
            all(&out)
        );
        let r = s.inspect_json(image, true);
        assert_ne!(
            r["secrets"][1]["content"].as_str().unwrap(),
            format!("{password}\n"),
            "{hostname} {image}"
        );
    }
}

/// A lost stick is re-created with the node's password, given as a flag, in
/// the env file or in the environment; a bad file is an error that does not
/// show its contents.
#[test]
fn an_existing_node_password_is_kept() {
    let s = Scratch::new();
    let env_file = full_env_file(&s);
    let password = "3f9c0d1e2b4a59687766554433221100";
    std::fs::write(s.path("node1.pw"), format!("{password}\n")).unwrap();
    let password_of = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["build-stick", "--env-file", env_file.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push("n.img");
        let out = s.run(&args, env);
        assert!(out.status.success(), "{}", all(&out));
        assert!(!all(&out).contains(password), "{}", all(&out));
        let r = s.inspect_json("n.img", true);
        r["secrets"][1]["content"].as_str().unwrap().to_owned()
    };
    let want = format!("{password}\n");
    assert_eq!(
        password_of(&["--k3s-node-password-file", "node1.pw"], &[]),
        want
    );
    assert_eq!(
        password_of(&[], &[("NODE_PASSWORD_FILE", "node1.pw")]),
        want
    );
    std::fs::write(
        s.path("with-pw.env"),
        format!(
            "{}NODE_PASSWORD_FILE=node1.pw\n",
            std::fs::read_to_string(&env_file).unwrap()
        ),
    )
    .unwrap();
    let out = s.run(&["build-stick", "--env-file", "with-pw.env", "w.img"], &[]);
    assert!(out.status.success(), "{}", all(&out));
    let r = s.inspect_json("w.img", true);
    assert_eq!(r["secrets"][1]["content"], want);

    std::fs::write(s.path("bad.pw"), "Secret-Pw with space\n").unwrap();
    let out = s.run(
        &[
            "build-stick",
            "--env-file",
            env_file.to_str().unwrap(),
            "--k3s-node-password-file",
            "bad.pw",
            "b.img",
        ],
        &[],
    );
    assert!(!out.status.success());
    let text = all(&out);
    assert!(text.contains("k3s node password: bad.pw:"), "{text}");
    assert!(!text.contains("Secret-Pw"), "{text}");
    assert!(!s.path("b.img").exists());
}

#[test]
fn flags_win_over_the_env_file_which_wins_over_the_environment() {
    let s = Scratch::new();
    std::fs::write(s.path("n.env"), "NODE_HOSTNAME=from-file\n").unwrap();
    let hostname_of = |args: &[&str], env: &[(&str, &str)]| {
        let mut all_args = vec!["build-stick", "--ssh-key", "key.pub", "--ignition-url", IGN];
        all_args.extend_from_slice(args);
        all_args.push("x.img");
        let out = s.run(&all_args, env);
        assert!(out.status.success(), "{}", all(&out));
        s.inspect_json("x.img", false)["manifest"]["components"]["hostname"]["detail"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let env = [("NODE_HOSTNAME", "from-env")];
    assert_eq!(hostname_of(&[], &env), "from-env");
    assert_eq!(hostname_of(&["--env-file", "n.env"], &env), "from-file");
    assert_eq!(
        hostname_of(&["--env-file", "n.env", "--hostname", "from-flag"], &env),
        "from-flag"
    );
    // --ignore-environment: the environment's value is not used at all.
    let out = s.run(
        &[
            "build-stick",
            "--ignore-environment",
            "--ssh-key",
            "key.pub",
            "--ignition-url",
            IGN,
            "y.img",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", all(&out));
    assert!(
        all(&out).contains("warning: hostname: NODE_HOSTNAME not given"),
        "{}",
        all(&out)
    );
}

/// The same order for the Ignition URL, which `ipxe` shares as a flag: the
/// flag, then the env file's IGN_PATH, then the environment's.
#[test]
fn the_ignition_url_follows_the_same_order() {
    let s = Scratch::new();
    std::fs::write(s.path("n.env"), "IGN_PATH=https://file.example/i.ign\n").unwrap();
    let url_of = |args: &[&str]| {
        let mut all_args = vec!["build-stick", "--ssh-key", "key.pub"];
        all_args.extend_from_slice(args);
        all_args.push("u.img");
        let out = s.run(&all_args, &[("IGN_PATH", "https://env.example/i.ign")]);
        assert!(out.status.success(), "{}", all(&out));
        s.inspect_json("u.img", false)["manifest"]["ignition_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(url_of(&[]), "https://env.example/i.ign");
    assert_eq!(
        url_of(&["--env-file", "n.env"]),
        "https://file.example/i.ign"
    );
    assert_eq!(
        url_of(&[
            "--env-file",
            "n.env",
            "--ignition-url",
            "https://flag.example/i.ign"
        ]),
        "https://flag.example/i.ign"
    );
}

#[test]
fn disabled_components_warn_once_each_and_half_configured_ones_fail() {
    let s = Scratch::new();
    let out = s.run(
        &[
            "build-stick",
            "--ssh-key",
            "key.pub",
            "--ignition-url",
            IGN,
            "bare.img",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", all(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 4, "{stderr}");
    for (component, what) in [
        ("k3s:", "k3s will not run on the node"),
        ("log export:", "journal will not be sent"),
        ("heartbeat:", "will not report a heartbeat"),
        ("hostname:", "keeps the hostname"),
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(component) && w.contains(what)),
            "{stderr}"
        );
    }
    let r = s.inspect_json("bare.img", false);
    assert_eq!(r["manifest"]["components"]["k3s"]["enabled"], false);
    let names: Vec<&str> = r["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["authorized_keys", "reproduce.sh"]);

    let out = s.run(
        &[
            "build-stick",
            "--ssh-key",
            "key.pub",
            "--ignition-url",
            IGN,
            "half.img",
        ],
        &[("LOGEXPORT_HOST", LOG_HOST)],
    );
    assert!(!out.status.success());
    let e = all(&out);
    assert!(
        e.contains("LOGEXPORT_PORT: LOGEXPORT_HOST is set but LOGEXPORT_PORT is not"),
        "{e}"
    );
    assert_no_secrets("a failed build-stick", &e);
    assert!(!s.path("half.img").exists(), "a failed build left an image");
}

#[test]
fn bad_inputs_are_clear_errors_and_leave_nothing_behind() {
    let s = Scratch::new();
    std::fs::write(
        s.path("typo.env"),
        "NODE_HOSTNAME=n1\nHEARTBEAT_URI=https://x/\n",
    )
    .unwrap();
    std::fs::write(
        s.path("old-ipxe.efi"),
        ephemeros_stick::ipxe_efi::fake_binary(EfiArch::X64, b"iPXE 1.0 (2019)"),
    )
    .unwrap();
    std::fs::write(
        s.path("bad.pub"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n",
    )
    .unwrap();
    let base = ["build-stick", "--ssh-key", "key.pub", "--ignition-url", IGN];
    for (extra, env, want) in [
        (
            vec!["--env-file", "typo.env"],
            vec![],
            "typo.env:2:1: unknown setting HEARTBEAT_URI",
        ),
        (
            vec!["--ipxe-efi", "old-ipxe.efi"],
            vec![],
            "cannot run autoexec.ipxe",
        ),
        // Named as the user gave it: the flag.
        (vec!["--hostname", "Node_1"], vec![], "--hostname: "),
        (vec!["--ssh-key", "bad.pub"], vec![], "PRIVATE key"),
        (
            vec![],
            vec![("K3S_URL", "https://srv:6443")],
            "K3S_TOKEN is not",
        ),
        (
            vec![],
            vec![("K3S_TOKEN", "a\nb")],
            "K3S_TOKEN: the value contains a line break",
        ),
        (
            vec![],
            vec![("LOGEXPORT_HOST", "h"), ("LOGEXPORT_PORT", "70000")],
            "LOGEXPORT_PORT: not a port",
        ),
        (vec!["--esp-size", "20M"], vec![], "below the minimum"),
        (
            vec!["--size", "40M"],
            vec![],
            "the stick needs at least 43 MiB",
        ),
    ] {
        let mut args = base.to_vec();
        if extra.contains(&"--ssh-key") {
            args.drain(1..3);
        }
        args.extend(extra.iter().copied());
        args.push("bad.img");
        let out = s.run(&args, &env);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            all(&out).contains(want),
            "{args:?}: want {want:?} in:\n{}",
            all(&out)
        );
        assert!(!s.path("bad.img").exists(), "{args:?} left an image");
    }
    // A mistyped device name is not turned into an image file under /dev.
    let mut args = base.to_vec();
    args.push("/dev/ephemeros-no-such-stick");
    let out = s.run(&args, &[]);
    assert!(!out.status.success());
    assert!(all(&out).contains("is not a block device"), "{}", all(&out));
    assert!(!std::path::Path::new("/dev/ephemeros-no-such-stick").exists());
    // The old iPXE's error says how to get a suitable one.
    let out = s.run(
        &[&base[..], &["--ipxe-efi", "old-ipxe.efi", "bad.img"]].concat(),
        &[],
    );
    assert!(all(&out).contains("cargo xtask ipxe"), "{}", all(&out));
    // No temporary files either.
    let leftovers: Vec<_> = std::fs::read_dir(&s.dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn env_file_syntax_errors_never_print_values() {
    let s = Scratch::new();
    let base = ["build-stick", "--ssh-key", "key.pub", "--ignition-url", IGN];
    for text in [
        "K3S_TOKEN: K10SECRETVALUE\n",
        "NODE_HOSTNAME=n1\nK3S_TOKEN K10SECRETVALUE\n",
        "K3S_TOKEN:K10SECRETVALUE=1\n",
        "K3S_TOKEN=\"K10SECRETVALUE\nrest\"\n",
        "K3S_TOKEN=\"K10SECRETVALUE\n",
        "K3S_TOKEN=K10SECRETVALUE\nK3S_TOKEN=K10SECRETVALUE\n",
    ] {
        std::fs::write(s.path("e.env"), text).unwrap();
        let out = s.run(
            &[&base[..], &["--env-file", "e.env", "x.img"]].concat(),
            &[],
        );
        assert!(!out.status.success(), "{text:?} was accepted");
        let err = all(&out);
        assert!(err.contains("e.env:"), "{text:?}: no position in {err}");
        assert!(
            !err.contains("K10SECRET"),
            "{text:?} leaked the value: {err}"
        );
        assert!(!s.path("x.img").exists());
    }
}

#[test]
fn source_date_epoch_out_of_rfc3339_range_is_refused() {
    let s = Scratch::new();
    let base = [
        "build-stick",
        "--ssh-key",
        "key.pub",
        "--ignition-url",
        IGN,
        "t.img",
    ];
    for bad in ["-99999999999", "-1", "253402300800"] {
        let out = s.run(&base, &[("SOURCE_DATE_EPOCH", bad)]);
        assert!(!out.status.success(), "{bad} accepted");
        assert!(all(&out).contains("SOURCE_DATE_EPOCH"), "{}", all(&out));
        assert!(all(&out).contains("out of range"), "{}", all(&out));
        assert!(!s.path("t.img").exists());
    }
    for good in ["0", "253402300799"] {
        let out = s.run(&base, &[("SOURCE_DATE_EPOCH", good)]);
        assert!(out.status.success(), "{good}: {}", all(&out));
        let built_at = s.inspect_json("t.img", false)["manifest"]["built_at"].clone();
        let built_at = built_at.as_str().unwrap().to_owned();
        assert!(
            built_at == "1970-01-01T00:00:00Z" || built_at == "9999-12-31T23:59:59Z",
            "{built_at}"
        );
    }
}

#[test]
fn replacing_an_image_names_the_node_it_was_for() {
    let s = Scratch::new();
    let base = ["build-stick", "--ssh-key", "key.pub", "--ignition-url", IGN];
    let first = s.run(
        &[&base[..], &["--hostname", "old-node", "n.img"]].concat(),
        &[],
    );
    assert!(first.status.success(), "{}", all(&first));
    assert!(!all(&first).contains("Replacing"), "{}", all(&first));
    let out = s.run(
        &[&base[..], &["--hostname", "new-node", "n.img"]].concat(),
        &[],
    );
    assert!(out.status.success(), "{}", all(&out));
    assert!(
        all(&out).contains("the stick image of node old-node"),
        "{}",
        all(&out)
    );
}

#[test]
fn a_target_in_a_missing_directory_names_the_directory() {
    let s = Scratch::new();
    let target = s.path("nodir/x.img");
    let out = s.run(
        &[
            "build-stick",
            "--ssh-key",
            "key.pub",
            "--ignition-url",
            IGN,
            target.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    let err = all(&out);
    let dir = s.path("nodir");
    assert!(
        err.contains(&format!("{}: does not exist", dir.display())),
        "{err}"
    );
    assert!(!err.contains(".tmp"), "{err}");
}

/// Builds a default image with the test key and returns its path.
fn default_image(s: &Scratch, name: &str) -> PathBuf {
    let out = s.run(
        &[
            "build-stick",
            "--ssh-key",
            "key.pub",
            "--ignition-url",
            IGN,
            name,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", all(&out));
    s.path(name)
}

/// Offset of the first 32-byte FAT directory entry with this 8.3 name and
/// the directory attribute.
fn dir_entry(img: &[u8], short_name: &[u8; 11]) -> usize {
    img.windows(12)
        .position(|w| &w[..11] == short_name && w[11] == 0x10)
        .expect("directory entry present")
}

#[test]
fn inspect_reports_a_directory_loop_instead_of_crashing() {
    let s = Scratch::new();
    let path = default_image(&s, "loop.img");
    let mut img = std::fs::read(&path).unwrap();
    // Point EFI/BOOT back at EFI: EFI/BOOT/BOOT/BOOT/... forever.
    let efi = dir_entry(&img, b"EFI        ");
    let boot = dir_entry(&img, b"BOOT       ");
    let (hi, lo) = (
        img[efi + 20..efi + 22].to_vec(),
        img[efi + 26..efi + 28].to_vec(),
    );
    img[boot + 20..boot + 22].copy_from_slice(&hi);
    img[boot + 26..boot + 28].copy_from_slice(&lo);
    std::fs::write(&path, img).unwrap();
    let out = s.run(&["inspect", "loop.img"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    assert!(all(&out).contains("a directory loop?"), "{}", all(&out));
}

#[test]
fn an_existing_file_that_is_not_a_stick_is_not_replaced_without_force() {
    let s = Scratch::new();
    std::fs::write(s.path("thesis.odt"), "precious").unwrap();
    let args = [
        "build-stick",
        "--ssh-key",
        "key.pub",
        "--ignition-url",
        IGN,
        "thesis.odt",
    ];
    let out = s.run(&args, &[]);
    assert!(!out.status.success());
    assert!(
        all(&out).contains("is not a stick image; pass --force"),
        "{}",
        all(&out)
    );
    assert_eq!(std::fs::read(s.path("thesis.odt")).unwrap(), b"precious");
    // A stick image is replaced without fuss; --force replaces anything.
    let out = s.run(&[&args[..5], &["stick.img"]].concat(), &[]);
    assert!(out.status.success(), "{}", all(&out));
    let out = s.run(&[&args[..5], &["stick.img"]].concat(), &[]);
    assert!(out.status.success(), "{}", all(&out));
    let out = s.run(&[&args[..], &["--force"]].concat(), &[]);
    assert!(out.status.success(), "{}", all(&out));
}

#[test]
fn a_bigger_image_keeps_its_backup_gpt_at_the_end() {
    let s = Scratch::new();
    let out = s.run(
        &[
            "build-stick",
            "--ssh-key",
            "key.pub",
            "--ignition-url",
            IGN,
            "--size",
            "1G",
            "big.img",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", all(&out));
    assert_eq!(std::fs::metadata(s.path("big.img")).unwrap().len(), 1 << 30);
    match Command::new("sgdisk")
        .arg("-v")
        .arg(s.path("big.img"))
        .output()
    {
        Ok(o) => assert!(all(&o).contains("No problems found"), "{}", all(&o)),
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("*** SKIPPED: sgdisk is not installed ***")
        }
        Err(e) => panic!("sgdisk: {e}"),
    }
}

/// Runs `reproduce.sh` from a stick and checks it rebuilds the same stick.
#[test]
fn reproduce_sh_passes_shellcheck_and_rebuilds_the_same_stick() {
    let s = Scratch::new();
    let env_file = full_env_file(&s);
    let out = s.run(
        &[
            "build-stick",
            "--env-file",
            env_file.to_str().unwrap(),
            "--console",
            "ttyS0,115200n8",
            "orig.img",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", all(&out));
    let r = s.inspect_json("orig.img", true);
    let script = r["secrets"][6]["content"].as_str().unwrap().to_owned();
    let script_path = s.path("reproduce.sh");
    std::fs::write(&script_path, &script).unwrap();

    match Command::new("shellcheck").arg(&script_path).output() {
        Ok(o) => assert!(o.status.success(), "shellcheck:\n{}", all(&o)),
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("*** SKIPPED: shellcheck is not installed ***")
        }
        Err(e) => panic!("shellcheck: {e}"),
    }

    // The caller's environment must not leak into the rebuilt stick.
    let out = Command::new("sh")
        .arg(&script_path)
        .arg("again.img")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("EPHEMEROS", BIN)
        .env("EPHEMEROS_IPXE_EFI", s.path("ipxe.efi"))
        .env("SOURCE_DATE_EPOCH", "1795325392")
        .env("K3S_EXTRA_FROM_CALLER", "leak")
        .env("NODE_HOSTNAME", "leak")
        .current_dir(&s.dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "reproduce.sh: {}", all(&out));
    assert_no_secrets("reproduce.sh", &all(&out));
    let again = s.inspect_json("again.img", true);
    assert_eq!(again["manifest"], r["manifest"]);
    assert_eq!(again["boot_script"], r["boot_script"]);
    assert_eq!(again["secrets"], r["secrets"]);
    assert_eq!(again["esp_files"], r["esp_files"]);
}

#[test]
fn the_ignition_url_comes_from_the_git_remote_and_lands_in_the_manifest() {
    let s = Scratch::new();
    let repo = s.path("cluster");
    std::fs::create_dir(&repo).unwrap();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.org",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&repo)
            .output();
        match o {
            Ok(o) if o.status.success() => true,
            Ok(o) => panic!("git {args:?}: {}", all(&o)),
            Err(_) if std::env::var_os("CI").is_none() => false,
            Err(e) => panic!("git: {e}"),
        }
    };
    if !git(&["init", "-q"]) {
        eprintln!("*** SKIPPED: git is not installed ***");
        return;
    }
    std::fs::write(
        repo.join("ignition.ign"),
        "{\"ignition\":{\"version\":\"3.3.0\"}}\n",
    )
    .unwrap();
    git(&["add", "ignition.ign"]);
    git(&["commit", "-q", "-m", "config"]);
    // A token in the remote (as `gh` and CI set them up) must not reach
    // the stick's files, inspect or any message.
    const GIT_TOKEN: &str = "ghp_Tk7Rq2SECRETzz";
    git(&[
        "remote",
        "add",
        "origin",
        &format!("https://{GIT_TOKEN}:x-oauth-basic@github.com/example/cluster.git"),
    ]);
    let ign_file = repo.join("ignition.ign");
    let build = || {
        s.run(
            &[
                "build-stick",
                "--ssh-key",
                "key.pub",
                "--ignition-file",
                ign_file.to_str().unwrap(),
                "git.img",
            ],
            &[],
        )
    };
    // Not pushed yet: every node would get 404.
    let out = build();
    assert!(!out.status.success());
    let text = all(&out);
    assert!(
        text.contains("ignition.ign is not at origin/main") && text.contains("git push"),
        "{text}"
    );
    assert!(!s.path("git.img").exists());
    // Pushed (as far as this clone knows).
    git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
    let out = build();
    assert!(out.status.success(), "{}", all(&out));
    assert!(!all(&out).contains("SECRET"), "{}", all(&out));
    let image = std::fs::read(s.path("git.img")).unwrap();
    assert!(
        !image
            .windows(GIT_TOKEN.len())
            .any(|w| w == GIT_TOKEN.as_bytes()),
        "the git token is on the stick (ephemeros.json or reproduce.sh)"
    );
    for show in [false, true] {
        let text = serde_json::to_string(&s.inspect_json("git.img", show)).unwrap();
        assert!(!text.contains("SECRET"), "{text}");
    }
    let m = &s.inspect_json("git.img", false)["manifest"];
    assert_eq!(
        m["config"]["repository"],
        "https://github.com/example/cluster.git"
    );
    assert_eq!(m["config"]["dirty"], false);
    assert_eq!(m["config"]["commit"].as_str().unwrap().len(), 40);
    assert!(
        m["ignition_url"]
            .as_str()
            .unwrap()
            .contains("example/cluster"),
        "{m}"
    );

    // What nodes get is checked, not the work tree: a pushed file that is
    // not an Ignition config every channel takes is refused, naming it.
    for (committed, want) in [
        ("{not json\n", "is not JSON"),
        (
            "{\"ignition\":{\"version\":\"3.5.0\"}}\n",
            "3.5.0, which not every Flatcar channel",
        ),
        (
            "{\"storage\":{\"files\":[{\"path\":7}]}}\n",
            "is not an Ignition config",
        ),
    ] {
        std::fs::write(&ign_file, committed).unwrap();
        git(&["commit", "-q", "-am", "broken"]);
        git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
        // A fixed but unpushed work tree does not help the nodes.
        std::fs::write(&ign_file, "{\"ignition\":{\"version\":\"3.3.0\"}}\n").unwrap();
        let out = build();
        assert!(!out.status.success(), "{committed} was accepted");
        let text = all(&out);
        assert!(
            text.contains("ignition.ign at origin/main")
                && text.contains(want)
                && text.contains("ephemeros ignite"),
            "{text}"
        );
        git(&["checkout", "-q", "--", "ignition.ign"]);
    }
    // --pin names a commit: it must be on the remote, with a good file.
    std::fs::write(&ign_file, "{\"ignition\":{\"version\":\"3.3.0\"}}\n").unwrap();
    git(&["commit", "-q", "-am", "fixed"]);
    let pinned = |s: &Scratch| {
        s.run(
            &[
                "build-stick",
                "--ssh-key",
                "key.pub",
                "--pin",
                "--ignition-file",
                ign_file.to_str().unwrap(),
                "pin.img",
            ],
            &[],
        )
    };
    let out = pinned(&s);
    assert!(!out.status.success());
    assert!(all(&out).contains("is not at commit"), "{}", all(&out));
    git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
    let out = pinned(&s);
    assert!(out.status.success(), "{}", all(&out));
    // --ignition-url: nothing local to check.
    let out = s.run(
        &[
            "build-stick",
            "--ssh-key",
            "key.pub",
            "--ignition-url",
            IGN,
            "url.img",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", all(&out));
}

/// Every setting that can carry a secret, malformed in each way a user can
/// give it (flag, environment, env file, a stray word, a node password
/// file): the build fails and the value appears in no output.
#[test]
fn malformed_secret_settings_never_show_their_value() {
    const SECRET: &str = "s3cr3t-Qv7Lw";
    let s = Scratch::new();
    std::fs::write(s.path("bad.pw"), format!("{SECRET} with spaces\n")).unwrap();
    std::fs::write(
        s.path("multi.env"),
        format!("K3S_TOKEN=\"{SECRET}\nmore\"\n"),
    )
    .unwrap();
    std::fs::write(
        s.path("typo.env"),
        format!("K3S_TOKN={SECRET}\nLOGEXPORT_POST={SECRET}\n"),
    )
    .unwrap();
    let line_break = format!("K3S_TOKEN={SECRET}\nx");
    let flag_cases: Vec<Vec<String>> = vec![
        vec!["--k3s".into(), format!("K3S-TOKEN={SECRET}")],
        vec!["--k3s".into(), format!("TOKEN={SECRET}")],
        vec![format!("--k3s=K3S-TOKEN={SECRET}")],
        vec!["--k3s".into(), line_break.clone()],
        vec![
            "--k3s".into(),
            format!("K3S_URL=http://{SECRET}:6443"),
            "--k3s".into(),
            "K3S_TOKEN=t".into(),
        ],
        vec!["--k3s".into(), format!("K3S_URL=https://{SECRET}:6443")],
        vec!["--heartbeat-url".into(), format!("ftp://{SECRET}/x")],
        vec!["--heartbeat-url".into(), format!("no url {SECRET}")],
        vec![
            "--logexport-host".into(),
            format!("bad host {SECRET}"),
            "--logexport-port".into(),
            "6514".into(),
        ],
        vec![
            "--logexport-host".into(),
            "logs.example".into(),
            "--logexport-port".into(),
            SECRET.into(),
        ],
        vec!["--logexport-host".into(), SECRET.into()],
        vec![format!("K3S_TOKEN={SECRET}")],
        vec![
            "--k3s-node-password-file".into(),
            "bad.pw".into(),
            "--k3s".into(),
            "K3S_TOKEN=t".into(),
        ],
        vec!["--env-file".into(), "multi.env".into()],
        vec!["--env-file".into(), "typo.env".into()],
    ];
    let env_cases: Vec<Vec<(&str, String)>> = vec![
        vec![(
            "K3S_TOKEN",
            line_break.trim_start_matches("K3S_TOKEN=").to_owned(),
        )],
        vec![
            ("K3S_URL", format!("http://{SECRET}")),
            ("K3S_TOKEN", "t".into()),
        ],
        vec![("HEARTBEAT_URL", format!("ftp://{SECRET}"))],
        vec![
            ("LOGEXPORT_HOST", "logs.example".into()),
            ("LOGEXPORT_PORT", SECRET.into()),
        ],
        vec![
            ("LOGEXPORT_HOST", format!("bad {SECRET}")),
            ("LOGEXPORT_PORT", "6514".into()),
        ],
        vec![
            ("K3S_TOKEN", "t".into()),
            ("NODE_PASSWORD_FILE", "bad.pw".into()),
        ],
    ];
    let check = |what: String, out: Output| {
        assert!(!out.status.success(), "{what} was accepted: {}", all(&out));
        let text = all(&out);
        assert!(!text.contains(SECRET), "{what} shows the value:\n{text}");
        assert!(!text.trim().is_empty(), "{what}: no message");
    };
    for extra in &flag_cases {
        let mut args = vec!["build-stick", "--ssh-key", "key.pub", "--ignition-url", IGN];
        args.extend(extra.iter().map(String::as_str));
        if !extra[0].starts_with("K3S_TOKEN=") {
            args.push("x.img");
        }
        check(format!("flags {extra:?}"), s.run(&args, &[]));
        // As TARGET (a forgotten --k3s), too.
        if extra[0].starts_with("K3S_TOKEN=") {
            args.push("x.img");
            check(format!("flags {args:?}"), s.run(&args, &[]));
        }
    }
    for env in &env_cases {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        check(
            format!("environment {env:?}"),
            s.run(
                &[
                    "build-stick",
                    "--ssh-key",
                    "key.pub",
                    "--ignition-url",
                    IGN,
                    "x.img",
                ],
                &env,
            ),
        );
    }
    assert!(!s.path("x.img").exists());
}

/// k3s ignores K3S_* names it does not read: a typo is a warning naming the
/// closest name, --strict refuses it, and an agent is told which settings
/// only a server reads.
#[test]
fn k3s_names_k3s_does_not_read_are_warned_about_or_refused() {
    let s = Scratch::new();
    let base = ["build-stick", "--ssh-key", "key.pub", "--ignition-url", IGN];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args.push("x.img");
        s.run(
            &args,
            &[("K3S_TOKN", TOKEN), ("K3S_DATASTORE_ENDPOINT", "")],
        )
    };
    let out = run(&[]);
    assert!(out.status.success(), "{}", all(&out));
    let text = all(&out);
    assert!(
        text.contains(
            "warning: K3S_TOKN: k3s does not read this variable; did you mean K3S_TOKEN?"
        ),
        "{text}"
    );
    assert!(!text.contains("K3S_DATASTORE_ENDPOINT:"), "{text}");
    assert_no_secrets("build-stick", &text);

    std::fs::remove_file(s.path("x.img")).unwrap();
    let out = run(&["--strict"]);
    assert!(!out.status.success());
    let text = all(&out);
    assert!(
        text.contains("(--strict)") && text.contains("did you mean K3S_TOKEN?"),
        "{text}"
    );
    assert_no_secrets("build-stick --strict", &text);
    assert!(!s.path("x.img").exists());

    let out = s.run(
        &[&base[..], &["--strict", "x.img"]].concat(),
        &[
            ("K3S_URL", "https://srv.lan:6443"),
            ("K3S_TOKEN", TOKEN),
            ("K3S_DATASTORE_ENDPOINT", DATASTORE),
        ],
    );
    assert!(!out.status.success());
    let text = all(&out);
    assert!(
        text.contains("K3S_DATASTORE_ENDPOINT: k3s agent does not read it"),
        "{text}"
    );
    assert_no_secrets("build-stick agent", &text);
}

#[test]
fn a_bad_setting_is_named_where_the_user_gave_it() {
    let s = Scratch::new();
    std::fs::write(
        s.path("node1.env"),
        "# node1\nSSH_KEY_PATH=key.pub\nNODE_HOSTNAME=bad_name\n",
    )
    .unwrap();
    let common = ["build-stick", "--ignition-url", IGN, "--ssh-key", "key.pub"];
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (&["--hostname", "bad_name"], &[], "error: --hostname: "),
        (
            &[],
            &[("NODE_HOSTNAME", "bad_name")],
            "error: NODE_HOSTNAME: ",
        ),
        (
            &["--env-file", "node1.env"],
            &[],
            "error: node1.env:3: NODE_HOSTNAME: ",
        ),
        (
            &["--k3s", "K3S_TOKEN=a\nb"],
            &[],
            "error: --k3s K3S_TOKEN=…: ",
        ),
    ];
    for (flags, env, expect) in cases {
        let args: Vec<&str> = common
            .iter()
            .chain(flags.iter())
            .copied()
            .chain(["x.img"])
            .collect();
        let out = s.run(&args, env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {err}");
        assert!(
            err.lines().any(|l| l.starts_with(expect)),
            "{flags:?} {env:?}: want a line starting {expect:?}:\n{err}"
        );
        assert!(!s.path("x.img").exists());
    }
}

/// build-stick renders the same boot script as `ipxe` and must refuse
/// exactly what `ipxe` refuses (it used to skip the script's lint), and
/// neither may repeat credentials given in the URL.
#[test]
fn build_stick_refuses_the_ignition_urls_ipxe_refuses() {
    let s = Scratch::new();
    for url in [
        "http://10.0.2.2:8000/ignition.ign",
        "http://10.0.2.2:8000/ignition.ign\\",
        "http://10.0.2.2:8000/a\\b.ign",
        "https://bot:S3CRET@example.org/ignition.ign",
        "https://S3CRET@example.org/ignition.ign",
        "https://example.org/${x}.ign",
        "https://example.org/i.ign #x",
    ] {
        let ipxe = s.run(&["ipxe", "--ssh-key", "key.pub"], &[("IGN_PATH", url)]);
        let stick = s.run(
            &["build-stick", "--ssh-key", "key.pub", "parity.img"],
            &[("IGN_PATH", url), ("K3S_DATASTORE_ENDPOINT", "")],
        );
        assert_eq!(
            ipxe.status.success(),
            stick.status.success(),
            "{url}: ipxe and build-stick disagree:\n{}\n{}",
            all(&ipxe),
            all(&stick)
        );
        for out in [&ipxe, &stick] {
            assert!(!all(out).contains("S3CRET"), "{url}: {}", all(out));
            if !out.status.success() {
                assert!(!all(out).contains("internal error"), "{url}: {}", all(out));
            }
        }
        let _ = std::fs::remove_file(s.path("parity.img"));
    }
}

#[test]
fn an_empty_ipxe_variable_counts_as_unset() {
    // What `EPHEMEROS_IPXE_EFI=$(cargo xtask ipxe) …` leaves when the fetch
    // failed: the error is about the missing iPXE, not a flag never typed.
    let s = Scratch::new();
    let out = s.run(
        &[
            "build-stick",
            "--ignition-url",
            IGN,
            "--ssh-key",
            "key.pub",
            "x.img",
        ],
        &[("EPHEMEROS_IPXE_EFI", "")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no iPXE EFI binary found"), "{err}");
    assert!(!err.contains("a value is required"), "{err}");
}

#[test]
fn an_image_named_through_a_link_is_written_through_it() {
    let s = Scratch::new();
    std::os::unix::fs::symlink("images/node1.img", s.path("current.img")).unwrap();
    std::fs::create_dir(s.path("images")).unwrap();
    let out = s.run(
        &[
            "build-stick",
            "--ignition-url",
            IGN,
            "--ssh-key",
            "key.pub",
            "current.img",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", all(&out));
    let link = std::fs::symlink_metadata(s.path("current.img")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    let image = std::fs::metadata(s.path("images/node1.img")).unwrap();
    assert!(image.is_file() && image.len() > 0);
    assert!(all(&out).contains("current.img is a link: writing the image to"));
}

#[test]
fn a_custom_template_goes_onto_the_stick() {
    let s = Scratch::new();
    std::fs::write(
        s.path("mine.ipxe.j2"),
        "#!ipxe\n# my own boot script\n:retry\ndhcp || goto retry\n\
         kernel {{ kernel_url }} {{ kernel_args }} || goto fail\n\
         initrd {{ initrd_url }} || goto fail\nboot || goto fail\n:fail\n{{ on_failure }} || exit 1\n",
    )
    .unwrap();
    let out = s.run(
        &[
            "build-stick",
            "--ignition-url",
            IGN,
            "--ssh-key",
            "key.pub",
            "--template",
            "mine.ipxe.j2",
            "t.img",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", all(&out));
    let report = s.inspect_json("t.img", false);
    let script = report["boot_script"].as_str().unwrap();
    assert!(script.contains("# my own boot script"), "{script}");
    assert!(
        script.contains(&format!("ignition.config.url={IGN}")),
        "{script}"
    );
    // A broken template is an error naming it, and nothing is written.
    std::fs::write(s.path("bad.ipxe.j2"), "#!ipxe\n{% if %}\n").unwrap();
    let out = s.run(
        &[
            "build-stick",
            "--ignition-url",
            IGN,
            "--ssh-key",
            "key.pub",
            "--template",
            "bad.ipxe.j2",
            "u.img",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(all(&out).contains("bad.ipxe.j2"), "{}", all(&out));
    assert!(!s.path("u.img").exists());
}
