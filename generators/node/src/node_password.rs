//! k3s's node password, kept on the stick so a node keeps its identity
//! across reboots.
//!
//! k3s (pkg/agent/config/config.go, `ensureNodePassword`) reads
//! `/etc/rancher/node/password` and sends it with every certificate
//! request; when the file does not exist it makes one from 16 random bytes
//! written as 32 hex digits. The server keeps a hash of the first password
//! it saw in the secret `<node>.node-password.k3s` in kube-system
//! (pkg/nodepassword) and refuses a node whose password differs. On a RAM
//! root the file is gone after every reboot, so the node would come back
//! with a new password and be refused; the stick keeps one instead, and a
//! unit of the node config copies it into place before k3s starts.

use std::fmt;

use crate::error::{Error, Result};

/// The setting's name in messages, and the variable naming a file with it.
pub const NAME: &str = "k3s node password";

/// Random bytes in a generated password (as k3s makes its own).
const RANDOM_BYTES: usize = 16;
/// A given password's longest accepted length: it travels in an HTTP header.
const MAX_LEN: usize = 256;

/// A node password. Its `Debug` form never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct NodePassword(String);

impl fmt::Debug for NodePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodePassword(<hidden>)")
    }
}

impl NodePassword {
    /// A new password from the operating system's random number generator,
    /// in k3s's own format.
    pub fn generate() -> Result<NodePassword> {
        let mut bytes = [0u8; RANDOM_BYTES];
        fill_random(&mut bytes)?;
        Ok(NodePassword(
            bytes.iter().map(|b| format!("{b:02x}")).collect(),
        ))
    }

    /// A password read from a file (`source` names it in errors). Leading and
    /// trailing whitespace is dropped, as k3s does when it reads the file; what
    /// is left must be printable ASCII without spaces, since k3s sends it in an
    /// HTTP header. Errors never show the value.
    pub fn parse(bytes: &[u8], source: &str) -> Result<NodePassword> {
        let invalid = |reason: &str| {
            Error::invalid(NAME, format!("{source}: {reason} (the value is not shown)"))
        };
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("is not valid UTF-8"))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid(
                "is empty; give the contents of /etc/rancher/node/password of the node",
            ));
        }
        if text.len() > MAX_LEN {
            return Err(invalid(&format!("is longer than {MAX_LEN} characters")));
        }
        if let Some(pos) = text.chars().position(|c| !c.is_ascii_graphic()) {
            return Err(invalid(&format!(
                "character {} is not printable ASCII (or is a space); \
                 k3s sends the password in an HTTP header",
                pos + 1
            )));
        }
        Ok(NodePassword(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file's contents on the secrets partition (as k3s writes it).
    pub fn file_contents(&self) -> Vec<u8> {
        format!("{}\n", self.0).into_bytes()
    }
}

/// Fills `buf` from getrandom(2), retrying on interruption and short reads.
fn fill_random(buf: &mut [u8]) -> Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the pointer and length describe `rest`, which is valid for
        // writes for its whole length.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::Io {
                what: "cannot read random bytes from the operating system (getrandom)".into(),
                source: e,
            });
        }
        done += n as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_have_k3s_format_and_differ() {
        let a = NodePassword::generate().unwrap();
        let b = NodePassword::generate().unwrap();
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(a.file_contents(), format!("{}\n", a.as_str()).into_bytes());
        // Parsing the file back gives the same password.
        assert_eq!(NodePassword::parse(&a.file_contents(), "f").unwrap(), a);
    }

    #[test]
    fn parse_trims_like_k3s_and_rejects_bad_values_without_showing_them() {
        let p = NodePassword::parse(b"  0123abcd\r\n", "pw").unwrap();
        assert_eq!(p.as_str(), "0123abcd");
        assert_eq!(format!("{p:?}"), "NodePassword(<hidden>)");
        let long = "s".repeat(MAX_LEN + 1);
        for (bad, want) in [
            (&b""[..], "is empty"),
            (b" \n\t", "is empty"),
            (b"secret word", "character 7"),
            (b"secret\xff", "UTF-8"),
            (b"secr\x01t", "character 5"),
            (long.as_bytes(), "longer than"),
        ] {
            let e = NodePassword::parse(bad, "pw.txt").unwrap_err().to_string();
            assert!(e.starts_with("k3s node password: pw.txt: "), "{e}");
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("secr"), "{e}");
        }
    }
}
