//! What an Ignition config puts on a node: files (their bytes, decoded),
//! directories, links, systemd units with their drop-ins, presets and
//! masks, and the users' SSH keys. The one model both the node checks
//! (`checks::node`, which read `ignition.ign`) and the e2e boot (which
//! compares the stand-in root with what the served config says) work from.
//!
//! Decoding is done here rather than by trusting the generator: the tests
//! must see the bytes Ignition will write. Inline sources are decoded with
//! the one data-URL decoder (`ephemeros_node::data_url`); remote ones are
//! the caller's to resolve.

use std::io::Read;

use anyhow::{bail, Context, Result};
use serde_json::Value;

pub struct File {
    pub path: String,
    pub mode: u32,
    /// `contents` followed by every `append`, each decompressed.
    pub data: Vec<u8>,
    /// Whether any of it came from `append`.
    pub appended: bool,
}

pub struct Link {
    pub path: String,
    pub target: String,
    pub hard: bool,
}

pub struct Unit {
    pub name: String,
    pub contents: Option<String>,
    pub dropins: Vec<(String, String)>,
    /// `enabled`: `Some(true)` becomes `enable NAME` in Ignition's preset
    /// file, `Some(false)` `disable NAME`.
    pub enabled: Option<bool>,
    pub mask: bool,
}

pub struct User {
    /// Without the leading `/`; `home/NAME` unless `homeDir` says otherwise.
    pub home: String,
    pub ssh_keys: Vec<String>,
}

pub struct NodeConfig {
    pub directories: Vec<(String, u32)>,
    pub files: Vec<File>,
    pub links: Vec<Link>,
    pub units: Vec<Unit>,
    pub users: Vec<User>,
}

impl NodeConfig {
    /// The committed node config: every source inline, no `append`, no
    /// hard links (the node config must not depend on anything fetched at
    /// Ignition time, and says each file whole).
    pub fn parse(json: &str) -> Result<NodeConfig> {
        let config = NodeConfig::parse_with(json, |source| {
            bail!("source is not a data URL: {source:.60}")
        })?;
        if let Some(f) = config.files.iter().find(|f| f.appended) {
            bail!("{}: `append` is not expected in the node config", f.path);
        }
        if let Some(l) = config.links.iter().find(|l| l.hard) {
            bail!("{}: hard links are not expected", l.path);
        }
        Ok(config)
    }

    /// Any config; `fetch` gives the bytes of a source that is not inline.
    pub fn parse_with(json: &str, fetch: impl Fn(&str) -> Result<Vec<u8>>) -> Result<NodeConfig> {
        let root: Value = serde_json::from_str(json).context("the Ignition config is not JSON")?;
        let storage = &root["storage"];
        let mut config = NodeConfig {
            directories: Vec::new(),
            files: Vec::new(),
            links: Vec::new(),
            units: Vec::new(),
            users: Vec::new(),
        };
        for dir in array(&storage["directories"]) {
            config
                .directories
                .push((string(dir, "path")?, mode(dir, 0o755)?));
        }
        for file in array(&storage["files"]) {
            let path = string(file, "path")?;
            let mut data = match file.get("contents") {
                Some(c) => resource(c, &fetch).with_context(|| path.clone())?,
                None => Vec::new(),
            };
            let appends = array(&file["append"]);
            for a in appends {
                data.extend(resource(a, &fetch).with_context(|| path.clone())?);
            }
            config.files.push(File {
                mode: mode(file, 0o644)?,
                path,
                data,
                appended: !appends.is_empty(),
            });
        }
        for link in array(&storage["links"]) {
            config.links.push(Link {
                path: string(link, "path")?,
                target: string(link, "target")?,
                hard: link["hard"].as_bool() == Some(true),
            });
        }
        for unit in array(&root["systemd"]["units"]) {
            let name = string(unit, "name")?;
            let mut dropins = Vec::new();
            for dropin in array(&unit["dropins"]) {
                let dropin_name = string(dropin, "name")?;
                let Some(contents) = dropin["contents"].as_str() else {
                    bail!("{name}: drop-in {dropin_name} has no contents");
                };
                dropins.push((dropin_name, contents.to_owned()));
            }
            config.units.push(Unit {
                contents: unit["contents"].as_str().map(str::to_owned),
                enabled: unit["enabled"].as_bool(),
                mask: unit["mask"].as_bool() == Some(true),
                name,
                dropins,
            });
        }
        for user in array(&root["passwd"]["users"]) {
            let name = string(user, "name")?;
            let home = match user["homeDir"].as_str() {
                Some(h) => h.trim_start_matches('/').to_owned(),
                None => format!("home/{name}"),
            };
            let ssh_keys = array(&user["sshAuthorizedKeys"])
                .iter()
                .map(|k| {
                    k.as_str().map(str::to_owned).with_context(|| {
                        format!("{name}: an sshAuthorizedKeys entry is not a string")
                    })
                })
                .collect::<Result<_>>()?;
            config.users.push(User { home, ssh_keys });
        }
        Ok(config)
    }

    pub fn file(&self, path: &str) -> Result<&File> {
        match self.files.iter().find(|f| f.path == path) {
            Some(file) => Ok(file),
            None => bail!("ignition.ign has no file {path}"),
        }
    }

    /// Files that are shell scripts: a sh or bash shebang, or sourced
    /// snippets named *.sh (profile.d).
    pub fn shell_scripts(&self) -> impl Iterator<Item = &File> {
        self.files
            .iter()
            .filter(|f| is_shell_script(&f.data) || f.path.ends_with(".sh"))
    }
}

pub fn is_shell_script(data: &[u8]) -> bool {
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let Some(interpreter) = first.strip_prefix(b"#!") else {
        return false;
    };
    let words: Vec<&[u8]> = interpreter
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let program = match words.as_slice() {
        [env, program, ..] if env.ends_with(b"/env") => *program,
        [program, ..] => program.rsplit(|&b| b == b'/').next().unwrap_or_default(),
        [] => return false,
    };
    matches!(program, b"sh" | b"bash" | b"dash")
}

/// The bytes a `contents`/`append` resource yields (no `source`: none),
/// after its `compression`.
pub fn resource(res: &Value, fetch: &impl Fn(&str) -> Result<Vec<u8>>) -> Result<Vec<u8>> {
    let Some(source) = res["source"].as_str() else {
        return Ok(Vec::new());
    };
    let raw = if source
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("data:"))
    {
        ephemeros_node::data_url::decode(source)
            .with_context(|| format!("decoding {source:.60}"))?
    } else {
        fetch(source)?
    };
    match res["compression"].as_str().unwrap_or("") {
        "" => Ok(raw),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(raw.as_slice())
                .read_to_end(&mut out)
                .context("bad gzip data")?;
            Ok(out)
        }
        other => bail!("unknown compression {other:?}"),
    }
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn string(value: &Value, key: &str) -> Result<String> {
    match value[key].as_str() {
        Some(s) => Ok(s.to_owned()),
        None => bail!("an entry without `{key}`: {value}"),
    }
}

fn mode(value: &Value, default: u32) -> Result<u32> {
    match &value["mode"] {
        Value::Null => Ok(default),
        v => match v.as_u64().and_then(|m| u32::try_from(m).ok()) {
            Some(m) if m <= 0o7777 => Ok(m),
            _ => bail!("invalid mode {v} in {value}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn inline(json: serde_json::Value) -> Result<NodeConfig> {
        NodeConfig::parse(&json.to_string())
    }

    #[test]
    fn gzip_base64_and_percent_encoded_sources() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(b"#!/bin/bash\necho hi\n").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let config = inline(serde_json::json!({"storage": {"files": [
            {"path": "/a", "mode": 493, "contents": {"source": format!("data:;base64,{b64}"), "compression": "gzip"}},
            {"path": "/b", "contents": {"source": "data:,%5BDHCPv4%5D%0Ax%3D1%20y"}}
        ]}}))
        .unwrap();
        assert_eq!(config.files[0].data, b"#!/bin/bash\necho hi\n");
        assert_eq!(config.files[0].mode, 0o755);
        assert_eq!(config.files[1].data, b"[DHCPv4]\nx=1 y");
        assert_eq!(config.files[1].mode, 0o644);
        assert_eq!(config.shell_scripts().count(), 1);
    }

    #[test]
    fn the_committed_config_is_inline_and_whole() {
        for bad in [
            serde_json::json!({"storage": {"files": [{"path": "/x", "contents": {"source": "https://example.org/x"}}]}}),
            serde_json::json!({"storage": {"files": [{"path": "/x", "append": [{"source": "data:,y"}]}]}}),
            serde_json::json!({"storage": {"links": [{"path": "/x", "target": "/y", "hard": true}]}}),
            serde_json::json!({"storage": {"files": [{"path": "/x", "contents": {"source": "data:,%zz"}}]}}),
            serde_json::json!({"storage": {"files": [{"path": "/x", "contents": {"source": "data:,abc", "compression": "xz"}}]}}),
            serde_json::json!({"storage": {"files": [{"path": "/x", "mode": 65536}]}}),
        ] {
            assert!(inline(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn remote_sources_appends_units_and_users() {
        let json = serde_json::json!({
            "storage": {"files": [{"path": "/x", "contents": {"source": "https://example.org/x"},
                                   "append": [{"source": "data:,+more"}]}]},
            "systemd": {"units": [{"name": "a.service", "enabled": true, "contents": "[Unit]\n",
                                   "dropins": [{"name": "x.conf", "contents": "[Service]\n"}]},
                                  {"name": "b.service", "mask": true}]},
            "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA c"]}]}
        });
        let config = NodeConfig::parse_with(&json.to_string(), |s| {
            ensure_eq(s, "https://example.org/x")?;
            Ok(b"remote".to_vec())
        })
        .unwrap();
        assert_eq!(config.files[0].data, b"remote+more");
        assert!(config.files[0].appended);
        assert_eq!(config.units[0].enabled, Some(true));
        assert!(config.units[1].mask);
        assert_eq!(config.users[0].home, "home/core");
        assert_eq!(config.users[0].ssh_keys, ["ssh-ed25519 AAAA c"]);
    }

    fn ensure_eq(a: &str, b: &str) -> Result<()> {
        anyhow::ensure!(a == b, "{a} != {b}");
        Ok(())
    }

    #[test]
    fn shebangs() {
        assert!(is_shell_script(b"#!/bin/bash\nx"));
        assert!(is_shell_script(b"#!/usr/bin/env bash\nx"));
        assert!(is_shell_script(b"#! /bin/sh -e\nx"));
        assert!(!is_shell_script(b"#!/usr/bin/python3\nx"));
        assert!(!is_shell_script(b"[Unit]\n"));
    }
}
