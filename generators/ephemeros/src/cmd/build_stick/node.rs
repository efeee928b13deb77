//! build-stick's checks of what a node will get, and the node's k3s
//! password: the settings are sound only if the node can use them.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ephemeros_node::config_url::ConfigSource;
use ephemeros_node::node_password::NodePassword;
use ephemeros_node::secrets::{self, files, Secrets};
use ephemeros_node::{inputs, k3s_vars};

/// `build-stick K3S_TOKEN=… /dev/sdb` makes the setting the TARGET (and
/// the device an extra argument); an image file named after a secret, and a
/// message repeating it, would follow. Refused without showing the value.
pub(super) fn refuse_setting_as_target(target: &Path) -> Result<()> {
    let text = target.to_string_lossy();
    if let Some((name, _)) = text.split_once('=') {
        let known = [
            inputs::SSH_KEY_PATH,
            inputs::IGN_PATH,
            inputs::NODE_PASSWORD_FILE,
        ];
        if secrets::is_setting(name) || known.contains(&name) {
            bail!(
                "TARGET is the setting {name}=… (value not shown); give settings as flags \
                 (--k3s {name}=…), in --env-file or in the environment, and the device or image \
                 file as TARGET"
            );
        }
    }
    Ok(())
}

/// Nodes fetch the Ignition file from the remote: it must be there, at the
/// ref the URL names, and be a config every Flatcar channel takes. (With
/// --ignition-url there is nothing local to check.)
pub(super) fn check_served_config(source: &ConfigSource) -> Result<()> {
    let path = &source.path_in_repo;
    let Some(bytes) = &source.served else {
        bail!(
            "{path} is not at {} (as of the last fetch), so every node would get 404 from {}; \
             commit and push it (git add {path} && git commit && git push), or give the config \
             URL with --ignition-url",
            source.served_from,
            source.url
        );
    };
    ephemeros_butane::served::check(bytes).map_err(|e| {
        anyhow!(
            "{path} at {} {e}, so nodes would stop in the initrd; regenerate it \
             (ephemeros ignite ignition.yml -p -o {path}), commit and push it",
            source.served_from
        )
    })?;
    Ok(())
}

/// k3s ignores a K3S_* name it does not know, so a typo silently drops a
/// setting: warn about each one, or refuse them with --strict.
pub(super) fn check_k3s_names(secrets: &Secrets, strict: bool) -> Result<()> {
    let Some(k3s) = &secrets.k3s else {
        return Ok(());
    };
    let names: Vec<&str> = k3s.vars.iter().map(|(k, _)| k.as_str()).collect();
    let unread = k3s_vars::unread(&names, k3s.role());
    if strict && !unread.is_empty() {
        bail!(
            "k3s would ignore {} of the K3S_* settings (--strict):\n  {}",
            unread.len(),
            unread.join("\n  ")
        );
    }
    for line in &unread {
        eprintln!("warning: {line}");
    }
    Ok(())
}

/// The node's k3s password: the one in the given file, else the one on the
/// stick being replaced when that is the same node's, else a new one. Only a
/// node that runs k3s gets one.
pub(super) fn node_password(
    secrets: &Secrets,
    given: Option<&Path>,
    target: &Path,
) -> Result<Option<NodePassword>> {
    if secrets.k3s.is_none() {
        if let Some(path) = given {
            eprintln!(
                "warning: k3s node password: k3s is not enabled, so {} is not used",
                path.display()
            );
        }
        return Ok(None);
    }
    if let Some(path) = given {
        let bytes = std::fs::read(path).with_context(|| {
            format!("cannot read the k3s node password file {}", path.display())
        })?;
        return Ok(Some(NodePassword::parse(
            &bytes,
            &path.display().to_string(),
        )?));
    }
    if let Some(kept) = password_on_target(target, secrets.hostname.as_ref().map(|h| h.as_str())) {
        eprintln!(
            "k3s: keeping the node password of the stick being replaced (same hostname), \
             so the cluster still knows the node"
        );
        return Ok(Some(kept));
    }
    eprintln!(
        "note: k3s: a new node password was generated; a stick rebuilt for a node that \
         is already in a cluster needs its old one (--k3s-node-password-file, or run the \
         old stick's reproduce.sh)"
    );
    Ok(Some(NodePassword::generate()?))
}

/// The k3s node password on `target` when it is a stick built for the node
/// named `hostname`: rebuilding a node's stick (a new setting, a new
/// release of ephemeros) must not change the node's identity. Anything
/// unreadable or different counts as no stick.
fn password_on_target(target: &Path, hostname: Option<&str>) -> Option<NodePassword> {
    let hostname = hostname?;
    let mut file = File::open(target).ok()?;
    // Works for image files and block devices alike.
    let len = file.seek(SeekFrom::End(0)).ok()?;
    if len == 0 {
        return None;
    }
    let report = ephemeros_stick::inspect::inspect(file, len, true).ok()?;
    let owner = report
        .manifest?
        .components
        .get("hostname")?
        .detail
        .clone()?;
    if owner != hostname {
        return None;
    }
    let content = report
        .secrets
        .iter()
        .find(|s| s.name == files::K3S_NODE_PASSWORD)?
        .content
        .as_ref()?;
    NodePassword::parse(content.as_bytes(), "the replaced stick").ok()
}
