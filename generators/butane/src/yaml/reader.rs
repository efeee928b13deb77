//! The checks go-yaml v3's reader makes on the raw input stream before any
//! YAML is scanned: the bytes must be UTF-8 (or UTF-16, when the stream
//! starts with a UTF-16 byte order mark) and every character must be
//! YAML 1.2 `c-printable` (TAB, LF, CR, 0x20-0x7E, NEL, 0xA0-0xD7FF,
//! 0xE000-0xFFFD, 0x10000-0x10FFFF). These apply to the characters as they
//! stand in the file: an escape such as `"\x01"` inside a double-quoted
//! scalar is four printable characters and stays legal.
//!
//! go-yaml decodes the stream in 512-byte chunks as the scanner asks for
//! them, so after the first document it may or may not look at the rest;
//! checking the whole input is the deterministic reading of that.

use std::borrow::Cow;

use crate::span::Pos;

/// Why and where the stream was refused; `message` is go-yaml's wording
/// (butane prints it after `yaml: `).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    pub message: &'static str,
    pub pos: Pos,
}

/// The input as text, or the first problem go-yaml's reader would report.
pub fn check(source: &[u8]) -> Result<Cow<'_, str>, StreamError> {
    // go-yaml reads in order, so a control character before a bad byte
    // is the one reported.
    let (valid, bad): (Cow<'_, str>, Option<&'static str>) = match utf16(source) {
        Some((units, big_endian)) => {
            let (text, bad) = decode_utf16(units, big_endian);
            (Cow::Owned(text), bad)
        }
        None => match std::str::from_utf8(source) {
            Ok(t) => (Cow::Borrowed(t), None),
            Err(e) => {
                let at = e.valid_up_to();
                // valid_up_to ends on a character boundary: cannot fail.
                let valid = std::str::from_utf8(&source[..at]).unwrap_or_default();
                (Cow::Borrowed(valid), Some(utf8_problem(&source[at..])))
            }
        },
    };
    if let Some((at, _)) = valid.char_indices().find(|&(_, c)| !printable(c)) {
        return Err(StreamError {
            message: "control characters are not allowed",
            pos: pos_after(&valid[..at]),
        });
    }
    match bad {
        None => Ok(valid),
        Some(message) => Err(StreamError {
            message,
            pos: pos_after(&valid),
        }),
    }
}

/// The input as text for echoing in diagnostics: decoded as `check`
/// decodes it, bad sequences replaced, so positions match.
pub fn source_text(source: &[u8]) -> Cow<'_, str> {
    match utf16(source) {
        Some((units, big_endian)) => {
            let units = units
                .chunks_exact(2)
                .map(|u| unit(u, big_endian))
                .collect::<Vec<_>>();
            Cow::Owned(String::from_utf16_lossy(&units))
        }
        None => String::from_utf8_lossy(source),
    }
}

/// The bytes after a UTF-16 byte order mark, and whether big-endian.
fn utf16(source: &[u8]) -> Option<(&[u8], bool)> {
    match source {
        [0xff, 0xfe, rest @ ..] => Some((rest, false)),
        [0xfe, 0xff, rest @ ..] => Some((rest, true)),
        _ => None,
    }
}

fn unit(b: &[u8], big_endian: bool) -> u16 {
    let pair = [b[0], b[1]];
    if big_endian {
        u16::from_be_bytes(pair)
    } else {
        u16::from_le_bytes(pair)
    }
}

/// The text up to the first bad UTF-16 sequence, and go-yaml's name for it.
fn decode_utf16(bytes: &[u8], big_endian: bool) -> (String, Option<&'static str>) {
    let mut text = String::with_capacity(bytes.len() / 2);
    let mut i = 0;
    while i < bytes.len() {
        if bytes.len() - i < 2 {
            return (text, Some("incomplete UTF-16 character"));
        }
        let u = unit(&bytes[i..], big_endian);
        let value = match u {
            0xdc00..=0xdfff => return (text, Some("unexpected low surrogate area")),
            0xd800..=0xdbff => {
                if bytes.len() - i < 4 {
                    return (text, Some("incomplete UTF-16 surrogate pair"));
                }
                let low = unit(&bytes[i + 2..], big_endian);
                if !(0xdc00..=0xdfff).contains(&low) {
                    return (text, Some("expected low surrogate area"));
                }
                i += 2;
                0x10000 + ((u32::from(u) & 0x3ff) << 10) + (u32::from(low) & 0x3ff)
            }
            _ => u32::from(u),
        };
        i += 2;
        // Surrogates were handled above, so every value is a char.
        text.extend(char::from_u32(value));
    }
    (text, None)
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
        assert_eq!(check(src.as_bytes()), Ok(Cow::Borrowed(src)));
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

    fn utf16(s: &str, big_endian: bool) -> Vec<u8> {
        let bom: &[u8] = if big_endian {
            &[0xfe, 0xff]
        } else {
            &[0xff, 0xfe]
        };
        let mut v = bom.to_vec();
        for u in s.encode_utf16() {
            v.extend(if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            });
        }
        v
    }

    #[test]
    fn utf16_with_a_bom_is_decoded_as_go_yaml_does() {
        let s = "a: é\nb: \u{1f600}\n";
        for be in [false, true] {
            assert_eq!(check(&utf16(s, be)).unwrap(), s);
            assert_eq!(source_text(&utf16(s, be)), s);
        }
        let msg = "control characters are not allowed";
        assert_eq!(err(&utf16("a: 1\nb\u{1}", true)), (msg, 2, 2));
        let mut odd = utf16("a: 1\nbc", false);
        odd.push(b'x');
        assert_eq!(err(&odd), ("incomplete UTF-16 character", 2, 3));
        let mut lone_low = utf16("ab", false);
        lone_low.extend([0x00, 0xdc]);
        assert_eq!(err(&lone_low), ("unexpected low surrogate area", 1, 3));
        let mut cut = utf16("ab", false);
        cut.extend([0x3d, 0xd8]);
        assert_eq!(err(&cut), ("incomplete UTF-16 surrogate pair", 1, 3));
        let mut unpaired = utf16("ab", false);
        unpaired.extend([0x3d, 0xd8, 0x41, 0x00]);
        assert_eq!(err(&unpaired), ("expected low surrogate area", 1, 3));
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
