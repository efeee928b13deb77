//! Checks of the node config (ignition.yml -> the committed ignition.ign):
//! - ignition.ign is exactly what `ephemeros ignite` makes of ignition.yml;
//! - Debian's `ignition-validate` accepts it;
//! - its networkd files sit where Flatcar's PXE networking uses them;
//! - its units pass `systemd-analyze verify` in a scratch root holding
//!   everything the config writes, and follow the secrets rules;
//! - its shell scripts pass shellcheck, and run under bash with fake
//!   programs (and, for the log exporter, real TLS) they treat values from
//!   /secrets as data.
//!
//! Every step runs; all failures are reported together.

mod logexport;
mod network;
mod sandbox;
mod scripts;
mod units;

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use xshell::{cmd, Shell};

use crate::node_model::NodeConfig;

const VALIDATOR: &str = "/usr/bin/ignition-validate";
const REGENERATE: &str = "cargo run -q -p ephemeros -- ignite ignition.yml -p -o ignition.ign";

pub fn run(sh: &Shell) -> Result<()> {
    let root = crate::workspace_root();
    let work = root.join("target/xtask/node");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {work}"))?;
    let committed = root.join("ignition.ign");
    let json =
        std::fs::read_to_string(&committed).with_context(|| format!("reading {committed}"))?;

    let mut failures = Vec::new();
    let mut step = |name: &str, result: Result<String>| match result {
        Ok(note) => eprintln!("node: {name}: ok{note}"),
        Err(e) => {
            eprintln!("node: {name}: FAILED");
            failures.push(format!("{name}: {e:#}"));
        }
    };

    step("tools", tools());
    step("ignition.ign is fresh", fresh(sh, &root, &work, &json));
    step("ignition-validate", validate(sh, &committed));
    let config = match NodeConfig::parse(&json) {
        Ok(config) => config,
        Err(e) => {
            failures.push(format!("reading ignition.ign: {e:#}"));
            bail!("node config checks failed:\n{}", failures.join("\n"));
        }
    };
    step("node contract", contract(&config).map(|()| String::new()));
    step(
        "networkd files",
        network::check(&config).map(|()| String::new()),
    );
    let scratch = work.join("root");
    let built = units::build_root(&config, &scratch);
    let built_ok = built.is_ok();
    step("scratch root", built.map(|()| format!(" ({scratch})")));
    step(
        "unit rules",
        units::check_rules(&config).map(|()| String::new()),
    );
    if built_ok {
        step(
            "systemd-analyze verify",
            units::verify(&config, &scratch).map(|n| format!(" ({n} units)")),
        );
        step(
            "shellcheck",
            scripts::shellcheck(&config, &scratch).map(|n| format!(" ({n} scripts)")),
        );
    }
    let ok = |r: Result<()>| r.map(|()| String::new());
    step(
        "heartbeat script",
        ok(scripts::heartbeat(&config, work.join("heartbeat"))),
    );
    step(
        "k3s-run script",
        ok(scripts::k3s_run(&config, work.join("k3s-run"))),
    );
    step(
        "k3s-fetch script",
        ok(scripts::k3s_fetch(&config, work.join("k3s-fetch"))),
    );
    step(
        "apply-hostname script",
        ok(scripts::apply_hostname(&config, work.join("hostname"))),
    );
    step(
        "logexport: secrets stay data",
        ok(logexport::injection(&config, work.join("logexport-fake"))),
    );
    step(
        "logexport: real TLS, resume, refusal, reconnect",
        ok(logexport::tls(&config, work.join("logexport-tls"))),
    );
    step(
        "logexport: long, binary and out-of-range entries",
        ok(logexport::content(&config, work.join("logexport-content"))),
    );
    step(
        "logexport: a server that closes at once: backoff, nothing lost",
        ok(logexport::flaky_server(
            &config,
            work.join("logexport-flaky"),
        )),
    );

    if !failures.is_empty() {
        bail!("node config checks failed:\n{}", failures.join("\n"));
    }
    Ok(())
}

/// Programs the checks run, with the Debian package that has each.
const TOOLS: &[(&str, &str)] = &[
    ("bash", "bash"),
    ("jq", "jq"),
    ("openssl", "openssl"),
    ("shellcheck", "shellcheck"),
    ("systemd-analyze", "systemd"),
    ("mkfifo", "coreutils"),
];

fn tools() -> Result<String> {
    crate::tools::require("the node checks", TOOLS)?;
    Ok(String::new())
}

/// Regenerates from ignition.yml with the built binary; byte-for-byte equal.
fn fresh(sh: &Shell, root: &Utf8Path, work: &Utf8Path, committed: &str) -> Result<String> {
    let bin = crate::ephemeros_bin(sh, crate::Profile::Debug)?;
    let source = root.join("ignition.yml");
    let out = work.join("ignition.ign");
    cmd!(sh, "{bin} ignite {source} -p -o {out}")
        .run()
        .context("`ephemeros ignite ignition.yml` failed")?;
    let generated = std::fs::read_to_string(&out).with_context(|| format!("reading {out}"))?;
    if generated != committed {
        let line = generated
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_owned(), |i| format!("line {}", i + 1));
        bail!(
            "the committed ignition.ign is not what ignition.yml produces (first difference at \
             {line}); regenerate and commit it:\n    {REGENERATE}"
        );
    }
    Ok(String::new())
}

fn validate(sh: &Shell, file: &Utf8Path) -> Result<String> {
    if !Utf8Path::new(VALIDATOR).exists() {
        bail!("{VALIDATOR} not found: install Debian's `ignition` package");
    }
    let output = cmd!(sh, "{VALIDATOR} {file}").ignore_status().output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() || !text.trim().is_empty() {
        bail!("ignition-validate {file}: {}", text.trim());
    }
    Ok(String::new())
}

/// The parts of the secrets contract that live in the config.
fn contract(config: &NodeConfig) -> Result<()> {
    let Some(mount) = config.units.iter().find(|u| u.name == "secrets.mount") else {
        bail!("no secrets.mount unit");
    };
    let text = mount.contents.as_deref().unwrap_or_default();
    for needed in [
        "What=/dev/disk/by-partlabel/secrets",
        "Where=/secrets",
        "Type=vfat",
    ] {
        if !text.lines().any(|l| l.trim() == needed) {
            bail!("secrets.mount lacks `{needed}`");
        }
    }
    let options = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Options="))
        .unwrap_or_default();
    for option in ["ro", "umask=0077", "nofail"] {
        if !options.split(',').any(|o| o == option) {
            bail!("secrets.mount Options= lacks {option} (has {options:?})");
        }
    }
    for (unit, file) in [
        ("k3s.service", "/secrets/k3s_env"),
        ("ephemeros-logexport.service", "/secrets/logexport_env"),
        ("ephemeros-heartbeat.service", "/secrets/heartbeat_env"),
        ("ephemeros-hostname.service", "/secrets/hostname"),
        ("ephemeros-ssh-keys.service", "/secrets/authorized_keys"),
        (
            "ephemeros-k3s-node-password.service",
            "/secrets/k3s_node_password",
        ),
    ] {
        let Some(u) = config.units.iter().find(|u| u.name == unit) else {
            bail!("no {unit}");
        };
        let condition = format!("ConditionFileNotEmpty={file}");
        if !u
            .contents
            .as_deref()
            .unwrap_or_default()
            .lines()
            .any(|l| l.trim() == condition)
        {
            bail!("{unit} is not skipped without {file} (needs {condition})");
        }
    }
    node_password_before_k3s(config)
}

/// k3s must find the stick's node password in place, or it makes a new one
/// that the server refuses (see the unit's comment in ignition.yml).
fn node_password_before_k3s(config: &NodeConfig) -> Result<()> {
    const COPY: &str = "ephemeros-k3s-node-password.service";
    let unit = |name: &str| {
        config
            .units
            .iter()
            .find(|u| u.name == name)
            .and_then(|u| u.contents.clone())
            .with_context(|| format!("no {name}"))
    };
    let copy = unit(COPY)?;
    if !copy.lines().any(|l| {
        l.trim().strip_prefix("ExecStart=").is_some_and(|cmd| {
            cmd.contains("-m 0600")
                && cmd.ends_with(" /secrets/k3s_node_password /etc/rancher/node/password")
        })
    }) {
        bail!("{COPY} does not install /secrets/k3s_node_password as /etc/rancher/node/password with mode 0600");
    }
    let k3s = unit("k3s.service")?;
    let names = |key: &str| -> Vec<String> {
        k3s.lines()
            .filter_map(|l| l.trim().strip_prefix(key))
            .flat_map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    };
    for key in ["Requires=", "After="] {
        if !names(key).iter().any(|n| n == COPY) {
            bail!("k3s.service lacks {key}{COPY}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k3s_waits_for_the_node_password() {
        let committed = || NodeConfig::parse(include_str!("../../../../ignition.ign")).unwrap();
        node_password_before_k3s(&committed()).unwrap();
        for (unit, from, to, want) in [
            (
                "k3s.service",
                "Requires=ephemeros-k3s-node-password.service\n",
                "",
                "lacks Requires=",
            ),
            (
                "k3s.service",
                " ephemeros-k3s-node-password.service\n",
                "\n",
                "lacks After=",
            ),
            (
                "ephemeros-k3s-node-password.service",
                "-m 0600",
                "-m 0644",
                "mode 0600",
            ),
        ] {
            let mut c = committed();
            let u = c.units.iter_mut().find(|u| u.name == unit).unwrap();
            let text = u.contents.take().unwrap();
            assert!(text.contains(from), "{unit} no longer has {from:?}");
            u.contents = Some(text.replacen(from, to, 1));
            let e = node_password_before_k3s(&c).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    /// Only the node checks, without the rest of `cargo xtask ci`:
    /// `cargo test -p xtask node_checks -- --ignored --nocapture`
    #[test]
    #[ignore = "runs real tools for a minute; part of `cargo xtask ci`"]
    fn node_checks() {
        let sh = xshell::Shell::new().unwrap();
        sh.change_dir(crate::workspace_root());
        if let Err(e) = super::run(&sh) {
            panic!("{e:#}");
        }
    }
}
