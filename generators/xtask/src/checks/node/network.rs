//! The node's networkd files, against Flatcar's own (flatcar/init
//! systemd/network/): networkd applies the first `.network` file in name
//! order whose `[Match]` fits an interface, so what matters is which file
//! wins, and that our drop-ins sit on the files that do.
//!
//! - On a PXE boot Flatcar's `yy-pxe.network` (`Name=*`,
//!   `KernelCommandLine=!root`) wins over `zz-default.network`; the
//!   no-DHCP-hostname drop-in must be on both.
//! - k3s's pod interfaces (the names k3s's own killall script removes, in
//!   k3s-io/k3s install.sh, plus the veth pairs on cni0) must be matched by a
//!   file of ours with `Unmanaged=yes` that sorts before `yy-pxe.network`,
//!   which on LTS-2024 matches them too.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::node_model::NodeConfig;

const DIR: &str = "/etc/systemd/network/";
/// Flatcar's DHCP networks, in the order networkd tries them.
const FLATCAR_DHCP_NETWORKS: [&str; 2] = ["yy-pxe.network", "zz-default.network"];
/// Interfaces k3s (flannel, its CNI bridge and the pods' veth ends) creates.
const K3S_INTERFACES: [&str; 7] = [
    "cni0",
    "flannel.1",
    "flannel-v6.1",
    "flannel-wg",
    "flannel-wg-v6",
    "veth5e1f0c2a",
    "vethab12cd34",
];
/// Interfaces that must stay managed (the node's own network).
const HOST_INTERFACES: [&str; 4] = ["eth0", "enp3s0", "eno1", "wlan0"];

pub fn check(config: &NodeConfig) -> Result<()> {
    let file = |path: &str| {
        config
            .files
            .iter()
            .find(|f| f.path == path)
            .map(|f| String::from_utf8_lossy(&f.data).into_owned())
    };
    for network in FLATCAR_DHCP_NETWORKS {
        let path = format!("{DIR}{network}.d/ephemeros-hostname.conf");
        let text = file(&path).with_context(|| format!("no {path}"))?;
        if section_values(&text, "DHCPv4", "UseHostname") != ["false"] {
            bail!("{path} does not set [DHCPv4] UseHostname=false");
        }
    }

    let ours: Vec<(&str, String)> = config
        .files
        .iter()
        .filter_map(|f| {
            let name = f.path.strip_prefix(DIR)?;
            (!name.contains('/') && name.ends_with(".network"))
                .then(|| (name, String::from_utf8_lossy(&f.data).into_owned()))
        })
        .collect();
    for iface in K3S_INTERFACES {
        let Some((name, text)) = ours
            .iter()
            .find(|(_, text)| matches_name(text, iface).unwrap_or(false))
        else {
            bail!("no .network file of the config matches k3s's interface {iface}");
        };
        if name >= &FLATCAR_DHCP_NETWORKS[0] {
            bail!("{name} matches {iface} but sorts after Flatcar's yy-pxe.network, which wins");
        }
        if section_values(text, "Link", "Unmanaged") != ["yes"] {
            bail!("{name} matches {iface} but does not set [Link] Unmanaged=yes");
        }
    }
    for iface in HOST_INTERFACES {
        for (name, text) in &ours {
            if matches_name(text, iface)? {
                bail!("{name} matches the host interface {iface}");
            }
        }
    }
    Ok(())
}

/// Values of `key` in `[section]`, in order.
fn section_values(text: &str, section: &str, key: &str) -> Vec<String> {
    let mut current = "";
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name;
        } else if current == section {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    out.push(v.trim().to_owned());
                }
            }
        }
    }
    out
}

/// Whether `[Match] Name=` of a .network file matches `iface`: any of its
/// space-separated shell globs (networkd uses fnmatch; bash's `[[ == ]]`
/// matches the same patterns). A file without `Name=` matches nothing here.
fn matches_name(text: &str, iface: &str) -> Result<bool> {
    let globs: Vec<String> = section_values(text, "Match", "Name")
        .iter()
        .flat_map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    if globs.is_empty() {
        return Ok(false);
    }
    let status = Command::new("bash")
        .args([
            "-c",
            r#"name=$1; shift; for g; do [[ $name == $g ]] && exit 0; done; exit 1"#,
            "match",
            iface,
        ])
        .args(&globs)
        .status()
        .context("running bash")?;
    Ok(status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed() -> NodeConfig {
        NodeConfig::parse(include_str!("../../../../../ignition.ign")).unwrap()
    }

    #[test]
    fn the_committed_config_passes_and_each_flaw_is_caught() {
        check(&committed()).unwrap();

        let mut c = committed();
        c.files
            .retain(|f| !f.path.starts_with("/etc/systemd/network/yy-pxe.network.d/"));
        let e = check(&c).unwrap_err().to_string();
        assert!(
            e.contains("yy-pxe.network.d/ephemeros-hostname.conf"),
            "{e}"
        );

        // The committed config with its k3s-pods.network changed by `edit`:
        // the check's error.
        let pods_changed = |edit: &dyn Fn(&mut crate::node_model::File)| {
            let mut c = committed();
            let pods = c
                .files
                .iter_mut()
                .find(|f| f.path.ends_with("k3s-pods.network"))
                .unwrap();
            edit(pods);
            check(&c).unwrap_err().to_string()
        };
        let e = pods_changed(&|f| f.path = "/etc/systemd/network/zz-k3s-pods.network".into());
        assert!(e.contains("sorts after"), "{e}");
        let e = pods_changed(&|f| {
            f.data = b"[Match]\nName=cni0 flannel.* flannel-v6.* flannel-wg flannel-wg-v6 veth*\n"
                .to_vec()
        });
        assert!(e.contains("Unmanaged=yes"), "{e}");
        let e = pods_changed(&|f| f.data = b"[Match]\nName=*\n[Link]\nUnmanaged=yes\n".to_vec());
        assert!(e.contains("host interface"), "{e}");
    }

    #[test]
    fn globs_match_as_networkd_does() {
        let text = "[Match]\nName=cni0 flannel.* veth*\n\n[Link]\nUnmanaged=yes\n";
        for iface in ["cni0", "flannel.1", "veth1234"] {
            assert!(matches_name(text, iface).unwrap(), "{iface}");
        }
        for iface in ["cni1", "flannel-wg", "eth0", "xveth"] {
            assert!(!matches_name(text, iface).unwrap(), "{iface}");
        }
        assert_eq!(section_values(text, "Link", "Unmanaged"), ["yes"]);
        assert!(!matches_name("[Link]\nUnmanaged=yes\n", "cni0").unwrap());
    }
}
