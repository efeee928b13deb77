//! A node's hostname.
//!
//! One rule for every place a hostname enters (the stick's secrets, the
//! kernel's `systemd.hostname=`, `ephemeros ipxe --hostname`): RFC 1123
//! labels of lowercase letters, digits and `-` (not at either end of a
//! label, 1–63 characters), dot-separated, at most 64 bytes (Linux's
//! HOST_NAME_MAX, so the kernel and systemd keep it whole), no trailing dot.
//! Lowercase, because k3s makes the hostname the Kubernetes node name, which
//! must be a lowercase RFC 1123 subdomain; no trailing dot, because a node
//! name has none either.

use std::fmt;
use std::str::FromStr;

/// Linux's HOST_NAME_MAX.
pub const MAX_LEN: usize = 64;

/// A hostname that passed [`Hostname::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hostname(String);

/// Why a value is not a hostname. The messages are phrased to follow the
/// name of the setting (`--hostname: is empty`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostnameError {
    #[error("is empty")]
    Empty,
    #[error("is {0} bytes long; at most 64 are allowed (Linux's HOST_NAME_MAX)")]
    TooLong(usize),
    #[error("has uppercase letters; it becomes the Kubernetes node name, which must be lowercase")]
    Uppercase,
    #[error("ends with `.`; a hostname (and a Kubernetes node name) has no trailing dot")]
    TrailingDot,
    #[error("has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("has a label longer than 63 characters")]
    LabelTooLong,
    #[error("contains {0:?}; only letters, digits, `-` and `.` are allowed")]
    Character(char),
    #[error("has a label that starts or ends with `-`")]
    Hyphen,
}

impl Hostname {
    pub fn parse(value: &str) -> Result<Hostname, HostnameError> {
        if value.is_empty() {
            return Err(HostnameError::Empty);
        }
        if value.len() > MAX_LEN {
            return Err(HostnameError::TooLong(value.len()));
        }
        if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return Err(HostnameError::Character(c));
        }
        if value.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(HostnameError::Uppercase);
        }
        if value.ends_with('.') && value.len() > 1 {
            return Err(HostnameError::TrailingDot);
        }
        for label in value.split('.') {
            if label.is_empty() {
                return Err(HostnameError::EmptyLabel);
            }
            if label.len() > 63 {
                return Err(HostnameError::LabelTooLong);
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(HostnameError::Hyphen);
            }
        }
        Ok(Hostname(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Hostname {
    type Err = HostnameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hostname::parse(s)
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Hostname {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        let long_label = "a".repeat(63);
        for ok in [
            "a",
            "node1",
            "0node",
            "k3s-a.lan",
            "node-1.example.com",
            long_label.as_str(),
        ] {
            assert_eq!(Hostname::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn bad_names_say_why() {
        use HostnameError::*;
        let long = "a.".repeat(40);
        let long = long.trim_end_matches('.');
        let long_label = "a".repeat(64);
        for (bad, why) in [
            ("", Empty),
            ("-a", Hyphen),
            ("a-", Hyphen),
            ("a..b", EmptyLabel),
            (".a", EmptyLabel),
            ("a_b", Character('_')),
            ("a b", Character(' ')),
            ("n\u{f6}de", Character('\u{f6}')),
            ("Node1", Uppercase),
            ("node1.", TrailingDot),
            (long, TooLong(long.len())),
            (long_label.as_str(), LabelTooLong),
            (".", EmptyLabel),
        ] {
            assert_eq!(Hostname::parse(bad), Err(why), "{bad:?}");
        }
    }
}
