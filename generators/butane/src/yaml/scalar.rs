//! Scalar resolution as go-yaml v3 does it (which is what Butane uses).
//!
//! YAML 1.2 core schema for plain scalars, with go-yaml's compatibility
//! extras: `0644` is still octal (YAML 1.1 style) besides `0o644`, `0x1A4`
//! and `0b…`; underscores in numbers are ignored; only `true`/`false` (three
//! spellings each) are booleans when resolving, but a field typed bool also
//! accepts the YAML 1.1 words `y/yes/on/n/no/off` (see [`bool_word`]).
//! Quoted and block scalars are always strings unless explicitly tagged.

use super::{Scalar, Style};

#[derive(Clone, Debug, PartialEq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    /// go-yaml's int/int64/uint64 results, widened.
    Int(i128),
    Float(f64),
    Str(&'a str),
    /// `!!binary`: base64-decoded bytes.
    Binary(Vec<u8>),
    /// A local tag (`!foo`) go-yaml does not resolve: the text, as a string.
    Tagged(&'a str, &'a str),
    /// An explicit tag the value does not fit (`!!int abc`), or bad base64.
    Invalid(String),
}

impl Resolved<'_> {
    pub fn tag_name(&self) -> &'static str {
        match self {
            Resolved::Null => "!!null",
            Resolved::Bool(_) => "!!bool",
            Resolved::Int(_) => "!!int",
            Resolved::Float(_) => "!!float",
            Resolved::Str(_) | Resolved::Invalid(_) | Resolved::Tagged(..) => "!!str",
            Resolved::Binary(_) => "!!binary",
        }
    }
}

/// Normalizes a tag to go-yaml's short form (`tag:yaml.org,2002:int` -> `!!int`).
pub fn short_tag(handle: &str, suffix: &str) -> String {
    if handle == "tag:yaml.org,2002:" || handle == "!!" {
        format!("!!{suffix}")
    } else if handle == "!" {
        format!("!{suffix}")
    } else {
        format!("{handle}{suffix}")
    }
}

pub fn resolve(s: &Scalar) -> Resolved<'_> {
    let tag = s.tag.as_deref().unwrap_or("");
    if tag.is_empty() && s.style != Style::Plain {
        return Resolved::Str(&s.value);
    }
    match tag {
        "" | "!!str" | "!!bool" | "!!int" | "!!float" | "!!null" | "!!timestamp" => {}
        "!!binary" => {
            use base64::Engine;
            let cleaned: String = s.value.chars().filter(|c| !c.is_whitespace()).collect();
            return match base64::engine::general_purpose::STANDARD.decode(cleaned) {
                Ok(b) => Resolved::Binary(b),
                Err(_) => Resolved::Invalid("!!binary value contains invalid base64 data".into()),
            };
        }
        other => return Resolved::Tagged(other, &s.value),
    }
    if tag == "!!str" {
        return Resolved::Str(&s.value);
    }
    let plain = resolve_plain(&s.value);
    if tag.is_empty() {
        return plain;
    }
    // An explicit tag must agree with what the text resolves to; an int
    // under `!!float` is converted, as go-yaml does.
    let got = plain.tag_name();
    match (&plain, tag) {
        (_, t) if t == got => plain,
        (Resolved::Int(i), "!!float") => Resolved::Float(*i as f64),
        (Resolved::Str(_), "!!timestamp") => plain,
        _ => Resolved::Invalid(format!("cannot decode {got} `{}` as a {tag}", s.value)),
    }
}

fn resolve_plain(v: &str) -> Resolved<'_> {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = v.as_bytes()[0];
    if first == b'.' {
        if let Some(f) = parse_go_float(v) {
            return Resolved::Float(f);
        }
        return Resolved::Str(v);
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Resolved::Str(v);
    }
    let plain: String = v.chars().filter(|&c| c != '_').collect();
    if let Some(i) = parse_go_int(&plain) {
        return Resolved::Int(i);
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Resolved::Float(f);
        }
    }
    // "-0b…", "-0o…" forms are covered by parse_go_int's sign handling.
    Resolved::Str(v)
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint(s, 0, 64)`: optional
/// sign (ParseUint takes none), `0x`/`0o`/`0b` prefixes, a leading `0` means
/// octal. Returns values in the union of i64 and u64.
fn parse_go_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let signed = s.starts_with(['+', '-']);
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        // ParseInt only: down to i64::MIN.
        (mag <= 1u128 << 63).then(|| -(mag as i128))
    } else if mag <= i64::MAX as u128 || (!signed && mag <= u64::MAX as u128) {
        Some(mag as i128)
    } else {
        None
    }
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's ParseFloat for text starting with '.', restricted to decimal forms.
fn parse_go_float(s: &str) -> Option<f64> {
    if is_yaml_float(s) {
        s.parse().ok()
    } else {
        None
    }
}

/// The YAML 1.1 boolean words go-yaml still accepts for a typed bool field.
pub fn bool_word(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(v: &str) -> Scalar {
        Scalar {
            value: v.into(),
            style: Style::Plain,
            tag: None,
        }
    }

    #[test]
    fn modes_in_every_spelling() {
        for v in [
            "0644",
            "0o644",
            "0x1A4",
            "420",
            "0b110100100",
            "+420",
            "4_20",
        ] {
            assert_eq!(resolve(&plain(v)), Resolved::Int(420), "{v}");
        }
    }

    #[test]
    fn yaml_1_2_core_and_go_extras() {
        assert_eq!(resolve(&plain("yes")), Resolved::Str("yes"));
        assert_eq!(resolve(&plain("True")), Resolved::Bool(true));
        assert_eq!(resolve(&plain("~")), Resolved::Null);
        assert_eq!(resolve(&plain("1e3")), Resolved::Float(1000.0));
        assert_eq!(resolve(&plain("0999")), Resolved::Float(999.0));
        assert_eq!(resolve(&plain("-0x10")), Resolved::Int(-16));
        assert_eq!(
            resolve(&plain("18446744073709551615")),
            Resolved::Int(u64::MAX as i128)
        );
        assert_eq!(resolve(&plain("0x")), Resolved::Str("0x"));
        let quoted = Scalar {
            value: "0644".into(),
            style: Style::Quoted,
            tag: None,
        };
        assert_eq!(resolve(&quoted), Resolved::Str("0644"));
        let tagged = Scalar {
            value: "12".into(),
            style: Style::Quoted,
            tag: Some("!!int".into()),
        };
        assert_eq!(resolve(&tagged), Resolved::Int(12));
        let bad = Scalar {
            value: "x".into(),
            style: Style::Plain,
            tag: Some("!!int".into()),
        };
        assert!(matches!(resolve(&bad), Resolved::Invalid(_)));
    }
}
