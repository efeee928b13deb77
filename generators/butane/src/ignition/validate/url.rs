//! URL checks as Ignition makes them (Go's `net/url` parsing rules for what
//! matters here: scheme, control characters, bad escapes; data URLs must
//! decode).

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

/// Decodes a data URL (RFC 2397) to its bytes, with the one decoder the
/// whole project uses (`ephemeros_node::data_url`).
pub fn decode_data(s: &str) -> Result<Vec<u8>, String> {
    ephemeros_node::data_url::decode(s).map_err(|e| e.to_string())
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
