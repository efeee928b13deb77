use super::*;

/// Values that break naive quoting. Each must come back byte for byte from
/// our parser, from `sh` and from `bash`.
fn hard_values() -> Vec<(&'static str, String)> {
    vec![
        ("EMPTY", String::new()),
        ("PLAIN", "k10abc::server:xyz".into()),
        ("DQUOTE", r#"say "hi""#.into()),
        ("SQUOTE", "it's".into()),
        ("DOLLAR", "$HOME ${HOME} $(id) $$".into()),
        ("BACKTICK", "`id` and ``".into()),
        ("BACKSLASH", r"C:\path\to\n and \\ and \".into()),
        ("BACKSLASH_END", "ends with \\".into()),
        ("SPACES", "  leading and trailing  ".into()),
        ("TAB", "a\tb\t".into()),
        ("EQUALS", "a=b==c=".into()),
        ("HASH", "#not a comment ;nor this".into()),
        ("UNICODE", "żółć 東京 🚀 \u{200b}".into()),
        (
            "URL",
            "https://user:p%40ss@example.com:8443/x?a=1&b='2'#frag".into(),
        ),
        ("MIXED", r#"'"$`\ ""''\\$$``"#.into()),
        ("LONG", "x\"$\\`".repeat(20_000)),
    ]
}

#[test]
fn hard_values_round_trip_through_our_parser() {
    let vars: Vec<(String, String)> = hard_values()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let text = render("test file\nsecond comment line", &vars).unwrap();
    let back = parse(text.as_bytes(), "test").unwrap();
    assert_eq!(back.len(), vars.len());
    for (entry, (k, v)) in back.iter().zip(&vars) {
        assert_eq!(&entry.key, k);
        assert_eq!(&entry.value, v, "value of {k} changed");
    }
}

#[test]
fn hard_values_round_trip_through_real_shells() {
    let vars: Vec<(String, String)> = hard_values()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let text = render("shell check", &vars).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("env");
    std::fs::write(&file, &text).unwrap();
    let mut ran = 0;
    for shell in ["sh", "bash"] {
        for (k, v) in &vars {
            // printf %s prints the value exactly; a trailing marker keeps
            // trailing whitespace visible.
            let script = format!(". \"$1\"; printf '%s|' \"${k}\"");
            let out = match std::process::Command::new(shell)
                .args(["-c", &script, "sh"])
                .arg(&file)
                .output()
            {
                Ok(out) => out,
                Err(_) if std::env::var_os("CI").is_none() => {
                    eprintln!("SKIPPED: {shell} is not installed");
                    continue;
                }
                Err(e) => panic!("{shell}: {e}"),
            };
            assert!(out.status.success(), "{shell} failed on {k}: {out:?}");
            let got = String::from_utf8(out.stdout).unwrap();
            assert_eq!(got, format!("{v}|"), "{shell} read {k} differently");
            ran += 1;
        }
    }
    assert!(ran > 0, "no shell ran");
}

#[test]
fn unrepresentable_values_are_refused_naming_the_variable_not_the_value() {
    for (value, expect) in [
        ("abc\0secretpart", "NUL"),
        ("line1\nsecretpart", "line break"),
        ("cr\rsecretpart", "line break"),
        ("bell\u{7}secretpart", "U+0007"),
        ("esc\u{1b}[0msecretpart", "U+001B"),
    ] {
        let e = check("K3S_TOKEN", value).unwrap_err().to_string();
        assert!(e.starts_with("K3S_TOKEN:"), "{e}");
        assert!(e.contains(expect), "{e}");
        assert!(!e.contains("secretpart"), "error leaks the value: {e}");
    }
    let long = "y".repeat(MAX_ASSIGNMENT);
    let e = check("K3S_TOKEN", &long).unwrap_err().to_string();
    assert!(e.contains("131072"), "{e}");
    assert!(check("1BAD", "v").is_err());
    assert!(check("BAD-NAME", "v").is_err());
    assert!(render("", &[("OK".into(), "a\nb".into())]).is_err());
}

#[test]
fn parser_follows_systemd_for_hand_written_files() {
    let text = "\
# comment
; also a comment
  PLAIN = value with spaces   \n\
SINGLE='literal $x \\n'\n\
CONCAT=\"a\"'b'c\n\
ESCAPED=a\\ b\\\\c\n\
KEEP=\"\\n\\q\"\n\
CONT=\"one \\\n two\"\n\
EMPTY=\n\
LAST=no newline at end";
    let got: Vec<(String, String)> = parse(text.as_bytes(), "f")
        .unwrap()
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect();
    let want: Vec<(String, String)> = [
        ("PLAIN", "value with spaces"),
        ("SINGLE", "literal $x \\n"),
        ("CONCAT", "abc"),
        ("ESCAPED", "a b\\c"),
        ("KEEP", "\\n\\q"),
        ("CONT", "one  two"),
        ("EMPTY", ""),
        ("LAST", "no newline at end"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn parser_errors_carry_file_line_and_column() {
    let cases: [(&[u8], &str); 6] = [
        (
            b"A=1\nB=\"open\n",
            "node.env:2:3: this quote is never closed",
        ),
        (b"A=1\n  JUSTAKEY\n", "node.env:2:3: this line has no `=`"),
        (
            b"export A=1\n",
            "node.env:1:7: a space is not allowed in a variable name",
        ),
        (
            b"A=1\nA=2\n",
            "node.env:2:1: A is set twice (first on line 1)",
        ),
        (b"A=\xff\n", "node.env:1:3: invalid UTF-8"),
        (b"A=1\nB=x\0y\n", "node.env:2:4: a NUL byte"),
    ];
    for (input, want) in cases {
        let e = parse(input, "node.env").unwrap_err().to_string();
        assert!(e.starts_with(want), "got {e:?}, want {want:?}");
    }
}

/// A value written where the syntax expects a name (a YAML-style `:`, a
/// space instead of `=`) must never reach an error message: those end up in
/// terminals and CI logs.
#[test]
fn syntax_errors_never_show_values() {
    let secret = "K10SECRETVALUE";
    let cases: Vec<Vec<u8>> = vec![
        format!("K3S_TOKEN: {secret}\n").into_bytes(),
        format!("K3S_TOKEN {secret}\n").into_bytes(),
        format!("K3S_TOKEN:{secret}").into_bytes(),
        format!("K3S_TOKEN {secret}=x\n").into_bytes(),
        format!("K3S_TOKEN:{secret}=x").into_bytes(),
        format!("A=1\nK3S_TOKEN=\"{secret}\nB=2\n").into_bytes(),
        format!("K3S_TOKEN={secret}\nK3S_TOKEN={secret}\n").into_bytes(),
        [format!("K3S_TOKEN={secret}").as_bytes(), b"\xff\n"].concat(),
        format!("K3S_TOKEN={secret}\0\n").into_bytes(),
    ];
    for input in cases {
        let e = parse(&input, "node.env").unwrap_err().to_string();
        assert!(e.starts_with("node.env:"), "{e}");
        assert!(!e.contains("K10SECRET"), "the value leaked: {e}");
    }
    let e = parse(format!("K3S_TOKEN: {secret}\n").as_bytes(), "node.env")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("node.env:1:1: this line has no `=`"), "{e}");
}

/// Every separator someone may type instead of `=`, or none at all, in an
/// env file (build-stick) and in a stick's env files (inspect): the value
/// never shows, and the error points at where the name goes wrong.
#[test]
fn no_separator_lets_a_value_into_an_error() {
    let secret = "K10SECRETVALUE";
    let mut inputs: Vec<String> = Vec::new();
    for key in ["K3S_TOKEN", "HEARTBEAT_URL", "K3S_DATASTORE_ENDPOINT"] {
        for sep in [
            "\"", "'", ",", ";", ":", " ", "\t", "-", ".", "|", "", "\u{a0}", "\u{2028}", "\x1b",
        ] {
            for tail in ["", "=x", "\"", "'"] {
                inputs.push(format!("{key}{sep}{secret}{tail}\n"));
                inputs.push(format!("A=1\n  {key}{sep}{secret}{tail}"));
            }
        }
    }
    let mut errors = 0;
    for input in &inputs {
        match parse(input.as_bytes(), "node.env") {
            // `K3S_TOKENK10…=x` is a well-formed line; what the name means
            // is for the caller (inputs::from_env_file) to judge.
            Ok(entries) => assert!(entries.iter().all(|e| is_valid_key(&e.key))),
            Err(e) => {
                errors += 1;
                let e = e.to_string();
                assert!(e.starts_with("node.env:"), "{e}");
                assert!(!e.contains("K10SECRET"), "{input:?} leaked: {e}");
            }
        }
    }
    assert!(
        errors > inputs.len() / 2,
        "only {errors} of {} refused",
        inputs.len()
    );
    // The column points at the character that is wrong.
    let e = parse(b"K3S_TOKEN,abc=1\n", "n.env")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("n.env:1:10: `,` is not allowed"), "{e}");
}

#[test]
fn checks_never_show_a_malformed_name() {
    for key in [
        "K3S_TOKEN K10SECRET",
        "K3S_TOKEN\"K10SECRET",
        "K3S_TOKEN;K10SECRET",
    ] {
        let e = check(key, "v").unwrap_err().to_string();
        assert!(!e.contains("K10SECRET"), "{e}");
        assert!(e.contains("at character 10"), "{e}");
    }
}

/// A byte order mark is skipped, not read as part of the first name.
#[test]
fn byte_order_mark_is_skipped() {
    let got = parse(b"\xef\xbb\xbfA=1\nB=2\n", "node.env").unwrap();
    assert_eq!(got[0].key, "A");
    assert_eq!(got[1].key, "B");
    let e = parse(b"\xef\xbb\xbfA=1\n  JUSTAKEY\n", "node.env").unwrap_err();
    assert!(e.to_string().starts_with("node.env:2:3:"), "{e}");
}

/// Thousands of random values over an alphabet of every character the
/// syntax treats specially: render, parse, compare.
#[test]
fn random_values_round_trip() {
    const ALPHABET: &[char] = &[
        '"', '\'', '\\', '`', '$', ' ', '\t', '=', '#', ';', '{', '}', '(', ')', 'a', 'Z', '0',
        'é', '€', '🚀', '\u{a0}', '\u{2028}', '\u{feff}',
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        // xorshift64*: deterministic, so a failure reproduces.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for round in 0..2000 {
        let len = (next() % 24) as usize;
        let value: String = (0..len)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
            .collect();
        let vars = vec![
            ("V".to_owned(), value.clone()),
            ("W".to_owned(), "end".to_owned()),
        ];
        let text = render("", &vars).unwrap();
        let back = parse(text.as_bytes(), "random").unwrap();
        assert_eq!(back[0].value, value, "round {round}: {text:?}");
        assert_eq!(back[1].value, "end", "round {round}: {text:?}");
    }
}
