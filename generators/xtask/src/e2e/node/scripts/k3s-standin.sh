#!/bin/bash
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
