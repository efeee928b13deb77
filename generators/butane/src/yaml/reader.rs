//! The checks go-yaml v3's reader makes on the raw input stream before any
//! YAML is scanned: the bytes must be UTF-8 and every character must be
//! YAML 1.2 `c-printable` (TAB, LF, CR, 0x20-0x7E, NEL, 0xA0-0xD7FF,
//! 0xE000-0xFFFD, 0x10000-0x10FFFF). These apply to the characters as they
//! stand in the file: an escape such as `"\x01"` inside a double-quoted
//! scalar is four printable characters and stays legal.
//!
//! go-yaml decodes the stream in 512-byte chunks as the scanner asks for
//! them, so after the first document it may or may not look at the rest;
//! checking the whole input is the deterministic reading of that.

use super::Pos;

/// Why and where the stream was refused; `message` is go-yaml's wording
/// (butane prints it after `yaml: `).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    pub message: &'static str,
    pub pos: Pos,
}

/// The input as text, or the first problem go-yaml's reader would report.
pub fn check(source: &[u8]) -> Result<&str, StreamError> {
    // go-yaml reads in order, so a control character before a bad byte
    // is the one reported.
    let (valid, bad) = match std::str::from_utf8(source) {
        Ok(t) => (t, None),
        Err(e) => {
            let at = e.valid_up_to();
            // valid_up_to ends on a character boundary, so this cannot fail.
            let valid = std::str::from_utf8(&source[..at]).unwrap_or_default();
            (valid, Some(&source[at..]))
        }
    };
    if let Some((at, _)) = valid.char_indices().find(|&(_, c)| !printable(c)) {
        return Err(StreamError {
            message: "control characters are not allowed",
            pos: pos_after(&valid[..at]),
        });
    }
    match bad {
        None => Ok(valid),
        Some(rest) => Err(StreamError {
            message: utf8_problem(rest),
            pos: pos_after(valid),
        }),
    }
}

/// YAML 1.2 `c-printable`, go-yaml's allowed range. (A `char` is never a
/// surrogate nor above 0x10FFFF.)
fn printable(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{7e}'
        | '\u{85}'
        | '\u{a0}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fffd}'
        | '\u{10000}'..)
}

/// go-yaml's name for the invalid sequence at the start of `rest`, checked
/// in its order: the leading octet, truncation at end of input, the
/// trailing octets, overlong forms, surrogates and values past U+10FFFF.
fn utf8_problem(rest: &[u8]) -> &'static str {
    let lead = rest[0];
    let (width, mut value) = match lead {
        0xc0..=0xdf => (2, u32::from(lead & 0x1f)),
        0xe0..=0xef => (3, u32::from(lead & 0x0f)),
        0xf0..=0xf7 => (4, u32::from(lead & 0x07)),
        _ => return "invalid leading UTF-8 octet",
    };
    if rest.len() < width {
        return "incomplete UTF-8 octet sequence";
    }
    for &b in &rest[1..width] {
        if b & 0xc0 != 0x80 {
            return "invalid trailing UTF-8 octet";
        }
        value = (value << 6) | u32::from(b & 0x3f);
    }
    let shortest = match width {
        2 => value >= 0x80,
        3 => value >= 0x800,
        _ => value >= 0x10000,
    };
    if !shortest {
        return "invalid length of a UTF-8 sequence";
    }
    "invalid Unicode character"
}

/// The position just after `before` (1-based line and character column),
/// counted as the YAML scanner counts: CR, LF and CRLF each end a line, and
/// a leading byte order mark is not part of the text.
fn pos_after(before: &str) -> Pos {
    let before = before.strip_prefix('\u{feff}').unwrap_or(before);
    let (mut line, mut col, mut prev_cr) = (1, 1, false);
    for c in before.chars() {
        match c {
            '\n' if prev_cr => {}
            '\n' | '\r' => {
                line += 1;
                col = 1;
            }
            _ => col += 1,
        }
        prev_cr = c == '\r';
    }
    Pos {
        line,
        col,
        offset: before.chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &[u8]) -> (&'static str, usize, usize) {
        let e = check(src).unwrap_err();
        (e.message, e.pos.line, e.pos.col)
    }

    #[test]
    fn printable_text_passes_unchanged() {
        let src = "a: \"\\x01\\e\\0\"\tb\r\nc: \u{85}\u{a0}\u{feff}\u{fffd}\u{10ffff}é\n";
        assert_eq!(check(src.as_bytes()), Ok(src));
    }

    #[test]
    fn raw_control_characters_are_refused_where_they_stand() {
        let msg = "control characters are not allowed";
        assert_eq!(err(b"a: 1\nb: \"x\x01y\"\n"), (msg, 2, 6));
        assert_eq!(err(b"\x1b]0;t\x07"), (msg, 1, 1));
        assert_eq!(err(b"a: b\x00"), (msg, 1, 5));
        assert_eq!(err("é: \u{7f}".as_bytes()), (msg, 1, 4));
        assert_eq!(err("a: \u{86}".as_bytes()), (msg, 1, 4));
        assert_eq!(err("a: \u{9f}".as_bytes()), (msg, 1, 4));
        assert_eq!(err("a:\n\n  \u{fffe}".as_bytes()), (msg, 3, 3));
        assert_eq!(err("a: \u{ffff}".as_bytes()), (msg, 1, 4));
    }

    #[test]
    fn positions_count_cr_and_crlf_breaks_and_skip_a_bom() {
        let msg = "control characters are not allowed";
        assert_eq!(err(b"a: 1\rb: 2\r\nc: \x01"), (msg, 3, 4));
        assert_eq!(err(b"a: 1\r\n\r\nb\x01"), (msg, 3, 2));
        assert_eq!(
            err(b"\xef\xbb\xbfab: \xff"),
            ("invalid leading UTF-8 octet", 1, 5)
        );
    }

    #[test]
    fn invalid_utf8_is_reported_at_the_bad_byte_in_go_yaml_words() {
        assert_eq!(
            err(b"a: 1\nbb: \xff"),
            ("invalid leading UTF-8 octet", 2, 5)
        );
        assert_eq!(
            err(b"a: \xc3\xa9\x80"),
            ("invalid leading UTF-8 octet", 1, 5)
        );
        assert_eq!(
            err(b"a: \xe2\x82"),
            ("incomplete UTF-8 octet sequence", 1, 4)
        );
        assert_eq!(
            err(b"a: \xe2\x28\xa1 b"),
            ("invalid trailing UTF-8 octet", 1, 4)
        );
        assert_eq!(
            err(b"\n\xc0\xaf"),
            ("invalid length of a UTF-8 sequence", 2, 1)
        );
        assert_eq!(err(b"\xed\xa0\x80"), ("invalid Unicode character", 1, 1));
        assert_eq!(
            err(b"a\x01 \xff"),
            ("control characters are not allowed", 1, 2)
        );
        assert_eq!(
            err(b"\xf4\x90\x80\x80"),
            ("invalid Unicode character", 1, 1)
        );
    }
}
