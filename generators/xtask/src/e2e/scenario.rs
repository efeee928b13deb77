//! The test values the stick is built with: every setting, several chosen
//! to be awkward (a URL with `?`, `&` and `%`, an SSH key with spaces in its
//! comment, a K3S value full of shell and quoting syntax).

use std::collections::BTreeMap;

use ephemeros_ipxe::{BootSettings, OnFailure};

/// A real ed25519 public key (its private half was thrown away), with a
/// comment containing spaces.
pub const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICahCAwnSfJuz72tTeTbxPgE9XS+jFd7eZfXLvTdIYWS e2e test key";
pub const HOSTNAME: &str = "e2e-node-1";
/// Would create /pwned if anything ever passed it through a shell.
pub const K3S_TOKEN: &str = r#"x$(touch /pwned) "quoted" \back"#;
/// The config path and query as the guest must request them, byte for byte.
pub const CONFIG_TARGET: &str = "/config/ignition.ign?node=e2e&x=%41";
/// Kept short so the failure case gives up quickly.
pub const DOWNLOAD_ATTEMPTS: u32 = 2;
pub const RETRY_PAUSE_SECS: u32 = 1;
pub const CONSOLE: &str = "ttyS0,115200n8";

pub struct Scenario {
    pub port: u16,
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
        format!("{}flatcar/", self.base())
    }

    /// The environment `build-stick` reads (the original tools' interface).
    pub fn env(&self, ssh_key_path: &str) -> Vec<(&'static str, String)> {
        vec![
            ("IGN_PATH", self.ignition_url()),
            ("NODE_HOSTNAME", HOSTNAME.into()),
            ("SSH_KEY_PATH", ssh_key_path.into()),
            ("LOGEXPORT_HOST", "logs.example.test".into()),
            ("LOGEXPORT_PORT", "6514".into()),
            (
                "HEARTBEAT_URL",
                "https://hc.example.test/ping/e2e?a=1&b=%2F".into(),
            ),
            ("K3S_TOKEN", K3S_TOKEN.into()),
            // Set but empty: embedded SQLite; must survive as an empty value.
            ("K3S_DATASTORE_ENDPOINT", String::new()),
            ("K3S_KUBECONFIG_MODE", "0640".into()),
        ]
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
    pub fn boot_settings(&self) -> BootSettings {
        BootSettings {
            base_url: Some(self.flatcar_base_url()),
            ignition_url: self.ignition_url(),
            hostname: Some(HOSTNAME.into()),
            ssh_key: Some(SSH_KEY.into()),
            console: vec![CONSOLE.into()],
            on_failure: OnFailure::Poweroff,
            download_attempts: DOWNLOAD_ATTEMPTS,
            retry_pause_secs: RETRY_PAUSE_SECS,
            ..BootSettings::default()
        }
    }

    /// Env file -> the variables it must hold, exactly.
    pub fn expected_env_files(&self) -> BTreeMap<&'static str, BTreeMap<String, String>> {
        let env: BTreeMap<_, _> = self.env("").into_iter().collect();
        let pick = |keys: &[&str]| -> BTreeMap<String, String> {
            keys.iter()
                .map(|k| (k.to_string(), env[k].clone()))
                .collect()
        };
        BTreeMap::from([
            (
                "k3s_env",
                pick(&["K3S_TOKEN", "K3S_DATASTORE_ENDPOINT", "K3S_KUBECONFIG_MODE"]),
            ),
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
