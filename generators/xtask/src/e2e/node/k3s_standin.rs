//! The `k3s` the test's release mirror serves in place of the real one
//! (there is no k3s binary on these machines): it records how it was
//! started, does what the node's units rely on k3s doing, signals readiness
//! the way `Type=notify` needs, and stays running.

/// Where the stand-in writes its records (root-only, RAM).
pub const RECORD_DIR: &str = "/run/k3s-standin";
/// Created by [`WRONG`] if it is ever run.
pub const WRONG_RAN: &str = "/run/k3s-standin-wrong-binary-ran";

/// The stand-in. Each start as `server`/`agent` leaves `<pid>.argv`
/// (NUL-separated), `<pid>.environ` (its environment as exec'd, from
/// /proc) and `<pid>.hostname` (the kernel's hostname at start).
pub const STANDIN: &str = r#"#!/bin/bash
# k3s stand-in of the ephemeros e2e test (not k3s).
set -euo pipefail
name=${0##*/}
case $name in
  kubectl|crictl|ctr)
    echo "k3s stand-in: $name $*"
    exit 0
    ;;
esac
dir=/run/k3s-standin
install -d -m 0700 "$dir"
printf '%s\0' "$0" "$@" >"$dir/$$.argv"
cat "/proc/$$/environ" >"$dir/$$.environ"
cat /proc/sys/kernel/hostname >"$dir/$$.hostname"
case ${1:-} in
  server)
    # k3s writes the admin kubeconfig with K3S_KUBECONFIG_MODE.
    mkdir -p /etc/rancher/k3s
    printf 'apiVersion: v1\nkind: Config\n# written by the k3s stand-in\n' >/etc/rancher/k3s/k3s.yaml
    chmod "${K3S_KUBECONFIG_MODE:-0600}" /etc/rancher/k3s/k3s.yaml
    ;;
  agent) ;;
  *)
    echo "k3s stand-in: unknown command ${1:-}" >&2
    exit 1
    ;;
esac
# k3s keeps (and reuses) a node password here.
if [[ ! -s /etc/rancher/node/password ]]; then
  mkdir -p /etc/rancher/node
  (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >/etc/rancher/node/password)
fi
# READY=1 from the main PID itself (systemd-notify is exec'd in its place),
# then the same PID keeps running as k3s would.
exec systemd-notify --ready "--status=k3s stand-in: $1" --exec \; sleep infinity
"#;

/// Served with the pinned hash of [`STANDIN`] still in the config: k3s-fetch
/// must refuse it, so it must never run.
pub const WRONG: &str = r#"#!/bin/bash
# Not the pinned k3s: proof that it ran if it ever does.
touch /run/k3s-standin-wrong-binary-ran
exec sleep infinity
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_and_name_the_paths_the_checks_read() {
        for text in [STANDIN, WRONG] {
            let out = std::process::Command::new("bash")
                .args(["-n", "-c", text])
                .output()
                .expect("bash");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(STANDIN.contains(&format!("dir={RECORD_DIR}\n")));
        assert!(WRONG.contains(WRONG_RAN));
    }
}
