//! The node config the stand-in's Ignition fetches, and what it must leave
//! in the scratch root.
//!
//! The served config is the committed `ignition.ign` with one change: every
//! remote `source` (http, https, …) is rewritten to a blob on the loopback
//! server, because the VM has no internet. Each stand-in blob is a short
//! text naming the URL it replaces; where the original carried a
//! `verification.hash` it is replaced by the sha512 of the stand-in (and any
//! `compression` is dropped, the stand-in being plain), so Ignition still
//! verifies what it downloads. Inline `data:` sources are served unchanged.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha512};

use crate::node_model::NodeConfig;

/// The served config and the blobs its rewritten sources point at.
pub struct Served {
    pub config: Vec<u8>,
    /// Request target on the loopback server -> body.
    pub blobs: BTreeMap<String, Vec<u8>>,
    /// Original URL -> request target, for the report.
    pub rewritten: Vec<(String, String)>,
}

const REMOTE_SCHEMES: &[&str] = &["http://", "https://", "tftp://", "s3://", "gs://", "arn:"];

/// Rewrites remote sources to `{base}blobs/<n>` (base ends with `/`).
pub fn serve(config: &[u8], base: &str, origin: &str) -> Result<Served> {
    let mut v: Value =
        serde_json::from_slice(config).with_context(|| format!("{origin}: not JSON"))?;
    let mut served = Served {
        config: Vec::new(),
        blobs: BTreeMap::new(),
        rewritten: Vec::new(),
    };
    rewrite(&mut v, base, &mut served);
    served.config = serde_json::to_vec_pretty(&v).context("serialising the served config")?;
    Ok(served)
}

fn rewrite(v: &mut Value, base: &str, served: &mut Served) {
    match v {
        Value::Object(obj) => {
            let remote = obj
                .get("source")
                .and_then(Value::as_str)
                .filter(|s| REMOTE_SCHEMES.iter().any(|p| s.starts_with(p)))
                .map(str::to_owned);
            if let Some(url) = remote {
                let n = served.blobs.len();
                let target = format!("/blobs/{n}");
                let body = format!("e2e stand-in for {url}\n").into_bytes();
                obj.insert("source".into(), Value::String(format!("{base}blobs/{n}")));
                obj.remove("compression");
                if obj.contains_key("verification") {
                    let hash = format!("sha512-{}", hex(&Sha512::digest(&body)));
                    obj.insert("verification".into(), serde_json::json!({ "hash": hash }));
                }
                served.rewritten.push((url, target.clone()));
                served.blobs.insert(target, body);
            }
            for child in obj.values_mut() {
                rewrite(child, base, served);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite(i, base, served)),
        _ => {}
    }
}

/// What one path in the scratch root must be after Ignition's files stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    File {
        mode: u32,
        sha512: String,
    },
    Dir {
        mode: u32,
    },
    Link {
        target: String,
    },
    /// A line the file must contain (presets, authorized keys).
    Contains {
        line: String,
    },
}

/// Expected entries (path relative to the root, no leading `/`) for the
/// served config, from the one model of what a config puts on a node
/// ([`crate::node_model`]); `blobs` resolves the rewritten remote sources.
pub fn expectations(served: &Served, base: &str) -> Result<Vec<(String, Expect)>> {
    let json = std::str::from_utf8(&served.config).context("the served config is not UTF-8")?;
    let model = NodeConfig::parse_with(json, |source| {
        let Some(n) = source.strip_prefix(base) else {
            bail!("source {source} is neither inline nor served by the harness");
        };
        served
            .blobs
            .get(&format!("/{n}"))
            .cloned()
            .with_context(|| format!("no stand-in blob for {source}"))
    })?;
    let file = |mode: u32, data: &[u8]| Expect::File {
        mode,
        sha512: hex(&Sha512::digest(data)),
    };
    let mut out = Vec::new();
    for f in &model.files {
        out.push((rel(&f.path), file(f.mode, &f.data)));
    }
    for (path, mode) in &model.directories {
        out.push((rel(path), Expect::Dir { mode: *mode }));
    }
    for l in model.links.iter().filter(|l| !l.hard) {
        let target = l.target.clone();
        out.push((rel(&l.path), Expect::Link { target }));
    }
    let preset = "etc/systemd/system-preset/20-ignition.preset";
    for u in &model.units {
        let unit_path = format!("etc/systemd/system/{}", u.name);
        if u.mask {
            let target = "/dev/null".to_owned();
            out.push((unit_path.clone(), Expect::Link { target }));
        } else if let Some(c) = &u.contents {
            out.push((unit_path.clone(), file(0o644, c.as_bytes())));
        }
        for (name, contents) in &u.dropins {
            out.push((
                format!("{unit_path}.d/{name}"),
                file(0o644, contents.as_bytes()),
            ));
        }
        if let Some(enabled) = u.enabled {
            let verb = if enabled { "enable" } else { "disable" };
            let line = format!("{verb} {}", u.name);
            out.push((preset.to_owned(), Expect::Contains { line }));
        }
    }
    for user in &model.users {
        // Ignition writes a fragment that Flatcar's update-ssh-keys merges.
        for key in &user.ssh_keys {
            let line = key.clone();
            out.push((
                format!("{}/.ssh/authorized_keys.d/ignition", user.home),
                Expect::Contains { line },
            ));
        }
    }
    Ok(out)
}

fn rel(path: &str) -> String {
    path.trim_start_matches('/').to_owned()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://10.0.2.2:8080/";

    #[test]
    fn remote_sources_become_verified_loopback_blobs() {
        let cfg = br#"{"ignition":{"version":"3.3.0"},"storage":{"files":[
            {"path":"/opt/bin/k3s","mode":493,"contents":{"source":"https://example.org/k3s",
             "compression":"gzip","verification":{"hash":"sha512-00"}}},
            {"path":"/etc/motd","contents":{"source":"data:,hi%20there%0A"}}]}}"#;
        let served = serve(cfg, BASE, "test").unwrap();
        let v: Value = serde_json::from_slice(&served.config).unwrap();
        let c = &v["storage"]["files"][0]["contents"];
        assert_eq!(c["source"], "http://10.0.2.2:8080/blobs/0");
        assert!(c.get("compression").is_none());
        let body = &served.blobs["/blobs/0"];
        assert_eq!(body, b"e2e stand-in for https://example.org/k3s\n");
        assert_eq!(
            c["verification"]["hash"],
            format!("sha512-{}", hex(&Sha512::digest(body)))
        );
        assert_eq!(
            v["storage"]["files"][1]["contents"]["source"],
            "data:,hi%20there%0A"
        );

        let exp = expectations(&served, BASE).unwrap();
        assert_eq!(
            exp[0],
            (
                "opt/bin/k3s".into(),
                Expect::File {
                    mode: 0o755,
                    sha512: hex(&Sha512::digest(body))
                }
            )
        );
        assert_eq!(
            exp[1],
            (
                "etc/motd".into(),
                Expect::File {
                    mode: 0o644,
                    sha512: hex(&Sha512::digest(b"hi there\n"))
                }
            )
        );
    }

    #[test]
    fn units_links_users_and_gzip_data() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"zipped\n").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let cfg = serde_json::json!({
            "ignition": {"version": "3.3.0"},
            "storage": {
                "files": [{"path": "/z", "contents": {"source": format!("data:;base64,{b64}"), "compression": "gzip"}}],
                "links": [{"path": "/etc/l", "target": "/z"}],
                "directories": [{"path": "/d", "mode": 448}]
            },
            "systemd": {"units": [
                {"name": "a.service", "enabled": true, "contents": "[Unit]\n",
                 "dropins": [{"name": "x.conf", "contents": "[Service]\n"}]},
                {"name": "b.service", "mask": true}
            ]},
            "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA c"]}]}
        });
        let served = serve(cfg.to_string().as_bytes(), BASE, "test").unwrap();
        let exp: BTreeMap<_, _> = expectations(&served, BASE).unwrap().into_iter().collect();
        assert_eq!(
            exp["z"],
            Expect::File {
                mode: 0o644,
                sha512: hex(&Sha512::digest(b"zipped\n"))
            }
        );
        assert_eq!(
            exp["etc/l"],
            Expect::Link {
                target: "/z".into()
            }
        );
        assert_eq!(exp["d"], Expect::Dir { mode: 0o700 });
        assert!(exp.contains_key("etc/systemd/system/a.service.d/x.conf"));
        assert_eq!(
            exp["etc/systemd/system/b.service"],
            Expect::Link {
                target: "/dev/null".into()
            }
        );
        assert_eq!(
            exp["home/core/.ssh/authorized_keys.d/ignition"],
            Expect::Contains {
                line: "ssh-ed25519 AAAA c".into()
            }
        );
    }
}

/// The node's k3s download, as the served config has it after [`pin_k3s`].
pub struct K3sMirror {
    /// Request target the stand-in binary is served at.
    pub target: String,
    /// The sha256 now pinned (the stand-in's).
    pub sha256: String,
}

/// Where k3s-fetch downloads from on a real node.
const K3S_RELEASES: &str = "https://github.com/k3s-io/k3s/releases/download/";
const K3S_FETCH: &str = "/opt/ephemeros/bin/k3s-fetch";

/// Points the served config's k3s-fetch at the loopback mirror
/// (`{base}k3s-mirror/…`) and pins `standin`'s sha256 in place of every
/// sha256 in the script. The committed ignition.ign is not touched. Fails
/// when the script no longer has the shape this relies on, so a change to
/// k3s-fetch cannot silently test nothing.
pub fn pin_k3s(config: &[u8], base: &str, standin: &[u8]) -> Result<(Vec<u8>, K3sMirror)> {
    use sha2::Sha256;
    let mut v: Value = serde_json::from_slice(config).context("served config: not JSON")?;
    let files = v
        .pointer_mut("/storage/files")
        .and_then(Value::as_array_mut)
        .context("served config has no storage.files")?;
    let file = files
        .iter_mut()
        .find(|f| f.get("path").and_then(Value::as_str) == Some(K3S_FETCH))
        .with_context(|| format!("served config has no {K3S_FETCH}"))?;
    let contents = file
        .get("contents")
        .cloned()
        .with_context(|| format!("{K3S_FETCH} has no contents"))?;
    let script = contents_of(&contents)?;
    let script = String::from_utf8(script).with_context(|| format!("{K3S_FETCH} is not UTF-8"))?;
    let sha256 = hex(&Sha256::digest(standin));
    let (pinned, replaced) = replace_sha256s(&script, &sha256);
    if replaced == 0 {
        bail!("{K3S_FETCH} pins no sha256 (64 hex digits) the stand-in could replace");
    }
    if !pinned.contains(K3S_RELEASES) {
        bail!("{K3S_FETCH} does not download from {K3S_RELEASES}");
    }
    let pinned = pinned.replace(K3S_RELEASES, &format!("{base}k3s-mirror/"));
    let version = pinned
        .lines()
        .find_map(|l| l.trim().strip_prefix("version="))
        .map(|v| v.trim_matches(['"', '\'']).to_owned())
        .with_context(|| format!("{K3S_FETCH} has no version= line"))?;
    let target = format!("/k3s-mirror/{}/k3s", version.replace('+', "%2B"));
    let encoded = base64::engine::general_purpose::STANDARD.encode(pinned.as_bytes());
    file["contents"] = serde_json::json!({ "source": format!("data:;base64,{encoded}") });
    let config = serde_json::to_vec_pretty(&v).context("serialising the served config")?;
    Ok((config, K3sMirror { target, sha256 }))
}

/// Decoded bytes of a `contents` resource with an inline source.
fn contents_of(res: &Value) -> Result<Vec<u8>> {
    crate::node_model::resource(res, &|_: &str| {
        bail!("k3s-fetch is not inline (data:) in the config")
    })
}

/// Replaces every run of exactly 64 hex digits; returns the text and count.
fn replace_sha256s(text: &str, with: &str) -> (String, usize) {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        if b[i].is_ascii_hexdigit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let end = (i..b.len())
                .find(|&j| !b[j].is_ascii_hexdigit())
                .unwrap_or(b.len());
            let bounded = end == b.len() || !b[end].is_ascii_alphanumeric();
            if end - i == 64 && bounded {
                out.push_str(with);
                n += 1;
                i = end;
                continue;
            }
            out.push_str(&text[i..end]);
            i = end;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    (out, n)
}

#[cfg(test)]
mod k3s_tests {
    use super::*;

    #[test]
    fn pins_the_standin_and_points_at_the_mirror() {
        let script = "version=v1.2.3+k3s1\nsha256=d73847bcd3c5fccef0115b372e2f9a91f3032dc84bbf71518a4617565294d313\n\
                      curl --url \"https://github.com/k3s-io/k3s/releases/download/${version/+/%2B}/k3s\"\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, script.as_bytes()).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let cfg = serde_json::json!({"ignition": {"version": "3.3.0"}, "storage": {"files": [
            {"path": K3S_FETCH, "mode": 493, "contents": {"source": format!("data:;base64,{b64}"), "compression": "gzip"}}
        ]}});
        let (out, mirror) =
            pin_k3s(cfg.to_string().as_bytes(), "http://10.0.2.2:9/", b"standin").unwrap();
        assert_eq!(mirror.target, "/k3s-mirror/v1.2.3%2Bk3s1/k3s");
        let v: Value = serde_json::from_slice(&out).unwrap();
        let got = contents_of(&v["storage"]["files"][0]["contents"]).unwrap();
        let got = String::from_utf8(got).unwrap();
        assert!(
            got.contains(&format!("sha256={}\n", mirror.sha256)),
            "{got}"
        );
        assert!(
            got.contains("http://10.0.2.2:9/k3s-mirror/${version/+/%2B}/k3s"),
            "{got}"
        );
        assert!(!got.contains("d73847bc"));
    }

    #[test]
    fn a_script_without_a_hash_is_an_error() {
        let cfg = serde_json::json!({"storage": {"files": [
            {"path": K3S_FETCH, "contents": {"source": "data:,echo%20hi"}}]}});
        assert!(pin_k3s(cfg.to_string().as_bytes(), "http://x/", b"s").is_err());
    }

    #[test]
    fn only_whole_64_digit_runs_are_hashes() {
        let h = "a".repeat(64);
        let (out, n) = replace_sha256s(&format!("x={h} y={h}0 z=g{h}"), "H");
        assert_eq!(
            (out.as_str(), n),
            (format!("x=H y={h}0 z=g{h}").as_str(), 1)
        );
    }
}
