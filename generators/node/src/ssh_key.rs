//! OpenSSH public keys, as `authorized_keys` holds them.
//!
//! One check for every place a key enters: the key file `build-stick`
//! writes to the stick and the one key `ephemeros ipxe` puts on the kernel
//! command line. A line is `[options] type data [comment]`, with a key type
//! OpenSSH knows and base64 key data; a private key is refused outright so
//! that it can never end up on a stick.

use std::fmt;

/// The key types OpenSSH accepts in `authorized_keys` (sshkey.c's table,
/// without the certificate types, which do not go there).
pub const TYPES: [&str; 8] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
];

/// One public key line, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshKeyError {
    #[error("this is a PRIVATE key; give the public key (the .pub file)")]
    PrivateKey,
    /// Line `0` (1-based) of the text is not a key line.
    #[error("not an OpenSSH public key line (expected e.g. `ssh-ed25519 AAAA… comment`)")]
    NotAKeyLine(usize),
    #[error("holds no public key")]
    NoKey,
}

impl SshKey {
    /// One line; `None` unless it holds a key type and key data.
    pub fn parse_line(line: &str) -> Option<SshKey> {
        let line = line.trim();
        let mut words = line.split_whitespace();
        let ok = words.any(|w| TYPES.contains(&w))
            && words.next().is_some_and(|data| {
                data.len() > 16
                    && data
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            });
        ok.then(|| SshKey(line.to_owned()))
    }

    /// Every key of an `authorized_keys`-style text (blank lines and `#`
    /// comments skipped); at least one.
    pub fn parse_all(text: &str) -> Result<Vec<SshKey>, SshKeyError> {
        if text.contains("PRIVATE KEY") {
            return Err(SshKeyError::PrivateKey);
        }
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            keys.push(SshKey::parse_line(trimmed).ok_or(SshKeyError::NotAKeyLine(i + 1))?);
        }
        if keys.is_empty() {
            return Err(SshKeyError::NoKey);
        }
        Ok(keys)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5yY2hR7nq3o8Xz me@laptop";

    #[test]
    fn keys_with_comments_options_and_blank_lines() {
        let text = format!("# keys\n\n{ED}\nno-pty {ED}\n");
        let keys = SshKey::parse_all(&text).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].as_str(), ED);
    }

    #[test]
    fn what_is_refused() {
        assert_eq!(
            SshKey::parse_all("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n"),
            Err(SshKeyError::PrivateKey)
        );
        assert_eq!(
            SshKey::parse_all(&format!("{ED}\nssh-ed25519\n")),
            Err(SshKeyError::NotAKeyLine(2))
        );
        assert_eq!(SshKey::parse_all("\n# nothing\n"), Err(SshKeyError::NoKey));
        for bad in [
            "ssh-foo AAAAC3NzaC1lZDI1NTE5AAAA",
            "ssh-ed25519 AAAA",
            "ssh-ed25519 AAAA!C3NzaC1lZDI1NTE5AAAA",
        ] {
            assert_eq!(SshKey::parse_line(bad), None, "{bad}");
        }
    }
}
