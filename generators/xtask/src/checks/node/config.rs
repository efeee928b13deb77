//! What ignition.ign puts on a node: files (decoded from their data URLs),
//! directories, links and systemd units with their drop-ins.
//!
//! Decoding is done here rather than by trusting the generator: the checks
//! must see the bytes Ignition will write.

use std::io::Read;

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::Value;

pub struct File {
    pub path: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

pub struct Link {
    pub path: String,
    pub target: String,
}

pub struct Unit {
    pub name: String,
    pub contents: Option<String>,
    pub dropins: Vec<(String, String)>,
}

pub struct NodeConfig {
    pub directories: Vec<(String, u32)>,
    pub files: Vec<File>,
    pub links: Vec<Link>,
    pub units: Vec<Unit>,
}

impl NodeConfig {
    pub fn parse(json: &str) -> Result<NodeConfig> {
        let root: Value = serde_json::from_str(json).context("ignition.ign is not JSON")?;
        let storage = &root["storage"];
        let mut config = NodeConfig {
            directories: Vec::new(),
            files: Vec::new(),
            links: Vec::new(),
            units: Vec::new(),
        };
        for dir in array(&storage["directories"]) {
            config
                .directories
                .push((string(dir, "path")?, mode(dir, 0o755)?));
        }
        for file in array(&storage["files"]) {
            let path = string(file, "path")?;
            let contents = &file["contents"];
            if !file["append"].is_null() {
                bail!("{path}: `append` is not expected in the node config");
            }
            let source = contents["source"].as_str().unwrap_or("data:,");
            let compression = contents["compression"].as_str().unwrap_or("");
            let data = decode_source(source, compression).with_context(|| path.clone())?;
            config.files.push(File {
                mode: mode(file, 0o644)?,
                path,
                data,
            });
        }
        for link in array(&storage["links"]) {
            if link["hard"].as_bool() == Some(true) {
                bail!("{}: hard links are not expected", string(link, "path")?);
            }
            config.links.push(Link {
                path: string(link, "path")?,
                target: string(link, "target")?,
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
                name,
                dropins,
            });
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

/// The bytes of an Ignition `source` (only data URLs: the node config must
/// not depend on anything fetched at Ignition time) after `compression`.
pub fn decode_source(source: &str, compression: &str) -> Result<Vec<u8>> {
    let Some(rest) = source.strip_prefix("data:") else {
        bail!("source is not a data URL: {source:.60}");
    };
    let Some((meta, payload)) = rest.split_once(',') else {
        bail!("data URL without a comma");
    };
    let raw = percent_decode(payload)?;
    let bytes = if meta.split(';').any(|p| p == "base64") {
        // RFC 2397: the base64 text itself may be percent-encoded.
        let text: Vec<u8> = raw
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(&text)
            .context("bad base64 in data URL")?
    } else {
        raw
    };
    match compression {
        "" => Ok(bytes),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(bytes.as_slice())
                .read_to_end(&mut out)
                .context("bad gzip data")?;
            Ok(out)
        }
        other => bail!("unknown compression {other:?}"),
    }
}

fn percent_decode(s: &str) -> Result<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(byte) = hex else {
                bail!("bad percent escape at byte {i} of the data URL");
            };
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoded_data_url() {
        let data = decode_source("data:,%5BDHCPv4%5D%0Ax%3D1%20y", "").unwrap();
        assert_eq!(data, b"[DHCPv4]\nx=1 y");
    }

    #[test]
    fn base64_gzip_data_url() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(b"#!/bin/bash\necho hi\n").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let data = decode_source(&format!("data:;base64,{b64}"), "gzip").unwrap();
        assert_eq!(data, b"#!/bin/bash\necho hi\n");
    }

    #[test]
    fn bad_data_urls_are_errors() {
        assert!(decode_source("https://example.org/x", "").is_err());
        assert!(decode_source("data:,%zz", "").is_err());
        assert!(decode_source("data:;base64,!!!", "").is_err());
        assert!(decode_source("data:,abc", "xz").is_err());
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
