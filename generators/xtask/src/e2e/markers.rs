//! Parsing the stand-in's marker lines (`E2E <key> <value…>`) out of the
//! serial log, and the secrets' env files as systemd reads them.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use base64::Engine;

/// One path of the scratch root as the stand-in listed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// sha512 (files), link target (links), `-` (directories).
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Markers {
    /// key -> values of every marker with that key, in log order.
    pub by_key: BTreeMap<String, Vec<String>>,
    pub entries: BTreeMap<String, Entry>,
    pub contents: BTreeMap<String, Vec<u8>>,
    pub secrets: BTreeMap<String, Vec<u8>>,
}

impl Markers {
    pub fn parse(log: &str) -> Result<Self> {
        let mut m = Markers::default();
        for line in log.lines() {
            // A marker may follow other output on the same line (a kernel
            // message without a newline); take it from its `E2E ` on.
            let Some(pos) = line.find("E2E ") else {
                continue;
            };
            let rest = &line[pos + 4..];
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            match key {
                "entry" => {
                    let (path, e) =
                        parse_entry(value).with_context(|| format!("bad entry marker: {line}"))?;
                    m.entries.insert(path, e);
                }
                "content" => {
                    let (b64, path) = value.split_once(' ').context("bad content marker")?;
                    m.contents.insert(path.to_owned(), b64_decode(b64)?);
                }
                "secrets-file" => {
                    let (name, b64) = value.split_once(' ').unwrap_or((value, ""));
                    m.secrets.insert(name.to_owned(), b64_decode(b64)?);
                }
                _ => m
                    .by_key
                    .entry(key.to_owned())
                    .or_default()
                    .push(value.to_owned()),
            }
        }
        Ok(m)
    }

    pub fn first(&self, key: &str) -> Option<&str> {
        self.by_key
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    pub fn has(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }
}

/// `<kind> <mode> <uid> <gid> <detail> <path…>`; links list `777` as mode.
fn parse_entry(v: &str) -> Result<(String, Entry)> {
    let mut w = v.splitn(6, ' ');
    let mut next = || w.next().context("short entry marker");
    let kind = next()?.to_owned();
    let mode = u32::from_str_radix(next()?, 8)?;
    let uid = next()?.parse()?;
    let gid = next()?.parse()?;
    let mut detail = next()?.to_owned();
    let path = next()?.to_owned();
    if kind == "link" {
        detail = String::from_utf8(b64_decode(&detail)?)?
            .trim_end_matches('\n')
            .to_owned();
    }
    Ok((
        path,
        Entry {
            kind,
            mode,
            uid,
            gid,
            detail,
        },
    ))
}

pub fn b64_decode(s: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .with_context(|| format!("bad base64 {s:.40}"))
}

/// An `EnvironmentFile=` as systemd reads it (systemd.exec(5); the parser
/// is systemd's env-file.c): `KEY=value` lines, `#`/`;` comments; in double
/// quotes a backslash keeps `"`, `\`, `` ` `` and `$` literally, drops a
/// following newline and is itself kept before anything else; in single
/// quotes nothing is special; unquoted, a backslash escapes the next byte.
pub fn parse_env_file(text: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let c: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < c.len() {
        while i < c.len() && c[i].is_whitespace() {
            i += 1;
        }
        if i >= c.len() {
            break;
        }
        if c[i] == '#' || c[i] == ';' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while i < c.len() && c[i] != '=' && c[i] != '\n' {
            i += 1;
        }
        if i >= c.len() || c[i] != '=' {
            bail!(
                "env line without '=': {:?}",
                c[start..i].iter().collect::<String>()
            );
        }
        let key: String = c[start..i].iter().collect::<String>().trim().to_owned();
        i += 1;
        while i < c.len() && (c[i] == ' ' || c[i] == '\t') {
            i += 1;
        }
        let mut value = String::new();
        match c.get(i) {
            Some('"') => {
                i += 1;
                loop {
                    match c.get(i) {
                        None => bail!("{key}: unterminated double quote"),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match c.get(i) {
                                None => bail!("{key}: trailing backslash"),
                                Some('\n') => {}
                                Some(&e) if "\"\\`$".contains(e) => value.push(e),
                                Some(&e) => {
                                    value.push('\\');
                                    value.push(e);
                                }
                            }
                        }
                        Some(&ch) => value.push(ch),
                    }
                    i += 1;
                }
                i += 1;
            }
            Some('\'') => {
                i += 1;
                while c.get(i).is_some_and(|&ch| ch != '\'') {
                    value.push(c[i]);
                    i += 1;
                }
                if c.get(i).is_none() {
                    bail!("{key}: unterminated single quote");
                }
                i += 1;
            }
            _ => {
                while i < c.len() && c[i] != '\n' {
                    if c[i] == '\\' && i + 1 < c.len() {
                        i += 1;
                        if c[i] != '\n' {
                            value.push(c[i]);
                        }
                    } else {
                        value.push(c[i]);
                    }
                    i += 1;
                }
                let trimmed = value.trim_end().len();
                value.truncate(trimmed);
            }
        }
        // Anything after a closing quote up to the end of the line is ignored.
        while i < c.len() && c[i] != '\n' {
            i += 1;
        }
        out.insert(key, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_entries_and_secrets() {
        let log = "noise\nE2E cmdline Ym9vdA==\n[ 1.0] usb 1-1: newE2E secrets-file k3s_env SzM9IngiCg==\n\
                   E2E entry file 644 0 0 abcd etc/a b\nE2E entry link 777 0 0 L2Rldi9udWxs\
                   \x20etc/systemd/system/x.service\nE2E content aGk= home/core/.ssh/k\nE2E done ok\n";
        let m = Markers::parse(log).unwrap();
        assert_eq!(m.first("cmdline"), Some("Ym9vdA=="));
        assert_eq!(m.secrets["k3s_env"], b"K3=\"x\"\n");
        assert_eq!(m.entries["etc/a b"].detail, "abcd");
        assert_eq!(m.entries["etc/a b"].mode, 0o644);
        assert_eq!(
            m.entries["etc/systemd/system/x.service"].detail,
            "/dev/null"
        );
        assert_eq!(m.contents["home/core/.ssh/k"], b"hi");
        assert_eq!(m.first("done"), Some("ok"));
    }

    #[test]
    fn env_file_reads_back_like_systemd() {
        let text = "# comment\nK3S_TOKEN=\"x\\$(touch /pwned) \\\"quoted\\\" \\\\back\"\n\
                    EMPTY=\"\"\nRAW='a\\b'\nPLAIN=  v w  \nODD=\"a\\nb\"\n";
        let env = parse_env_file(text).unwrap();
        assert_eq!(env["K3S_TOKEN"], r#"x$(touch /pwned) "quoted" \back"#);
        assert_eq!(env["EMPTY"], "");
        assert_eq!(env["RAW"], "a\\b");
        assert_eq!(env["PLAIN"], "v w");
        assert_eq!(env["ODD"], "a\\nb");
    }

    #[test]
    fn env_file_errors_are_reported() {
        assert!(parse_env_file("K=\"open\n").is_err());
        assert!(parse_env_file("novalue\n").is_err());
    }
}
