//! Gathering build-stick settings from their three sources, in order of
//! precedence: flags, then `--env-file`, then the process environment. The
//! names are those of the original shell tool.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::envfile;
use crate::error::{Error, Result};
use crate::secrets;

/// The SSH public key file (not a secrets-volume setting: the key itself is).
pub const SSH_KEY_PATH: &str = "SSH_KEY_PATH";
/// Overrides the Ignition URL derived from the git remote.
pub const IGN_PATH: &str = "IGN_PATH";
/// A file holding the node's existing k3s node password (not a K3S_* name:
/// those are passed to k3s).
pub const NODE_PASSWORD_FILE: &str = "NODE_PASSWORD_FILE";

/// Settings from one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// Secrets-volume settings (`NODE_HOSTNAME`, `LOGEXPORT_*`, `HEARTBEAT_URL`, `K3S_*`).
    pub settings: BTreeMap<String, String>,
    pub ssh_key_path: Option<PathBuf>,
    pub ign_path: Option<String>,
    /// The file with the node's k3s node password, when one is given.
    pub node_password_path: Option<PathBuf>,
}

impl Source {
    /// `self` over `lower`: a key set here wins.
    pub fn over(mut self, lower: Source) -> Source {
        for (k, v) in lower.settings {
            self.settings.entry(k).or_insert(v);
        }
        self.ssh_key_path = self.ssh_key_path.or(lower.ssh_key_path);
        self.ign_path = self.ign_path.or(lower.ign_path);
        self.node_password_path = self.node_password_path.or(lower.node_password_path);
        self
    }
}

/// The settings found in the process environment. Variables this tool
/// does not know are ignored (the environment holds many); a known one
/// that is not valid UTF-8 is an error.
pub fn from_environment(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Result<Source> {
    let mut src = Source::default();
    for (k, v) in vars {
        let Some(key) = k.to_str() else { continue };
        let known =
            secrets::is_setting(key) || [SSH_KEY_PATH, IGN_PATH, NODE_PASSWORD_FILE].contains(&key);
        if !known {
            continue;
        }
        let value = v
            .into_string()
            .map_err(|_| Error::invalid(key, "the environment variable is not valid UTF-8"))?;
        match key {
            // Empty means "not set", as in the original shell tool.
            SSH_KEY_PATH | IGN_PATH | NODE_PASSWORD_FILE if value.is_empty() => {}
            SSH_KEY_PATH => src.ssh_key_path = Some(PathBuf::from(value)),
            IGN_PATH => src.ign_path = Some(value),
            NODE_PASSWORD_FILE => src.node_password_path = Some(PathBuf::from(value)),
            _ => {
                src.settings.insert(key.to_owned(), value);
            }
        }
    }
    Ok(src)
}

/// The settings of an env file (systemd `EnvironmentFile=` syntax; plain
/// `KEY=value` lines are fine). Unknown names are errors at their line,
/// since a typo would otherwise silently disable a component. A relative
/// `SSH_KEY_PATH` or `NODE_PASSWORD_FILE` is taken relative to the file's
/// directory, so a fleet directory of per-node files and keys can be used
/// from anywhere.
pub fn from_env_file(bytes: &[u8], path: &Path) -> Result<Source> {
    let shown = path.display().to_string();
    let mut src = Source::default();
    for e in envfile::parse(bytes, &shown)? {
        match e.key.as_str() {
            SSH_KEY_PATH | IGN_PATH | NODE_PASSWORD_FILE if e.value.is_empty() => {}
            SSH_KEY_PATH => src.ssh_key_path = Some(beside(path, &e.value)),
            NODE_PASSWORD_FILE => src.node_password_path = Some(beside(path, &e.value)),
            IGN_PATH => src.ign_path = Some(e.value),
            k if secrets::is_setting(k) => {
                // Checked here too (not only when the secrets are written) so
                // that a value spanning lines in quotes is reported at its line.
                if let Err(Error::Unrepresentable { key, reason }) = envfile::check(k, &e.value) {
                    return Err(Error::EnvSyntax {
                        file: shown,
                        line: e.line,
                        col: 1,
                        message: format!("{key}: {reason}"),
                    });
                }
                src.settings.insert(e.key, e.value);
            }
            k => {
                // `HEARTBEAT_URLhttps…=` is a setting run into its value:
                // name the setting, not what follows it.
                let known = [
                    secrets::HOSTNAME,
                    SSH_KEY_PATH,
                    secrets::LOGEXPORT_HOST,
                    secrets::LOGEXPORT_PORT,
                    secrets::HEARTBEAT_URL,
                    IGN_PATH,
                    NODE_PASSWORD_FILE,
                ];
                let what = match known.iter().find(|n| k.starts_with(*n)) {
                    Some(n) => format!(
                        "unknown setting {n}… (more follows the name {n}; is the `=` missing?)"
                    ),
                    None => format!("unknown setting {k}"),
                };
                return Err(Error::EnvSyntax {
                    file: shown,
                    line: e.line,
                    col: 1,
                    message: format!(
                        "{what} (known: NODE_HOSTNAME, SSH_KEY_PATH, LOGEXPORT_HOST, LOGEXPORT_PORT, HEARTBEAT_URL, IGN_PATH, NODE_PASSWORD_FILE, K3S_*)"
                    ),
                });
            }
        }
    }
    Ok(src)
}

/// `value` as a path, relative to the env file's directory when relative.
fn beside(env_file: &Path, value: &str) -> PathBuf {
    let p = PathBuf::from(value);
    match env_file.parent() {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p,
    }
}

/// The SSH public key file: the one given, else `~/.ssh/id_rsa.pub`, else
/// `~/.ssh/id_ed25519.pub` (the original tool's defaults).
pub fn ssh_key_file(given: Option<PathBuf>, home: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p);
    }
    let candidates: Vec<PathBuf> = home
        .map(|h| vec![h.join(".ssh/id_rsa.pub"), h.join(".ssh/id_ed25519.pub")])
        .unwrap_or_default();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        Error::invalid(
            SSH_KEY_PATH,
            format!(
                "no SSH public key found ({}); give one with --ssh-key FILE or {SSH_KEY_PATH}, or create one with ssh-keygen -t ed25519",
                if candidates.is_empty() {
                    "HOME is not set".to_owned()
                } else {
                    candidates
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" and ")
                        + " do not exist"
                }
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_env_file_over_environment() {
        let env = from_environment([
            (OsString::from("NODE_HOSTNAME"), OsString::from("from-env")),
            (OsString::from("K3S_TOKEN"), OsString::from("env-token")),
            (OsString::from("PATH"), OsString::from("/usr/bin")),
            (OsString::from("IGN_PATH"), OsString::from("http://env/ign")),
        ])
        .unwrap();
        assert!(!env.settings.contains_key("PATH"));
        let empty = from_env_file(b"IGN_PATH=\nSSH_KEY_PATH=\n", Path::new("e.env")).unwrap();
        assert_eq!(
            empty.clone().over(env.clone()).ign_path.unwrap(),
            "http://env/ign"
        );
        assert_eq!(empty.ssh_key_path, None);
        let file = from_env_file(
            b"NODE_HOSTNAME=from-file\nSSH_KEY_PATH=keys/n1.pub\nIGN_PATH=http://file/ign\nNODE_PASSWORD_FILE=n1.pw\n",
            Path::new("/fleet/n1.env"),
        )
        .unwrap();
        let mut flags = Source::default();
        flags
            .settings
            .insert("K3S_TOKEN".into(), "flag-token".into());
        let merged = flags.over(file.over(env));
        assert_eq!(merged.settings["NODE_HOSTNAME"], "from-file");
        assert_eq!(merged.settings["K3S_TOKEN"], "flag-token");
        assert_eq!(
            merged.ssh_key_path.unwrap(),
            Path::new("/fleet/keys/n1.pub")
        );
        assert_eq!(merged.ign_path.unwrap(), "http://file/ign");
        assert_eq!(
            merged.node_password_path.unwrap(),
            Path::new("/fleet/n1.pw")
        );
        let env = from_environment([(OsString::from("NODE_PASSWORD_FILE"), OsString::from("p"))])
            .unwrap();
        assert_eq!(env.node_password_path.unwrap(), Path::new("p"));
        assert!(env.settings.is_empty());
    }

    #[test]
    fn env_file_typos_are_errors_at_their_line() {
        let e = from_env_file(b"NODE_HOSTNAME=a\nLOGEXPORT_POST=1\n", Path::new("n.env"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("n.env:2:1: unknown setting LOGEXPORT_POST"),
            "{e}"
        );
    }

    #[test]
    fn a_setting_run_into_its_value_is_named_without_the_value() {
        for line in [
            "HEARTBEAT_URLhttpsSECRET=x\n",
            "LOGEXPORT_HOSTSECRET=1\n",
            "NODE_HOSTNAMESECRET=\n",
        ] {
            let e = from_env_file(line.as_bytes(), Path::new("n.env"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("n.env:1:1: unknown setting "), "{e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
    }

    #[test]
    fn multi_line_values_are_errors_at_their_line() {
        let e = from_env_file(
            b"NODE_HOSTNAME=a\nK3S_TOKEN=\"K10SECRET\nMORE\"\n",
            Path::new("n.env"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("n.env:2:1: K3S_TOKEN: "), "{e}");
        assert!(e.contains("line break"), "{e}");
        assert!(!e.contains("K10SECRET"), "{e}");
    }

    #[test]
    fn non_utf8_known_variables_are_errors() {
        use std::os::unix::ffi::OsStringExt;
        let e = from_environment([(OsString::from("K3S_TOKEN"), OsString::from_vec(vec![0xff]))])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("K3S_TOKEN:"), "{e}");
        // Unknown ones are not our business.
        from_environment([(OsString::from("OTHER"), OsString::from_vec(vec![0xff]))]).unwrap();
    }

    #[test]
    fn ssh_key_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let e = ssh_key_file(None, Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("id_rsa.pub") && e.contains("id_ed25519.pub"),
            "{e}"
        );
        std::fs::create_dir(dir.path().join(".ssh")).unwrap();
        std::fs::write(dir.path().join(".ssh/id_ed25519.pub"), "k").unwrap();
        assert!(ssh_key_file(None, Some(dir.path()))
            .unwrap()
            .ends_with("id_ed25519.pub"));
        std::fs::write(dir.path().join(".ssh/id_rsa.pub"), "k").unwrap();
        assert!(ssh_key_file(None, Some(dir.path()))
            .unwrap()
            .ends_with("id_rsa.pub"));
    }
}
