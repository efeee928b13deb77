//! The human diagnostics never copy terminal controls or huge lines from
//! the input to the terminal, and the carets stay under the span.

use ephemeros_butane::{render, translate, Format, Options};

fn human(src: &str) -> String {
    let err = translate(src.as_bytes(), &Options::default()).unwrap_err();
    render(err.report(), "t.bu", src, Format::Human { color: false })
}

fn assert_terminal_safe(out: &str) {
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "raw control character in:\n{out}"
    );
}

#[test]
fn raw_escape_sequence_in_the_source_line_is_shown_escaped() {
    let src = "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /a\n      mode: \u{1b}]0;pwned\u{7}\n";
    let out = human(src);
    assert_terminal_safe(&out);
    assert!(out.contains("--> t.bu:6:13"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with("6 | "))
        .expect("source line");
    assert_eq!(lines[i], "6 |       mode: \\u{1b}]0;pwned\\u{7}");
    // The carets sit under the escaped ESC, where the error points.
    let caret = lines[i + 1].find('^').unwrap();
    assert_eq!(&lines[i][caret..caret + 6], "\\u{1b}", "{out}");
    assert_eq!(&lines[i + 1][caret..], "^^^^^^", "{out}");
}

#[test]
fn control_characters_from_escapes_are_escaped_in_messages() {
    // Legal YAML: the escapes make an ESC/BEL inside the value, which the
    // type error quotes.
    let src = "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /a\n      mode: \"\\e]0;pwned\\a\"\n";
    let out = human(src);
    assert!(out.contains("\\u{1b}]0;pwned\\u{7}"), "{out}");
    assert_terminal_safe(&out);
    let short = render(
        translate(src.as_bytes(), &Options::default())
            .unwrap_err()
            .report(),
        "t.bu",
        src,
        Format::Short,
    );
    assert_terminal_safe(&short);
}

#[test]
fn binary_garbage_line_is_escaped_and_clipped() {
    let garbage: String = (0..4096u32)
        .map(|i| char::from_u32((i * 7919) % 0x180).unwrap())
        .filter(|&c| c != '\n' && c != '\r')
        .collect();
    let src = format!("variant: flatcar\n{garbage}\n");
    let out = human(&src);
    assert_terminal_safe(&out);
    assert!(out.len() < 600, "{} bytes:\n{out}", out.len());
}

#[test]
fn bom_and_cr_line_breaks_keep_the_echoed_line_and_carets_right() {
    let src = "\u{feff}variant: 1\rversion: 1.0.0\r";
    let out = human(src);
    assert!(out.contains("--> t.bu:1:10"), "{out}");
    assert!(out.contains("1 | variant: 1\n  |          ^\n"), "{out}");
    let src = "variant: flatcar\rversion: 1.0.0\rstorage: 5\r";
    let out = human(src);
    assert!(out.contains("3 | storage: 5\n  |          ^\n"), "{out}");
}
