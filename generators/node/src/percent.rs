//! Percent-decoding (RFC 3986 §2.1), the one decoder for data URLs and git
//! remote URLs alike.

/// A `%` not followed by two hex digits, at byte `0` of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URL escape (a `%` without two hex digits) at byte {0}")]
pub struct BadEscape(pub usize);

/// The bytes `text` stands for.
pub fn decode(text: &str) -> Result<Vec<u8>, BadEscape> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(BadEscape(i))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_errors() {
        assert_eq!(decode("a%20b%2f%2F%e2%82%ac").unwrap(), "a b//€".as_bytes());
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("100%"), Err(BadEscape(3)));
        assert_eq!(decode("%zz"), Err(BadEscape(0)));
        assert_eq!(decode("x%4"), Err(BadEscape(1)));
        // `+` is not a space outside forms.
        assert_eq!(decode("a+b").unwrap(), b"a+b");
    }
}
