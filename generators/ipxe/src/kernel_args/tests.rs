use super::*;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop work key";

fn settings() -> BootSettings {
    BootSettings {
        ignition_url: "https://example.com/ignition.ign".into(),
        ..BootSettings::default()
    }
}

fn err(s: &BootSettings) -> String {
    kernel_args(s).unwrap_err().to_string()
}

/// iPXE's reading of a command line (exec.c split_command + the `#`/`||`
/// terminators + concat_args in image_cmd.c), modelled independently of
/// the code under test: the text after the URI as the kernel receives it.
fn ipxe_kernel_cmdline(line: &str) -> String {
    let mut words = Vec::new();
    for word in line
        .split(|c: char| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        if word.starts_with('#') || matches!(word, "||" | "&&" | ";") {
            break;
        }
        assert!(
            !(word.contains("${") && word[word.find("${").unwrap()..].contains('}')),
            "iPXE would expand {word}"
        );
        words.push(word);
    }
    assert_eq!(words[0], "kernel");
    words[2..].join(" ")
}

/// Linux lib/cmdline.c next_arg: split at spaces outside quotes, strip the
/// quotes around a value. Returns (param, value) pairs.
fn linux_params(cmdline: &str) -> Vec<(String, Option<String>)> {
    let mut params = Vec::new();
    let bytes = cmdline.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        let start = i;
        let mut in_quote = false;
        while i < bytes.len() && (in_quote || bytes[i] != b' ') {
            if bytes[i] == b'"' {
                in_quote = !in_quote;
            }
            i += 1;
        }
        if start == i {
            break;
        }
        let arg = &cmdline[start..i];
        match arg.split_once('=') {
            Some((p, v)) => {
                let v = v
                    .strip_prefix('"')
                    .map(|v| v.strip_suffix('"').unwrap_or(v))
                    .unwrap_or(v);
                params.push((p.to_string(), Some(v.to_string())));
            }
            None => params.push((arg.to_string(), None)),
        }
    }
    params
}

fn param(params: &[(String, Option<String>)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(p, _)| p == name)
        .and_then(|(_, v)| v.clone())
}

#[test]
fn default_arguments_in_order() {
    assert_eq!(
        kernel_args(&settings()).unwrap(),
        vec![
            "initrd=flatcar_production_pxe_image.cpio.gz",
            "flatcar.first_boot=1",
            "ignition.config.url=https://example.com/ignition.ign",
        ]
    );
    let mut s = settings();
    s.first_boot = false;
    assert!(!kernel_command_line(&s).unwrap().contains("first_boot"));
}

#[test]
fn key_with_spaces_and_url_with_query_reach_the_kernel_intact() {
    let mut s = settings();
    let url = "https://cfg.example/ign?node=a%20b&token=x%2Fy&v=1;2";
    s.ignition_url = url.into();
    s.ssh_key = Some(format!("{KEY}\n"));
    s.hostname = Some("node-1.lab".parse().unwrap());
    s.console = vec!["ttyS0,115200n8".into(), "tty0".into()];
    s.extra_kernel_args = vec!["flatcar.autologin".into(), "foo=\"two words\"".into()];

    let line = format!(
        "kernel http://x/k {} || goto fail",
        kernel_command_line(&s).unwrap()
    );
    let cmdline = ipxe_kernel_cmdline(&line);
    assert_eq!(cmdline, kernel_command_line(&s).unwrap());
    assert_eq!(
        expected_proc_cmdline(&s).unwrap(),
        format!("flatcar_production_pxe.vmlinuz {cmdline}")
    );
    let params = linux_params(&cmdline);
    assert_eq!(param(&params, "sshkey").as_deref(), Some(KEY));
    assert_eq!(param(&params, "ignition.config.url").as_deref(), Some(url));
    assert_eq!(
        param(&params, "systemd.hostname").as_deref(),
        Some("node-1.lab")
    );
    assert_eq!(param(&params, "foo").as_deref(), Some("two words"));
    assert_eq!(
        params.iter().filter(|(p, _)| p == "console").count(),
        2,
        "{params:?}"
    );
    assert_eq!(params.len(), 9, "{params:?}");
}

#[test]
fn whitespace_runs_in_the_key_are_normalised_like_ipxe_would() {
    let mut s = settings();
    s.ssh_key = Some("  ssh-rsa\tAAAAB3NzaC1yc2EAAAADAQAB   bob@host  \n".into());
    let args = kernel_args(&s).unwrap();
    assert_eq!(
        args.last().unwrap(),
        "sshkey=\"ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB bob@host\""
    );
}

#[test]
fn unsafe_ssh_keys_are_rejected_naming_the_setting() {
    let cases = [
        (format!("{KEY}\n{KEY}"), "more than one line"),
        (
            "command=\"x\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA k".to_string(),
            "double quote",
        ),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA a\"b".to_string(),
            "double quote",
        ),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA #laptop".to_string(),
            "beginning with '#'",
        ),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA me || reboot".to_string(),
            "end of the command",
        ),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA ${user}".to_string(),
            "${",
        ),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA J\u{fc}rgen".to_string(),
            "printable ASCII",
        ),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA a\u{7}b".to_string(),
            "printable ASCII",
        ),
        ("not a key".to_string(), "not an OpenSSH public key"),
        ("ssh-ed25519".to_string(), "not an OpenSSH public key"),
    ];
    for (key, expected) in cases {
        let mut s = settings();
        s.ssh_key = Some(key.clone());
        let e = err(&s);
        assert!(e.starts_with("invalid SSH public key"), "{key:?}: {e}");
        assert!(e.contains(expected), "{key:?}: {e}");
    }
}

#[test]
fn a_dollar_brace_without_closing_brace_is_literal_in_ipxe_and_allowed() {
    let mut s = settings();
    s.ssh_key = Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA price${5".into());
    kernel_args(&s).unwrap();
}

#[test]
fn unsafe_urls_are_rejected() {
    let cases = [
        ("", "is empty"),
        ("example.com/ignition.ign", "not a URL"),
        ("https://x/a b", "space"),
        ("https://x/a\nb", "printable ASCII"),
        ("https://x/${net0/mac}.ign", "${"),
        ("https://x/\"q\"", "double quote"),
        ("https://x/\u{e9}", "printable ASCII"),
    ];
    for (url, expected) in cases {
        let mut s = settings();
        s.ignition_url = url.into();
        let e = err(&s);
        assert!(e.starts_with("invalid Ignition config URL"), "{url:?}: {e}");
        assert!(e.contains(expected), "{url:?}: {e}");
    }
}

#[test]
fn consoles_and_extra_arguments() {
    let mut s = settings();
    s.console = vec!["ttyS0 115200".into()];
    assert!(err(&s).starts_with("invalid console argument"));

    for (arg, expected) in [
        ("a b", "outside double quotes"),
        ("a=\"b", "unbalanced"),
        ("a=\"b  c\"", "repeated spaces"),
        (" a", "leading"),
        ("#x", "'#'"),
        ("&&", "end of the command"),
        ("x=${y}", "${"),
        ("", "is empty"),
        ("a\tb", "printable ASCII"),
    ] {
        let mut s = settings();
        s.extra_kernel_args = vec![arg.into()];
        let e = err(&s);
        assert!(
            e.starts_with("invalid extra kernel argument"),
            "{arg:?}: {e}"
        );
        assert!(e.contains(expected), "{arg:?}: {e}");
    }
}

#[test]
fn the_command_line_length_is_bounded() {
    let mut s = settings();
    s.extra_kernel_args = vec![format!("x={}", "y".repeat(1800))];
    kernel_args(&s).unwrap();
    s.extra_kernel_args.push(format!("z={}", "y".repeat(200)));
    let e = err(&s);
    assert!(e.starts_with("invalid kernel command line"), "{e}");
    assert!(e.contains("at most 2047 bytes"), "{e}");
}

/// The kernel sees Flatcar's built-in line, a space, then what iPXE passes
/// (the image name and our arguments), cut at 2047 bytes: a command line
/// that fits only without the built-in part must be refused.
#[test]
fn the_limit_leaves_room_for_flatcars_built_in_command_line() {
    assert_eq!(FLATCAR_BUILTIN_CMDLINE.len() + 1, 31);
    assert_eq!(MAX_PASSED_CMDLINE, 2047 - 31);
    let mut s = settings();
    let base = expected_proc_cmdline(&s).unwrap().len();
    // `x=…` plus the space before it brings the passed line to `len`.
    let with_len = |len: usize| vec![format!("x={}", "y".repeat(len - base - 3))];
    s.extra_kernel_args = with_len(MAX_PASSED_CMDLINE);
    let passed = expected_proc_cmdline(&s).unwrap();
    assert_eq!(passed.len(), MAX_PASSED_CMDLINE);
    let seen = format!("{FLATCAR_BUILTIN_CMDLINE} {passed}");
    assert_eq!(
        seen.len(),
        COMMAND_LINE_SIZE - 1,
        "exactly what Linux keeps"
    );
    s.extra_kernel_args = with_len(MAX_PASSED_CMDLINE + 1);
    let e = err(&s);
    assert!(e.contains("rootflags=rw mount.usrflags=ro"), "{e}");
    // Between the two bounds: under 2048 bytes by itself, too long with the prefix.
    s.extra_kernel_args = with_len(2040);
    assert!(kernel_args(&s).is_err());
}

#[test]
fn credentials_and_a_trailing_backslash_in_the_ignition_url_are_refused() {
    for (url, why) in [
        (
            "https://user:S3CRET@example.org/i.ign",
            "carries credentials",
        ),
        ("https://S3CRET@example.org/i.ign", "carries credentials"),
        (
            "http://S3CRET:x-oauth-basic@10.0.0.1:8000/i.ign",
            "carries credentials",
        ),
        ("https://example.org/i.ign\\", "ends in `\\`"),
    ] {
        let mut s = settings();
        s.ignition_url = url.into();
        let e = err(&s);
        assert!(e.contains(why), "{url}: {e}");
        assert!(
            !e.contains("S3CRET"),
            "{url}: the error repeats the credentials: {e}"
        );
    }
    for ok in [
        "https://example.org/a@b/i.ign",
        "https://example.org/i.ign?sig=a@b",
    ] {
        let mut s = settings();
        s.ignition_url = ok.into();
        kernel_args(&s).unwrap();
    }
}

#[test]
fn only_schemes_ignition_fetches_are_accepted() {
    for ok in [
        "http://10.0.2.2:8000/i.ign",
        "HTTPS://x/i.ign",
        "tftp://10.0.0.1/i.ign",
        "s3://bucket/i.ign",
        "gs://bucket/i.ign",
        "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/i.ign",
        "data:,%7B%7D",
    ] {
        let mut s = settings();
        s.ignition_url = ok.into();
        kernel_args(&s).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "ftp://x/i.ign",
        "file:///i.ign",
        "oem:///i.ign",
        "ssh://x/i",
    ] {
        let mut s = settings();
        s.ignition_url = bad.into();
        let e = err(&s);
        assert!(
            e.contains("which Ignition cannot fetch") && e.contains("--ignition-url or IGN_PATH"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn arguments_the_script_sets_itself_are_refused_as_extras() {
    for (arg, pointer) in [
        ("ignition.config.url=https://x/i.ign", "--ignition-url"),
        ("coreos.config.url=https://x/i.ign", "--ignition-url"),
        ("flatcar.config.url=https://x/i.ign", "--ignition-url"),
        ("systemd.hostname=n1", "--hostname"),
        ("sshkey=\"ssh-ed25519 AAAA\"", "--ssh-key"),
        ("console=ttyS0", "--console"),
        ("initrd=x.cpio.gz", "boot script"),
        ("flatcar.first_boot", "boot script"),
        ("flatcar.first_boot=1", "boot script"),
    ] {
        let mut s = settings();
        s.extra_kernel_args = vec![arg.into()];
        let e = err(&s);
        assert!(
            e.starts_with("invalid extra kernel argument") && e.contains(pointer),
            "{arg}: {e}"
        );
    }
    // Similar-looking names are someone else's and pass through.
    let mut s = settings();
    s.extra_kernel_args = vec!["flatcar.autologin".into(), "consoleblank=0".into()];
    kernel_args(&s).unwrap();
}
