//! The source line echoed under a diagnostic, made safe for a terminal.
//!
//! The line comes from untrusted input: raw escape sequences (an OSC title
//! change, a screen clear) or binary garbage must not reach the terminal
//! as-is, and a multi-kilobyte line must not flood it. Characters a terminal
//! would act on or hide are shown as `\u{1b}`; a long line is clipped to a
//! window around the span, marked with `…`; the underline columns are
//! computed on the text as shown, so the carets stay under the span.

use std::fmt::Write;

/// Columns of source text shown at most (escapes count as their width).
const MAX_WIDTH: usize = 100;
/// Columns kept before the span when a long line is clipped.
const LEAD: usize = 24;

/// The line as shown and the underline: `start..end` in display columns
/// (0-based) of `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// Line `line_no` (1-based) of `source`, split as the YAML scanner splits
/// lines (CR, LF or CRLF) and without a leading byte order mark, which
/// positions do not count.
pub fn source_line(source: &str, line_no: usize) -> &str {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut rest = source;
    for _ in 1..line_no {
        match rest.find(['\r', '\n']) {
            Some(i) => {
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => return "",
        }
    }
    rest.find(['\r', '\n']).map_or(rest, |i| &rest[..i])
}

/// Characters that would be acted on or be invisible: C0/C1 controls and
/// DEL, bidirectional overrides and isolates (they reorder what follows),
/// zero-width and line-separator characters, noncharacters.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{fffe}'
            | '\u{ffff}')
}

/// Escapes `s` for a terminal (used for messages too, which can quote
/// values from the config).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_shown(&mut out, c);
    }
    out
}

fn push_shown(out: &mut String, c: char) {
    if c == '\t' {
        // One column, so that carets line up whatever the tab stops are.
        out.push(' ');
    } else if needs_escape(c) {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    } else {
        out.push(c);
    }
}

/// `line` shown with the character range `start..end` (0-based character
/// indices, `end` exclusive; clamped to the line) underlined.
pub fn snippet(line: &str, start: usize, end: usize) -> Snippet {
    let chars: Vec<char> = line.chars().collect();
    let n = chars.len();
    let start = start.min(n);
    let end = end.clamp(start, n);
    // Trailing blanks are not worth underlining.
    let mut visible = end;
    while visible > start && chars[visible - 1].is_whitespace() {
        visible -= 1;
    }
    let pieces: Vec<String> = chars
        .iter()
        .map(|&c| {
            let mut s = String::new();
            push_shown(&mut s, c);
            s
        })
        .collect();
    // col[i]: display column where character i starts; col[n]: the width.
    let mut col = Vec::with_capacity(n + 1);
    col.push(0);
    for p in &pieces {
        col.push(col[col.len() - 1] + p.chars().count());
    }
    let total = col[n];
    let (ds, de) = (col[start], col[visible].max(col[start] + 1));
    if total <= MAX_WIDTH {
        return Snippet {
            text: pieces.concat(),
            start: ds,
            end: de,
        };
    }
    // Whole characters only: the first one starting at or after the lead,
    // up to the last one ending within the width.
    let first = (0..=n)
        .find(|&i| col[i] >= ds.saturating_sub(LEAD))
        .unwrap_or(n);
    let mut last = first;
    while last < n && col[last + 1] - col[first] <= MAX_WIDTH {
        last += 1;
    }
    let mut text = String::new();
    let shift = if first > 0 {
        text.push('…');
        1
    } else {
        0
    };
    text.push_str(&pieces[first..last].concat());
    if last < n {
        text.push('…');
    }
    let origin = col[first];
    let start = ds - origin + shift;
    let end = (de.min(col[last]) - origin + shift).max(start + 1);
    Snippet { text, start, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carets(s: &Snippet) -> String {
        format!("{}{}", " ".repeat(s.start), "^".repeat(s.end - s.start))
    }

    #[test]
    fn escapes_terminal_controls_and_keeps_the_underline_under_the_span() {
        let line = "  mode: \u{1b}]0;pwned\u{7} 0o644 x";
        // Characters 8..=17 are the OSC sequence; 19..24 is "0o644".
        let s = snippet(line, 19, 24);
        assert_eq!(s.text, "  mode: \\u{1b}]0;pwned\\u{7} 0o644 x");
        assert!(!s.text.chars().any(|c| c.is_control()));
        let under: String = s.text.chars().skip(s.start).take(s.end - s.start).collect();
        assert_eq!(under, "0o644", "{}\n{}", s.text, carets(&s));
    }

    #[test]
    fn escapes_c1_bidi_and_invisible_characters() {
        let s = snippet("a\u{9b}b\u{202e}c\u{200b}d\u{7f}\te", 0, 1);
        assert_eq!(s.text, "a\\u{9b}b\\u{202e}c\\u{200b}d\\u{7f} e");
        assert_eq!(escape("x\u{1b}[2Jy\nz"), "x\\u{1b}[2Jy\\u{a}z");
    }

    #[test]
    fn plain_lines_are_unchanged() {
        let s = snippet("    - path: /etc/é  ", 6, 20);
        assert_eq!(s.text, "    - path: /etc/é  ");
        // Trailing blanks are not underlined.
        assert_eq!((s.start, s.end), (6, 18));
        // A span at the end of the line still gets one caret.
        let s = snippet("abc", 3, 3);
        assert_eq!((s.start, s.end), (3, 4));
    }

    #[test]
    fn lines_split_at_cr_lf_and_crlf_without_the_bom() {
        let src = "\u{feff}a: 1\rb: 2\r\nc: 3\n\nd";
        let lines: Vec<&str> = (1..=6).map(|n| source_line(src, n)).collect();
        assert_eq!(lines, ["a: 1", "b: 2", "c: 3", "", "d", ""]);
    }

    #[test]
    fn long_lines_are_clipped_around_the_span() {
        let garbage: String = (0..4096u32)
            .map(|i| char::from_u32(i % 0x250).unwrap())
            .collect();
        let line = format!("{garbage}key: value{garbage}");
        let at = garbage.chars().count();
        let s = snippet(&line, at, at + 3);
        let width = s.text.chars().count();
        assert!(width <= MAX_WIDTH + 2, "{width}: {}", s.text);
        assert!(s.text.starts_with('…') && s.text.ends_with('…'));
        assert!(!s.text.chars().any(|c| c.is_control()));
        let under: String = s.text.chars().skip(s.start).take(s.end - s.start).collect();
        assert_eq!(under, "key", "{}\n{}", s.text, carets(&s));

        // A span running past the window is underlined to its edge.
        let line = format!("k: {}", "v".repeat(500));
        let s = snippet(&line, 3, 503);
        assert_eq!(s.start, 3);
        assert_eq!(s.end, MAX_WIDTH);
        assert!(s.text.ends_with('…'));
    }
}
