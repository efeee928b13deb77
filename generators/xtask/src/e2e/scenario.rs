//! The test values the sticks are built with: every setting, several chosen
//! to be awkward (a URL with `?`, `&` and `%`, an SSH key with spaces in its
//! comment, K3S values full of shell and quoting syntax). Three sticks:
//! every component (a k3s server), a k3s agent, and an SSH key alone.

use std::collections::BTreeMap;

use ephemeros_ipxe::{BootSettings, OnFailure};

/// A real ed25519 public key (its private half was thrown away), with a
/// comment containing spaces: the busybox stage never logs in.
pub const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICahCAwnSfJuz72tTeTbxPgE9XS+jFd7eZfXLvTdIYWS e2e test key";
pub const HOSTNAME: &str = "e2e-node-1";
pub const AGENT_HOSTNAME: &str = "e2e-agent-1";
/// Would create /pwned if anything ever passed it through a shell.
pub const K3S_TOKEN: &str = r#"x$(touch /pwned) "quoted" \back"#;
/// The agent's server: k3s reads it from the environment, byte for byte.
pub const K3S_URL: &str = "https://10.0.2.2:6443/?a=`id`&b=$HOME";
/// The config path and query as the guest must request them, byte for byte.
pub const CONFIG_TARGET: &str = "/config/ignition.ign?node=e2e&x=%41";
/// The heartbeat endpoint's path and query, byte for byte.
pub const HEARTBEAT_TARGET: &str = "/heartbeat/e2e?a=1&b=%2F&c=x%20y";
/// The log endpoint's name (the node's /etc/hosts maps it to the host).
pub const LOGS_HOST: &str = "logs.e2e.test";
/// Kept short so the failure case gives up quickly.
pub const DOWNLOAD_ATTEMPTS: u32 = 2;
pub const RETRY_PAUSE_SECS: u32 = 1;
pub const CONSOLE: &str = "ttyS0,115200n8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every setting; k3s runs as a server.
    Full,
    /// Every setting plus K3S_URL (an agent); its log endpoint is the
    /// listener with the untrusted certificate.
    Agent,
    /// Only an SSH key: every other component is disabled.
    SshOnly,
}

pub struct Scenario {
    pub port: u16,
    pub kind: Kind,
    /// The public key put on the stick.
    pub ssh_key: String,
    /// LOGEXPORT_PORT.
    pub logs_port: u16,
    /// Flatcar from the HTTPS mirror on this port (`https.rs`) instead of
    /// the HTTP server; the config and everything else stay on HTTP.
    pub https_port: Option<u16>,
}

impl Scenario {
    /// The host as the guest sees it under qemu user networking.
    pub fn base(&self) -> String {
        format!("http://10.0.2.2:{}/", self.port)
    }
    pub fn ignition_url(&self) -> String {
        format!("http://10.0.2.2:{}{CONFIG_TARGET}", self.port)
    }
    pub fn flatcar_base_url(&self) -> String {
        match self.https_port {
            Some(port) => format!("https://10.0.2.2:{port}/flatcar/"),
            None => format!("{}flatcar/", self.base()),
        }
    }
    pub fn heartbeat_url(&self) -> String {
        format!("http://10.0.2.2:{}{HEARTBEAT_TARGET}", self.port)
    }
    pub fn hostname(&self) -> Option<&'static str> {
        match self.kind {
            Kind::Full => Some(HOSTNAME),
            Kind::Agent => Some(AGENT_HOSTNAME),
            Kind::SshOnly => None,
        }
    }

    /// The environment `build-stick` reads (the original tools' interface).
    pub fn env(&self, ssh_key_path: &str) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("IGN_PATH", self.ignition_url()),
            ("SSH_KEY_PATH", ssh_key_path.into()),
        ];
        if self.kind == Kind::SshOnly {
            return env;
        }
        env.extend([
            ("NODE_HOSTNAME", self.hostname().unwrap_or_default().into()),
            ("LOGEXPORT_HOST", LOGS_HOST.into()),
            ("LOGEXPORT_PORT", self.logs_port.to_string()),
            ("HEARTBEAT_URL", self.heartbeat_url()),
            ("K3S_TOKEN", K3S_TOKEN.into()),
            // Set but empty: embedded SQLite; must survive as an empty value.
            ("K3S_DATASTORE_ENDPOINT", String::new()),
            ("K3S_KUBECONFIG_MODE", "0640".into()),
        ]);
        if self.kind == Kind::Agent {
            env.push(("K3S_URL", K3S_URL.into()));
        }
        env
    }

    /// Boot-script flags passed to `build-stick`.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--base-url".into(),
            self.flatcar_base_url(),
            "--on-failure".into(),
            "poweroff".into(),
            "--console".into(),
            CONSOLE.into(),
            "--download-attempts".into(),
            DOWNLOAD_ATTEMPTS.to_string(),
            "--retry-pause".into(),
            RETRY_PAUSE_SECS.to_string(),
        ]
    }

    /// The same settings as the ipxe crate sees them, for the expected
    /// kernel command line.
    pub fn boot_settings(&self) -> anyhow::Result<BootSettings> {
        let hostname = self
            .hostname()
            .map(ephemeros_node::Hostname::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("the scenario's hostname {e}"))?;
        Ok(BootSettings {
            base_url: Some(self.flatcar_base_url()),
            ignition_url: self.ignition_url(),
            hostname,
            ssh_key: Some(self.ssh_key.clone()),
            console: vec![CONSOLE.into()],
            on_failure: OnFailure::Poweroff,
            download_attempts: DOWNLOAD_ATTEMPTS,
            retry_pause_secs: RETRY_PAUSE_SECS,
            ..BootSettings::default()
        })
    }

    /// The K3S_* variables of the stick, exactly.
    pub fn k3s_env(&self) -> BTreeMap<String, String> {
        self.env("")
            .into_iter()
            .filter(|(k, _)| k.starts_with("K3S_"))
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    /// Env file -> the variables it must hold, exactly.
    pub fn expected_env_files(&self) -> BTreeMap<&'static str, BTreeMap<String, String>> {
        let env: BTreeMap<_, _> = self.env("").into_iter().collect();
        let pick = |keys: &[&str]| -> BTreeMap<String, String> {
            keys.iter()
                .filter_map(|k| env.get(k).map(|v| (k.to_string(), v.clone())))
                .collect()
        };
        if self.kind == Kind::SshOnly {
            return BTreeMap::new();
        }
        BTreeMap::from([
            ("k3s_env", self.k3s_env()),
            ("logexport_env", pick(&["LOGEXPORT_HOST", "LOGEXPORT_PORT"])),
            ("heartbeat_env", pick(&["HEARTBEAT_URL"])),
        ])
    }
}

/// Variables of the calling environment that would change what
/// `build-stick` writes; removed so the stick holds only the test values.
pub fn is_setting_var(name: &str) -> bool {
    name.starts_with("K3S_")
        || name.starts_with("LOGEXPORT_")
        || matches!(
            name,
            "HEARTBEAT_URL" | "IGN_PATH" | "NODE_HOSTNAME" | "SSH_KEY_PATH"
        )
}
