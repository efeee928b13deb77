//! What goes on the `secrets` partition, built from the settings a user
//! gave (env vars, flags or an env file, already merged by the caller).
//!
//! A component with none of its settings is disabled: its file is absent on
//! the stick (its unit on the node is skipped by `ConditionFileNotEmpty=`)
//! and the caller prints one warning line saying what will not run. A
//! component with only some of its settings is an error.

use std::collections::BTreeMap;

use crate::envfile;
use crate::error::{Error, Result};
use crate::node_password::NodePassword;
use crate::validate;

pub const HOSTNAME: &str = "NODE_HOSTNAME";
pub const LOGEXPORT_HOST: &str = "LOGEXPORT_HOST";
pub const LOGEXPORT_PORT: &str = "LOGEXPORT_PORT";
pub const HEARTBEAT_URL: &str = "HEARTBEAT_URL";
pub const K3S_PREFIX: &str = "K3S_";
pub const K3S_URL: &str = "K3S_URL";
pub const K3S_TOKEN: &str = "K3S_TOKEN";
pub const K3S_TOKEN_FILE: &str = "K3S_TOKEN_FILE";
pub const K3S_DATASTORE_ENDPOINT: &str = "K3S_DATASTORE_ENDPOINT";

/// File names on the secrets partition (the contract with the node config).
pub mod files {
    pub const K3S_ENV: &str = "k3s_env";
    pub const LOGEXPORT_ENV: &str = "logexport_env";
    pub const HEARTBEAT_ENV: &str = "heartbeat_env";
    pub const HOSTNAME: &str = "hostname";
    pub const AUTHORIZED_KEYS: &str = "authorized_keys";
    /// k3s's node password; installed as /etc/rancher/node/password.
    pub const K3S_NODE_PASSWORD: &str = "k3s_node_password";
    pub const REPRODUCE: &str = "reproduce.sh";
}

/// Whether `key` is a setting of the secrets volume.
pub fn is_setting(key: &str) -> bool {
    key.starts_with(K3S_PREFIX)
        || [HOSTNAME, LOGEXPORT_HOST, LOGEXPORT_PORT, HEARTBEAT_URL].contains(&key)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum K3sRole {
    Server,
    Agent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K3s {
    /// Every `K3S_*` variable, verbatim, sorted by name.
    pub vars: Vec<(String, String)>,
}

impl K3s {
    pub fn role(&self) -> K3sRole {
        if self.get(K3S_URL).is_some() {
            K3sRole::Agent
        } else {
            K3sRole::Server
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A description without values: `server, embedded SQLite`.
    pub fn describe(&self) -> String {
        match self.role() {
            K3sRole::Agent => "agent".into(),
            K3sRole::Server => match self.get(K3S_DATASTORE_ENDPOINT) {
                Some(e) if !e.is_empty() => "server, external datastore".into(),
                _ => "server, embedded SQLite".into(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogExport {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub url: String,
}

/// Everything node-specific on the stick.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Secrets {
    pub hostname: Option<crate::Hostname>,
    /// `authorized_keys` lines for user `core`.
    pub ssh_keys: Vec<String>,
    pub k3s: Option<K3s>,
    /// The node's k3s password (see [`crate::node_password`]); set by the
    /// caller for a node that runs k3s, so that it keeps its identity.
    pub k3s_node_password: Option<NodePassword>,
    pub logexport: Option<LogExport>,
    pub heartbeat: Option<Heartbeat>,
}

impl Secrets {
    /// Builds the secrets from merged settings (`NODE_HOSTNAME`,
    /// `LOGEXPORT_*`, `HEARTBEAT_URL`, `K3S_*`), validating each. Returns
    /// one warning line per disabled component. Empty values count as
    /// absent, except for `K3S_*`, which are kept verbatim
    /// (`K3S_DATASTORE_ENDPOINT=""` means embedded SQLite).
    pub fn from_settings(
        settings: &BTreeMap<String, String>,
        ssh_keys: Vec<String>,
    ) -> Result<(Secrets, Vec<String>)> {
        if let Some(unknown) = settings.keys().find(|k| !is_setting(k)) {
            return Err(Error::invalid(
                unknown,
                "not a setting of the secrets volume",
            ));
        }
        let get = |k: &str| {
            settings
                .get(k)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let mut warnings = Vec::new();

        let hostname = match get(HOSTNAME) {
            Some(h) => Some(validate::node_hostname(HOSTNAME, h)?),
            None => {
                warnings.push(format!(
                    "hostname: {HOSTNAME} not given: the node keeps the hostname DHCP or Flatcar gives it"
                ));
                None
            }
        };

        let logexport = match (get(LOGEXPORT_HOST), get(LOGEXPORT_PORT)) {
            (Some(host), Some(port)) => {
                validate::tls_host(LOGEXPORT_HOST, host)?;
                let port = validate::port(LOGEXPORT_PORT, port)?;
                Some(LogExport {
                    host: host.to_owned(),
                    port,
                })
            }
            (None, None) => {
                warnings.push(format!(
                    "log export: {LOGEXPORT_HOST} and {LOGEXPORT_PORT} not given: the node's journal will not be sent anywhere"
                ));
                None
            }
            (Some(_), None) => return Err(half(LOGEXPORT_HOST, LOGEXPORT_PORT, "log export")),
            (None, Some(_)) => return Err(half(LOGEXPORT_PORT, LOGEXPORT_HOST, "log export")),
        };

        let heartbeat = match get(HEARTBEAT_URL) {
            Some(url) => {
                validate::curl_url(HEARTBEAT_URL, url, &["http", "https"])?;
                Some(Heartbeat {
                    url: url.to_owned(),
                })
            }
            None => {
                warnings.push(format!(
                    "heartbeat: {HEARTBEAT_URL} not given: the node will not report a heartbeat"
                ));
                None
            }
        };

        let k3s_vars: Vec<(String, String)> = settings
            .iter()
            .filter(|(k, _)| k.starts_with(K3S_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let k3s = if k3s_vars.is_empty() {
            warnings.push(format!(
                "k3s: no K3S_* variable given: k3s will not run on the node \
                 (set {K3S_DATASTORE_ENDPOINT}= for a server with embedded SQLite, or {K3S_URL} and {K3S_TOKEN} for an agent)"
            ));
            None
        } else {
            for (k, v) in &k3s_vars {
                envfile::check(k, v)?;
            }
            let k3s = K3s { vars: k3s_vars };
            match k3s.get(K3S_URL) {
                Some("") => {
                    return Err(Error::invalid(
                        K3S_URL,
                        "is set but empty; leave it unset for a server, or give the server's https:// URL for an agent",
                    ))
                }
                Some(url) => {
                    validate::url(K3S_URL, url, &["https"])?;
                    let has_token = [K3S_TOKEN, K3S_TOKEN_FILE]
                        .iter()
                        .any(|k| k3s.get(k).is_some_and(|v| !v.is_empty()));
                    if !has_token {
                        return Err(Error::invalid(
                            K3S_URL,
                            format!("is set (an agent) but {K3S_TOKEN} is not: an agent cannot join without the cluster token"),
                        ));
                    }
                }
                None => {}
            }
            Some(k3s)
        };

        let secrets = Secrets {
            hostname,
            ssh_keys,
            k3s,
            k3s_node_password: None,
            logexport,
            heartbeat,
        };
        secrets.files()?; // every value must be representable
        Ok((secrets, warnings))
    }

    /// The files of the secrets partition, except `reproduce.sh`.
    pub fn files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        let header = |what: &str| {
            format!(
                "{what}\nWritten by ephemeros build-stick. systemd EnvironmentFile= syntax:\n\
                 values in double quotes, \\ escapes \" \\ ` and $."
            )
        };
        if let Some(k3s) = &self.k3s {
            let text = envfile::render(
                &header("k3s settings (every K3S_* given, verbatim)."),
                &k3s.vars,
            )?;
            out.push((files::K3S_ENV.into(), text.into_bytes()));
            if let Some(p) = &self.k3s_node_password {
                out.push((files::K3S_NODE_PASSWORD.into(), p.file_contents()));
            }
        }
        if let Some(l) = &self.logexport {
            let vars = [
                (LOGEXPORT_HOST.to_owned(), l.host.clone()),
                (LOGEXPORT_PORT.to_owned(), l.port.to_string()),
            ];
            let text = envfile::render(&header("Log export: TLS syslog endpoint."), &vars)?;
            out.push((files::LOGEXPORT_ENV.into(), text.into_bytes()));
        }
        if let Some(h) = &self.heartbeat {
            let vars = [(HEARTBEAT_URL.to_owned(), h.url.clone())];
            let text =
                envfile::render(&header("Heartbeat URL, requested every 5 minutes."), &vars)?;
            out.push((files::HEARTBEAT_ENV.into(), text.into_bytes()));
        }
        if let Some(h) = &self.hostname {
            out.push((files::HOSTNAME.into(), format!("{h}\n").into_bytes()));
        }
        if !self.ssh_keys.is_empty() {
            let mut text = self.ssh_keys.join("\n");
            text.push('\n');
            out.push((files::AUTHORIZED_KEYS.into(), text.into_bytes()));
        }
        Ok(out)
    }

    /// The settings as `(name, value)` pairs, the inverse of
    /// [`Secrets::from_settings`] (for `reproduce.sh`).
    pub fn settings(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(h) = &self.hostname {
            out.push((HOSTNAME.to_owned(), h.to_string()));
        }
        if let Some(l) = &self.logexport {
            out.push((LOGEXPORT_HOST.to_owned(), l.host.clone()));
            out.push((LOGEXPORT_PORT.to_owned(), l.port.to_string()));
        }
        if let Some(h) = &self.heartbeat {
            out.push((HEARTBEAT_URL.to_owned(), h.url.clone()));
        }
        if let Some(k) = &self.k3s {
            out.extend(k.vars.iter().cloned());
        }
        out
    }
}

fn half(given: &str, missing: &str, component: &str) -> Error {
    Error::invalid(
        missing,
        format!("{given} is set but {missing} is not: {component} needs both (or neither, to disable it)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nothing_given_disables_every_component_with_one_warning_each() {
        let (s, warnings) = Secrets::from_settings(&settings(&[]), vec![]).unwrap();
        assert_eq!(s, Secrets::default());
        assert_eq!(warnings.len(), 4);
        for w in &warnings {
            assert!(!w.contains('\n'), "one line: {w}");
        }
        assert!(warnings
            .iter()
            .any(|w| w.starts_with("k3s:") && w.contains("will not run")));
        assert!(s.files().unwrap().is_empty());
    }

    #[test]
    fn full_settings_give_every_file() {
        let (s, warnings) = Secrets::from_settings(
            &settings(&[
                ("NODE_HOSTNAME", "node1"),
                ("LOGEXPORT_HOST", "logs.example.com"),
                ("LOGEXPORT_PORT", "6514"),
                ("HEARTBEAT_URL", "https://hc.example/abc"),
                ("K3S_DATASTORE_ENDPOINT", ""),
                ("K3S_TOKEN", "t\"o$k`e\\n"),
            ]),
            vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0vJ1 me".into()],
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.k3s.as_ref().unwrap().role(), K3sRole::Server);
        assert_eq!(
            s.k3s.as_ref().unwrap().describe(),
            "server, embedded SQLite"
        );
        let files = s.files().unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "k3s_env",
                "logexport_env",
                "heartbeat_env",
                "hostname",
                "authorized_keys"
            ]
        );
        let k3s_env = envfile::parse(&files[0].1, "k3s_env").unwrap();
        let vars: Vec<(&str, &str)> = k3s_env
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            vars,
            [("K3S_DATASTORE_ENDPOINT", ""), ("K3S_TOKEN", "t\"o$k`e\\n")]
        );
        assert_eq!(files[3].1, b"node1\n");
        let back = Secrets::from_settings(&s.settings().into_iter().collect(), s.ssh_keys.clone())
            .unwrap()
            .0;
        assert_eq!(back, s);
    }

    #[test]
    fn the_node_password_is_written_only_for_k3s() {
        let password = NodePassword::parse(b"0011", "t").unwrap();
        let (mut s, _) = Secrets::from_settings(&settings(&[("K3S_TOKEN", "x")]), vec![]).unwrap();
        s.k3s_node_password = Some(password.clone());
        let files = s.files().unwrap();
        assert_eq!(
            files[1],
            (files::K3S_NODE_PASSWORD.into(), b"0011\n".to_vec())
        );
        s.k3s = None;
        assert!(s.files().unwrap().is_empty());
    }

    #[test]
    fn half_configured_components_are_errors() {
        let e = Secrets::from_settings(&settings(&[("LOGEXPORT_HOST", "h")]), vec![])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("LOGEXPORT_PORT: LOGEXPORT_HOST is set"),
            "{e}"
        );
        let e = Secrets::from_settings(&settings(&[("LOGEXPORT_PORT", "1")]), vec![])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("LOGEXPORT_HOST:"), "{e}");
        let e = Secrets::from_settings(&settings(&[("K3S_URL", "https://srv:6443")]), vec![])
            .unwrap_err()
            .to_string();
        assert!(e.contains("K3S_TOKEN is not"), "{e}");
        let (s, _) = Secrets::from_settings(
            &settings(&[("K3S_URL", "https://srv:6443"), ("K3S_TOKEN", "x")]),
            vec![],
        )
        .unwrap();
        assert_eq!(s.k3s.unwrap().role(), K3sRole::Agent);
    }

    #[test]
    fn bad_values_are_errors_without_the_value() {
        for (pairs, want) in [
            (vec![("NODE_HOSTNAME", "bad_name")], "NODE_HOSTNAME:"),
            (
                vec![("LOGEXPORT_HOST", "h"), ("LOGEXPORT_PORT", "99999")],
                "LOGEXPORT_PORT:",
            ),
            (
                vec![("HEARTBEAT_URL", "ftp://secretpart")],
                "HEARTBEAT_URL:",
            ),
            (
                vec![("HEARTBEAT_URL", "https://hc.example/secretpart[1-9]")],
                "HEARTBEAT_URL:",
            ),
            (vec![("K3S_TOKEN", "a\nsecretpart")], "K3S_TOKEN:"),
            (
                vec![("K3S_URL", "http://secretpart:6443"), ("K3S_TOKEN", "x")],
                "K3S_URL:",
            ),
            (vec![("K3S_URL", "")], "K3S_URL:"),
            (vec![("LOGEXPORT_POST", "1")], "LOGEXPORT_POST:"),
            (
                vec![("LOGEXPORT_HOST", "1.2.3"), ("LOGEXPORT_PORT", "514")],
                "LOGEXPORT_HOST:",
            ),
            (
                vec![("LOGEXPORT_HOST", "secretpart."), ("LOGEXPORT_PORT", "514")],
                "LOGEXPORT_HOST:",
            ),
        ] {
            let e = Secrets::from_settings(&settings(&pairs), vec![])
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want), "{e}");
            assert!(!e.contains("secretpart"), "{e}");
        }
    }
}
