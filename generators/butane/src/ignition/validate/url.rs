//! URL checks as Ignition makes them (Go's `net/url` parsing rules for what
//! matters here: scheme, control characters, bad escapes; data URLs must
//! decode).

use base64::Engine;

pub const INVALID_URL: &str = "unable to parse url";
pub const INVALID_SCHEME: &str = "invalid url scheme";

/// Go's `url.Parse`: the scheme (lowercased, "" when none) or an error.
pub fn scheme(s: &str) -> Result<String, &'static str> {
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(INVALID_URL);
    }
    let before_query = s.split(['?', '#']).next().unwrap_or("");
    if !escapes_ok(before_query) || !escapes_ok(s.split_once('#').map(|x| x.1).unwrap_or("")) {
        return Err(INVALID_URL);
    }
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(INVALID_URL),
            ':' => return Ok(s[..i].to_ascii_lowercase()),
            _ => return Ok(String::new()),
        }
    }
    Ok(String::new())
}

fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// Ignition 3.3/3.4 `validateURL`: the schemes it can fetch from, and data
/// URLs that decode.
pub fn validate(s: &str) -> Result<(), String> {
    let scheme = scheme(s).map_err(str::to_string)?;
    match scheme.as_str() {
        "http" | "https" | "tftp" | "gs" => Ok(()),
        "s3" => {
            let query = s.split_once('?').map(|x| x.1).unwrap_or("");
            let query = query.split('#').next().unwrap_or("");
            for pair in query.split(['&', ';']) {
                if let Some(v) = pair.strip_prefix("versionId") {
                    if v.is_empty() || v == "=" {
                        return Err("invalid S3 object VersionId".into());
                    }
                    break;
                }
            }
            Ok(())
        }
        "data" => decode_data(s).map(|_| ()),
        _ => Err(INVALID_SCHEME.into()),
    }
}

/// Decodes a data URL (RFC 2397) to its bytes.
pub fn decode_data(s: &str) -> Result<Vec<u8>, String> {
    let rest = &s[5..];
    let Some((header, data)) = rest.split_once(',') else {
        return Err("missing comma".into());
    };
    let (media, base64) = match header.strip_suffix(";base64") {
        Some(m) => (m, true),
        None => (header, false),
    };
    if !media.is_empty() {
        let mut parts = media.split(';');
        let t = parts.next().unwrap_or("");
        if !t.is_empty() && !t.contains('/') {
            return Err(format!("invalid media type {t:?}"));
        }
        if parts.any(|p| !p.contains('=')) {
            return Err("invalid media type parameter".into());
        }
    }
    let raw = percent_decode(data)?;
    if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(&raw)
            .map_err(|e| format!("illegal base64 data: {e}"))
    } else {
        Ok(raw)
    }
}

fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or("invalid URL escape")?;
            let h = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(h.ok_or("invalid URL escape")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_data_urls() {
        assert!(validate("https://example.com/x").is_ok());
        assert!(validate("s3://bucket/key").is_ok());
        assert_eq!(validate("ftp://x").unwrap_err(), INVALID_SCHEME);
        assert_eq!(validate("/relative").unwrap_err(), INVALID_SCHEME);
        assert_eq!(validate("http://x/%zz").unwrap_err(), INVALID_URL);
        assert_eq!(decode_data("data:,a%20b").unwrap(), b"a b");
        assert_eq!(decode_data("data:;base64,aGk=").unwrap(), b"hi");
        assert!(decode_data("data:;base64,!!").is_err());
        assert!(decode_data("data:text,x").is_err());
    }
}
