//! `data:` URLs (RFC 2397), as Ignition reads a file's inline `source`:
//! `data:[mediatype][;base64],payload`, the payload percent-decoded and,
//! with `;base64`, base64-decoded (standard alphabet, padded). The one
//! decoder for the Butane translator's checks and for the tests that look
//! at what `ignition.ign` writes.

use base64::Engine;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataUrlError {
    #[error("not a data URL (no `data:` scheme)")]
    NotData,
    #[error("missing comma")]
    NoComma,
    #[error("invalid media type {0:?}")]
    MediaType(String),
    #[error("invalid media type parameter")]
    Parameter,
    #[error(transparent)]
    Escape(#[from] crate::percent::BadEscape),
    #[error("illegal base64 data: {0}")]
    Base64(String),
}

/// The bytes a data URL (with its `data:` scheme, in any case) holds.
pub fn decode(url: &str) -> Result<Vec<u8>, DataUrlError> {
    let rest = match url.get(..5) {
        Some(scheme) if scheme.eq_ignore_ascii_case("data:") => &url[5..],
        _ => return Err(DataUrlError::NotData),
    };
    let (header, payload) = rest.split_once(',').ok_or(DataUrlError::NoComma)?;
    let (media, base64) = match header.strip_suffix(";base64") {
        Some(m) => (m, true),
        None => (header, false),
    };
    if !media.is_empty() {
        let mut parts = media.split(';');
        let kind = parts.next().unwrap_or("");
        if !kind.is_empty() && !kind.contains('/') {
            return Err(DataUrlError::MediaType(kind.to_owned()));
        }
        if parts.any(|p| !p.contains('=')) {
            return Err(DataUrlError::Parameter);
        }
    }
    let raw = crate::percent::decode(payload)?;
    if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(&raw)
            .map_err(|e| DataUrlError::Base64(e.to_string()))
    } else {
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_base64() {
        assert_eq!(decode("data:,a%20b").unwrap(), b"a b");
        assert_eq!(decode("data:;base64,aGk=").unwrap(), b"hi");
        assert_eq!(decode("DATA:text/plain;charset=utf-8,x").unwrap(), b"x");
        assert_eq!(
            decode("data:,%5BDHCPv4%5D%0Ax%3D1%20y").unwrap(),
            b"[DHCPv4]\nx=1 y"
        );
        // The base64 text may itself be percent-encoded.
        assert_eq!(decode("data:;base64,aGk%3D").unwrap(), b"hi");
    }

    #[test]
    fn what_is_refused() {
        assert_eq!(decode("https://example.org/x"), Err(DataUrlError::NotData));
        assert_eq!(decode("data:abc"), Err(DataUrlError::NoComma));
        assert_eq!(
            decode("data:text,x"),
            Err(DataUrlError::MediaType("text".into()))
        );
        assert_eq!(decode("data:text/plain;x,y"), Err(DataUrlError::Parameter));
        assert!(matches!(decode("data:,%zz"), Err(DataUrlError::Escape(_))));
        assert!(matches!(
            decode("data:;base64,!!!"),
            Err(DataUrlError::Base64(_))
        ));
    }
}
