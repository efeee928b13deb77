//! systemd unit text as Ignition reads it (go-systemd's lexer): enough to
//! reject what Ignition rejects and to find the options of `[Install]`.

const LINE_MAX: usize = 2048;

/// One parsed option: its section and name.
#[derive(Debug)]
pub struct UnitOption {
    pub section: String,
}

fn is_comment(c: char) -> bool {
    c == '#' || c == ';'
}

/// Parses unit contents; the error text is Ignition's.
pub fn parse(contents: &str) -> Result<Vec<UnitOption>, String> {
    lex(contents).map_err(|e| format!("invalid unit content: {e}"))
}

fn lex(s: &str) -> Result<Vec<UnitOption>, String> {
    if s.split(['\n', '\r']).any(|l| l.len() >= LINE_MAX) {
        return Err(format!("line too long (max {LINE_MAX} bytes)"));
    }
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut opts = Vec::new();
    let mut section: Option<String> = None;
    let to_eol = |i: &mut usize| -> String {
        let start = *i;
        while *i < chars.len() && chars[*i] != '\n' {
            *i += 1;
        }
        let line: String = chars[start..*i].iter().collect();
        if *i < chars.len() {
            *i += 1;
        }
        line
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if section.is_some() && c.is_whitespace() {
            continue;
        }
        if c == '[' {
            let Some(end) = chars[i..].iter().position(|&x| x == ']') else {
                return Err("unable to find end of section".into());
            };
            let name: String = chars[i..i + end].iter().collect();
            i += end + 1;
            let garbage = to_eol(&mut i);
            if !garbage.trim().is_empty() {
                return Err(format!(
                    "found garbage after section name {}: {:?}",
                    section.as_deref().unwrap_or(""),
                    garbage.trim()
                ));
            }
            section = Some(name);
            continue;
        }
        if is_comment(c) {
            // A comment continues onto the next line after a backslash.
            loop {
                let line = to_eol(&mut i);
                if !line.trim_end_matches(' ').ends_with('\\') || i >= chars.len() {
                    break;
                }
            }
            continue;
        }
        let Some(sec) = &section else { continue };
        // Option name up to '='.
        i -= 1;
        loop {
            let Some(&x) = chars.get(i) else {
                return Err("EOF".into());
            };
            i += 1;
            if x == '\n' || x == '\r' {
                return Err("unexpected newline encountered while parsing option name".into());
            }
            if x == '=' {
                break;
            }
        }
        loop {
            let line = to_eol(&mut i);
            let line = line.strip_suffix('\r').unwrap_or(&line).to_string();
            if line.trim().is_empty() || !line.ends_with('\\') || i >= chars.len() {
                break;
            }
        }
        opts.push(UnitOption {
            section: sec.clone(),
        });
    }
    Ok(opts)
}

pub fn has_install(opts: &[UnitOption]) -> bool {
    opts.iter().any(|o| o.section == "Install")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_install_and_rejects_what_ignition_rejects() {
        let o = parse("# c\n[Unit]\nA=b \\\n  c\n[Install]\nWantedBy=x\n").unwrap();
        assert!(has_install(&o));
        assert!(!has_install(&parse("[Unit]\nA=b\n[Install]\n").unwrap()));
        assert_eq!(
            parse("[Unit]\nbroken\n").unwrap_err(),
            "invalid unit content: unexpected newline encountered while parsing option name"
        );
        assert_eq!(
            parse("[Unit\n").unwrap_err(),
            "invalid unit content: unable to find end of section"
        );
        assert_eq!(parse("[Unit]\nx").unwrap_err(), "invalid unit content: EOF");
    }
}
