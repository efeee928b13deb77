//! systemd `EnvironmentFile=` syntax: writing values so that systemd reads
//! back exactly the value given, and reading such files (our own, and the
//! per-node `--env-file` a user keeps).
//!
//! Facts from systemd.exec(5) and systemd's env-file parser that this
//! module relies on:
//! - Inside double quotes every character is literal except `"` (ends the
//!   quote) and `\`. A backslash before one of `"` `\` `` ` `` `$` yields that
//!   character; before a newline it is a line continuation; before anything
//!   else it is kept together with that character. So escaping exactly those
//!   four characters makes any other text round-trip, leading and trailing
//!   whitespace included.
//! - Outside quotes, whitespace around the value is dropped, `\x` yields `x`,
//!   `'…'` is literal; quoted and unquoted parts concatenate.
//! - Lines starting with `#` or `;` are comments; a later assignment of the
//!   same key replaces an earlier one.
//! - The file is read as a C string (a NUL ends it) and invalid UTF-8 makes
//!   systemd refuse the file.
//! - Older systemd versions drop values holding control characters other
//!   than TAB and newline; a newline would also break the one-line-per-
//!   variable form that people grep. Both are refused here.
//! - The kernel refuses an environment string (`KEY=value`) longer than
//!   MAX_ARG_STRLEN (32 pages, 131072 bytes) at exec time.
//!
//! The same quoting is valid POSIX `sh` double-quoting, so `. file` in a
//! shell yields the same values too (the tests check both).

use crate::error::{Error, Result};

/// MAX_ARG_STRLEN on Linux: the longest `KEY=value` string exec accepts,
/// counting the terminating NUL.
pub const MAX_ASSIGNMENT: usize = 131072;

/// One `KEY=value` read from a file, with the line it started on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// A variable name systemd accepts: ASCII letters, digits and `_`, not
/// starting with a digit.
pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks that `value` can be written for `key` and read back unchanged.
/// The error names the variable and the problem, never the value.
pub fn check(key: &str, value: &str) -> Result<()> {
    if !is_valid_key(key) {
        let (at, what) = first_bad_name_char(key);
        return Err(Error::Unrepresentable {
            key: "a variable name".into(),
            reason: format!(
                "{what} at character {} is not allowed (letters, digits and _, not starting with a digit)",
                at + 1
            ),
        });
    }
    if let Some((i, c)) = value
        .char_indices()
        .find(|&(_, c)| c.is_control() && c != '\t')
    {
        let what = match c {
            '\0' => "a NUL byte, which cannot be passed in an environment variable".to_owned(),
            '\n' | '\r' => format!(
                "a line break (character {} of the value); an EnvironmentFile= line holds one variable",
                i + 1
            ),
            _ => format!(
                "the control character U+{:04X} (character {} of the value), which systemd drops",
                c as u32,
                i + 1
            ),
        };
        return Err(Error::Unrepresentable {
            key: key.to_owned(),
            reason: format!("the value contains {what}"),
        });
    }
    if key.len() + 1 + value.len() + 1 > MAX_ASSIGNMENT {
        return Err(Error::Unrepresentable {
            key: key.to_owned(),
            reason: format!(
                "the value is {} bytes long; `KEY=value` must stay under {MAX_ASSIGNMENT} bytes (the kernel's limit for one environment string)",
                value.len()
            ),
        });
    }
    Ok(())
}

/// `value` in double quotes, escaped for systemd (and sh).
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '`' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The whole file: a comment saying what it is, then one `KEY="value"` line
/// per variable, in the order given.
pub fn render(comment: &str, vars: &[(String, String)]) -> Result<String> {
    let mut out = String::new();
    for line in comment.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    for (key, value) in vars {
        check(key, value)?;
        out.push_str(key);
        out.push('=');
        out.push_str(&quote(value));
        out.push('\n');
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    PreKey,
    Key,
    PreValue,
    Value,
    ValueEscape,
    SingleQuote,
    DoubleQuote,
    DoubleQuoteEscape,
    Comment,
    CommentEscape,
}

/// Reads an env file the way systemd does, but strictly: where systemd would
/// silently skip or guess (a line without `=`, a bad variable name, an
/// unterminated quote, a variable set twice, invalid UTF-8, NUL) this
/// returns an error at `file:line:col`.
pub fn parse(bytes: &[u8], file: &str) -> Result<Vec<Entry>> {
    let err = |line: usize, col: usize, message: String| Error::EnvSyntax {
        file: file.to_owned(),
        line,
        col,
        message,
    };
    // Editors on Windows start files with a byte order mark; it is not part
    // of the first variable's name, and editors do not count it as a column.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, col) = position(bytes, e.valid_up_to());
        err(line, col, "invalid UTF-8".into())
    })?;
    if let Some(at) = text.find('\0') {
        let (line, col) = position(bytes, at);
        return Err(err(line, col, "a NUL byte".into()));
    }

    let mut entries: Vec<Entry> = Vec::new();
    let mut state = State::PreKey;
    let (mut line, mut col) = (1usize, 0usize);
    let mut key = String::new();
    let (mut key_line, mut key_col) = (1, 1);
    let mut key_trim: Option<usize> = None;
    let mut value = String::new();
    let mut value_trim: Option<usize> = None;
    let mut quote_at = (0, 0);

    let mut push = |key: &mut String,
                    key_trim: &mut Option<usize>,
                    value: &mut String,
                    key_line: usize,
                    key_col: usize|
     -> Result<()> {
        if let Some(t) = key_trim.take() {
            key.truncate(t);
        }
        if !is_valid_key(key) {
            let (at, what) = first_bad_name_char(key);
            return Err(err(
                key_line,
                key_col + at,
                format!(
                    "{what} is not allowed in a variable name (letters, digits and _, not starting with a digit){}",
                    if at > 0 { "; is the `=` missing or misplaced?" } else { "" }
                ),
            ));
        }
        if let Some(first) = entries.iter().find(|e| e.key == *key) {
            return Err(err(
                key_line,
                key_col,
                format!("{key} is set twice (first on line {})", first.line),
            ));
        }
        entries.push(Entry {
            key: std::mem::take(key),
            value: std::mem::take(value),
            line: key_line,
        });
        Ok(())
    };

    for c in text.chars() {
        col += 1;
        let newline = c == '\n' || c == '\r';
        match state {
            State::PreKey => {
                if c == '#' || c == ';' {
                    state = State::Comment;
                } else if !c.is_ascii_whitespace() {
                    state = State::Key;
                    key_trim = None;
                    key.push(c);
                    (key_line, key_col) = (line, col);
                }
            }
            State::Key => {
                if newline {
                    return Err(err(key_line, key_col, NO_EQUALS.into()));
                } else if c == '=' {
                    state = State::PreValue;
                    value_trim = None;
                } else {
                    if !c.is_ascii_whitespace() {
                        key_trim = None;
                    } else if key_trim.is_none() {
                        key_trim = Some(key.len());
                    }
                    key.push(c);
                }
            }
            State::PreValue => {
                if newline {
                    state = State::PreKey;
                    push(&mut key, &mut key_trim, &mut value, key_line, key_col)?;
                } else if c == '\'' {
                    state = State::SingleQuote;
                    quote_at = (line, col);
                } else if c == '"' {
                    state = State::DoubleQuote;
                    quote_at = (line, col);
                } else if c == '\\' {
                    state = State::ValueEscape;
                } else if !c.is_ascii_whitespace() {
                    state = State::Value;
                    value.push(c);
                }
            }
            State::Value => {
                if newline {
                    state = State::PreKey;
                    if let Some(t) = value_trim.take() {
                        value.truncate(t);
                    }
                    push(&mut key, &mut key_trim, &mut value, key_line, key_col)?;
                } else if c == '\\' {
                    state = State::ValueEscape;
                    value_trim = None;
                } else {
                    if !c.is_ascii_whitespace() {
                        value_trim = None;
                    } else if value_trim.is_none() {
                        value_trim = Some(value.len());
                    }
                    value.push(c);
                }
            }
            State::ValueEscape => {
                state = State::Value;
                if !newline {
                    value.push(c);
                }
            }
            State::SingleQuote => {
                if c == '\'' {
                    state = State::PreValue;
                } else {
                    value.push(c);
                }
            }
            State::DoubleQuote => {
                if c == '"' {
                    state = State::PreValue;
                } else if c == '\\' {
                    state = State::DoubleQuoteEscape;
                } else {
                    value.push(c);
                }
            }
            State::DoubleQuoteEscape => {
                state = State::DoubleQuote;
                if matches!(c, '"' | '\\' | '`' | '$') {
                    value.push(c);
                } else if c != '\n' {
                    value.push('\\');
                    value.push(c);
                }
            }
            State::Comment => {
                if c == '\\' {
                    state = State::CommentEscape;
                } else if newline {
                    state = State::PreKey;
                }
            }
            State::CommentEscape => {
                state = if newline {
                    State::PreKey
                } else {
                    State::Comment
                };
            }
        }
        if c == '\n' {
            line += 1;
            col = 0;
        }
    }
    match state {
        State::SingleQuote | State::DoubleQuote | State::DoubleQuoteEscape => {
            return Err(err(
                quote_at.0,
                quote_at.1,
                "this quote is never closed".into(),
            ));
        }
        State::Key => {
            return Err(err(key_line, key_col, NO_EQUALS.into()));
        }
        State::Value => {
            if let Some(t) = value_trim.take() {
                value.truncate(t);
            }
            push(&mut key, &mut key_trim, &mut value, key_line, key_col)?;
        }
        State::PreValue | State::ValueEscape => {
            push(&mut key, &mut key_trim, &mut value, key_line, key_col)?;
        }
        State::PreKey | State::Comment | State::CommentEscape => {}
    }
    Ok(entries)
}

/// A line without `=`. Its text is not shown: without the separator
/// nothing tells the name from the value (`K3S_TOKEN K10…`, `K3S_TOKENK10…`),
/// and error messages end up in terminals and CI logs.
const NO_EQUALS: &str = "this line has no `=` (expected KEY=value)";

/// Where a malformed name first goes wrong (a character index) and what
/// is there, said without repeating the text around it: whatever follows a
/// mistyped separator (`"`, `,`, `;`, `:`, a space) may be the value.
fn first_bad_name_char(key: &str) -> (usize, String) {
    let Some((at, c)) = key
        .chars()
        .enumerate()
        .find(|&(i, c)| !(c.is_ascii_alphanumeric() || c == '_') || (i == 0 && c.is_ascii_digit()))
    else {
        return (0, "an empty name".into());
    };
    let what = match c {
        ' ' => "a space".to_owned(),
        '\t' => "a tab".to_owned(),
        '0'..='9' => "a digit at the start".to_owned(),
        c if c.is_ascii_punctuation() => format!("`{c}`"),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        _ => "a non-ASCII character".to_owned(),
    };
    (at, what)
}

/// 1-based line and column (in characters) of byte `at`.
fn position(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests;
