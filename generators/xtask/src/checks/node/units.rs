//! The node's units, checked two ways:
//! - written with everything else the config carries into a scratch root and
//!   given to `systemd-analyze verify --root=`, which parses them, resolves
//!   their dependencies and checks every Exec*= program exists there;
//! - read for the rules ephemeros relies on: whatever reads /secrets is
//!   ordered after secrets.mount, an EnvironmentFile= from /secrets goes with
//!   a ConditionFileNotEmpty= on the same file, and no Exec*= line runs a
//!   shell or lets systemd split a variable into several words.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::process::Command;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::node_model::{NodeConfig, Unit};

/// Programs of the Flatcar image that the units call by absolute path
/// (packages of Flatcar's `coreos-base/coreos` image: coreutils, kmod,
/// update-ssh-keys). The scratch root gets a stand-in for each, so that
/// `systemd-analyze verify` reports any other missing program: one the config
/// should ship but does not, or a typo.
const FLATCAR_PROGRAMS: &[&str] = &[
    "/usr/bin/install",
    "/usr/bin/update-ssh-keys",
    "/usr/sbin/modprobe",
];

/// Where the host's systemd keeps its units; copied into the scratch root as
/// a stand-in for Flatcar's (targets, sockets, network-online.target, …).
const HOST_UNIT_DIRS: &[&str] = &["/usr/lib/systemd/system", "/lib/systemd/system"];

const SYSTEMD_ANALYZE: &str = "systemd-analyze";

/// Writes the config into `root` (removed first) the way Ignition's files
/// stage would, plus the host's units and the Flatcar stand-ins.
pub fn build_root(config: &NodeConfig, root: &Utf8Path) -> Result<()> {
    if root.exists() {
        std::fs::remove_dir_all(root).with_context(|| format!("removing {root}"))?;
    }
    std::fs::create_dir_all(root).with_context(|| format!("creating {root}"))?;
    for (path, mode) in &config.directories {
        let dir = under(root, path);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
        chmod(&dir, *mode)?;
    }
    for file in &config.files {
        write(&under(root, &file.path), &file.data, file.mode)?;
    }
    for link in &config.links {
        let path = under(root, &link.path);
        mkdir_parent(&path)?;
        // Relative to the scratch root, as the target resolves on the node.
        let target = under(root, &link.target);
        symlink(&target, &path).with_context(|| format!("linking {path} -> {target}"))?;
    }
    let unit_dir = root.join("etc/systemd/system");
    for unit in &config.units {
        if let Some(contents) = &unit.contents {
            write(&unit_dir.join(&unit.name), contents.as_bytes(), 0o644)?;
        }
        for (name, contents) in &unit.dropins {
            let path = unit_dir.join(format!("{}.d", unit.name)).join(name);
            write(&path, contents.as_bytes(), 0o644)?;
        }
    }
    let Some(host_units) = HOST_UNIT_DIRS.iter().find(|d| Utf8Path::new(d).is_dir()) else {
        bail!("no systemd unit directory on this machine: install Debian's `systemd` package");
    };
    let lib = root.join("usr/lib/systemd");
    std::fs::create_dir_all(&lib).with_context(|| format!("creating {lib}"))?;
    let status = Command::new("cp")
        .args(["-a", host_units])
        .arg(lib.as_str())
        .status()
        .context("running cp")?;
    if !status.success() {
        bail!("copying {host_units} into {lib} failed");
    }
    for program in FLATCAR_PROGRAMS {
        // Never run: verify only checks that the program is there.
        write(
            &under(root, program),
            b"#!/bin/sh\necho 'stand-in for a Flatcar program' >&2\nexit 127\n",
            0o755,
        )?;
    }
    Ok(())
}

/// `systemd-analyze verify` on every unit of the config; any message at all
/// (unknown keys, bad values, missing programs or units) is a failure.
pub fn verify(config: &NodeConfig, root: &Utf8Path) -> Result<usize> {
    let mut problems = Vec::new();
    for unit in &config.units {
        // A unit with only drop-ins (the secrets device) is loaded by name
        // from the root's unit path, with its drop-ins.
        let arg = match unit.contents {
            Some(_) => root
                .join("etc/systemd/system")
                .join(&unit.name)
                .into_string(),
            None => unit.name.clone(),
        };
        let output = Command::new(SYSTEMD_ANALYZE)
            .args(["verify", "--man=no", "--generators=no"])
            .arg(format!("--root={root}"))
            .arg(&arg)
            .output()
            .with_context(|| format!("running {SYSTEMD_ANALYZE} (Debian package `systemd`)"))?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        if !output.status.success() || !text.trim().is_empty() {
            problems.push(format!(
                "{}: systemd-analyze verify ({}):\n{}",
                unit.name,
                output.status,
                text.trim_end()
            ));
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(config.units.len())
}

/// The ordering and injection rules of the module documentation.
pub fn check_rules(config: &NodeConfig) -> Result<()> {
    let mut problems = Vec::new();
    for unit in &config.units {
        let texts = unit
            .contents
            .iter()
            .map(|c| (unit.name.clone(), c.as_str()))
            .chain(
                unit.dropins
                    .iter()
                    .map(|(n, c)| (format!("{}/{n}", unit.name), c.as_str())),
            );
        for (origin, text) in texts {
            problems.extend(rule_violations(unit, &origin, text));
        }
    }
    if !problems.is_empty() {
        bail!(
            "node units break ephemeros's rules:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(())
}

fn rule_violations(unit: &Unit, origin: &str, text: &str) -> Vec<String> {
    let entries = entries(text);
    let values = |key: &str| -> Vec<&str> {
        entries
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split_whitespace())
            .collect()
    };
    let mut problems = Vec::new();
    let reads_secrets = unit.name != "secrets.mount" && text.contains("/secrets");
    if reads_secrets && !values("After").contains(&"secrets.mount") {
        problems.push(format!(
            "{origin}: reads /secrets but is not After=secrets.mount"
        ));
    }
    for env_file in values("EnvironmentFile") {
        let file = env_file.trim_start_matches('-');
        if file.starts_with("/secrets/") && !values("ConditionFileNotEmpty").contains(&file) {
            problems.push(format!(
                "{origin}: EnvironmentFile={file} without ConditionFileNotEmpty={file}"
            ));
        }
    }
    for (key, value) in &entries {
        if key.starts_with("Exec") {
            problems.extend(exec_violations(origin, key, value));
        }
    }
    problems
}

/// `key=value` pairs of a unit file, continuation lines joined.
fn entries(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if pending.is_empty() && (line.starts_with('#') || line.starts_with(';')) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        if let Some((k, v)) = pending.split_once('=') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        pending.clear();
    }
    out
}

fn exec_violations(origin: &str, key: &str, value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let program = value
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_start_matches(['-', '@', ':', '+', '!']);
    let base = program.rsplit('/').next().unwrap_or_default();
    if matches!(base, "sh" | "bash" | "dash" | "zsh") {
        problems.push(format!(
            "{origin}: {key}= runs a shell; put the commands in a script file the config carries"
        ));
    }
    let bytes = value.as_bytes();
    for (i, _) in value.match_indices('$') {
        let next = bytes.get(i + 1).copied();
        if i > 0 && bytes[i - 1] == b'$' || next == Some(b'$') {
            continue; // `$$` is a literal dollar
        }
        if next != Some(b'{') {
            problems.push(format!(
                "{origin}: {key}= uses an unbraced $ (systemd splits it into words): {value}"
            ));
            continue;
        }
        // ${VAR} must be a whole word, so it reaches the program as one argument.
        let end = value[i..]
            .find('}')
            .map(|e| i + e + 1)
            .unwrap_or(value.len());
        let before_ok = i == 0 || bytes[i - 1].is_ascii_whitespace();
        let after_ok = end == value.len() || bytes[end].is_ascii_whitespace();
        if !before_ok || !after_ok {
            problems.push(format!(
                "{origin}: {key}= uses ${{…}} inside a word: {value}"
            ));
        }
    }
    problems
}

fn under(root: &Utf8Path, absolute: &str) -> Utf8PathBuf {
    root.join(absolute.trim_start_matches('/'))
}

fn mkdir_parent(path: &Utf8Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {parent}"))?;
    }
    Ok(())
}

fn write(path: &Utf8Path, data: &[u8], mode: u32) -> Result<()> {
    mkdir_parent(path)?;
    std::fs::write(path, data).with_context(|| format!("writing {path}"))?;
    chmod(path, mode)
}

fn chmod(path: &Utf8Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, text: &str) -> Vec<String> {
        let u = Unit {
            name: name.into(),
            contents: Some(text.into()),
            dropins: vec![],
            enabled: None,
            mask: false,
        };
        rule_violations(&u, name, text)
    }

    #[test]
    fn a_well_behaved_unit_passes() {
        let text = "[Unit]\nAfter=network-online.target secrets.mount\n\
            ConditionFileNotEmpty=/secrets/x_env\n[Service]\nEnvironmentFile=/secrets/x_env\n\
            ExecStart=/usr/bin/curl --url ${URL}\n";
        assert_eq!(unit("x.service", text), Vec::<String>::new());
    }

    #[test]
    fn secrets_without_ordering_or_condition_are_caught() {
        let text = "[Service]\nEnvironmentFile=/secrets/x_env\nExecStart=/bin/true\n";
        let problems = unit("x.service", text);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("not After=secrets.mount")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("ConditionFileNotEmpty")),
            "{problems:?}"
        );
    }

    #[test]
    fn shells_and_split_variables_are_caught() {
        for exec in [
            "ExecStart=/bin/sh -c 'curl ${URL}'",
            "ExecStart=-/usr/bin/bash -c true",
            "ExecStart=/usr/bin/curl $URL",
            "ExecStart=/usr/bin/curl --url=${URL}",
            "ExecStart=/usr/bin/curl ${URL}x",
        ] {
            assert!(
                !unit("x.service", &format!("[Service]\n{exec}\n")).is_empty(),
                "{exec}"
            );
        }
        assert!(unit("x.service", "[Service]\nExecStart=/usr/bin/echo $$HOME\n").is_empty());
    }
}
