//! `ephemeros.json` on the ESP: what a stick is, readable by anyone (it
//! holds no secret value).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "ephemeros.json";
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version of this file's layout.
    pub format: u32,
    pub tool: String,
    pub tool_version: String,
    /// RFC 3339, UTC.
    pub built_at: String,
    /// The config repository the Ignition URL was derived from; absent when
    /// the URL was given directly.
    pub config: Option<ConfigRef>,
    pub ignition_url: String,
    pub flatcar: Flatcar,
    /// Component name -> state (`k3s`, `logexport`, `heartbeat`, `hostname`, `ssh`).
    pub components: BTreeMap<String, Component>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRef {
    /// The remote's URL as git reports it.
    pub repository: String,
    /// Branch (or commit when pinned) the URL points at.
    pub git_ref: String,
    pub commit: String,
    /// `ignition.ign` had uncommitted changes when the stick was built.
    pub dirty: bool,
    pub path_in_repo: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flatcar {
    pub channel: String,
    pub release: String,
    pub arch: String,
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub enabled: bool,
    /// A description without secret values (`server, embedded SQLite`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Manifest {
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a manifest always serializes");
        out.push(b'\n');
        out
    }

    pub fn from_json(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// The component map for a set of secrets.
pub fn components(secrets: &crate::secrets::Secrets) -> BTreeMap<String, Component> {
    let mut m = BTreeMap::new();
    let mut put = |name: &str, enabled: bool, detail: Option<String>| {
        m.insert(name.to_owned(), Component { enabled, detail });
    };
    put(
        "k3s",
        secrets.k3s.is_some(),
        secrets.k3s.as_ref().map(|k| k.describe()),
    );
    put("logexport", secrets.logexport.is_some(), None);
    put("heartbeat", secrets.heartbeat.is_some(), None);
    put(
        "hostname",
        secrets.hostname.is_some(),
        secrets.hostname.as_ref().map(ToString::to_string),
    );
    put(
        "ssh",
        !secrets.ssh_keys.is_empty(),
        Some(format!("{} key(s) for user core", secrets.ssh_keys.len())),
    );
    m
}
