#!/bin/busybox sh
# shellcheck shell=dash
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
exec </dev/console >/dev/console 2>&1
# Kernel messages (USB enumeration, …) would otherwise interleave with the
# marker lines on the shared console.
dmesg -n 1

mark() { echo "E2E $*"; }
b64() { base64 -w 0 "$@"; }
finish() { mark "done" "$1"; sync; poweroff -f; }

mark init-start
mark cmdline "$(b64 /proc/cmdline)"

while read -r m; do
    insmod "/lib/modules/$m" || mark insmod-failed "$m"
done </etc/e2e/modules

# The stick's secrets partition, by GPT partition name, as the node's
# /dev/disk/by-partlabel/secrets would find it. USB enumeration takes ~1 s.
dev=
i=0
while [ -z "$dev" ] && [ $i -lt 300 ]; do
    for u in /sys/class/block/*/uevent; do
        if grep -qx 'PARTNAME=secrets' "$u"; then
            dev=$(sed -n 's/^DEVNAME=//p' "$u")
        fi
    done
    [ -n "$dev" ] || sleep 0.1
    i=$((i + 1))
done
[ -n "$dev" ] || { mark secrets-missing; finish fail; }
mark secrets-dev "$dev"
mount -t vfat -o ro,umask=0077 "/dev/$dev" /secrets || { mark secrets-mount-failed; finish fail; }
mark secrets-mount "$(grep ' /secrets ' /proc/mounts | b64)"
if touch /secrets/.write-test 2>/dev/null; then mark secrets-writable; fi
for f in /secrets/*; do
    [ -f "$f" ] && mark secrets-file "$(basename "$f")" "$(b64 "$f")"
done

ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -q -n -t 10 -T 1 -s /etc/e2e/udhcpc.script >/dev/null 2>&1 \
    || { mark dhcp-failed; finish fail; }
mark net "$(ip -4 addr show eth0 | sed -n 's/.*inet \([^ ]*\).*/\1/p')"

# Real Ignition, as Flatcar's initrd runs it: fetch reads
# ignition.config.url from /proc/cmdline; files applies it to the root.
ignition -platform metal -stage fetch -log-to-stdout
mark ignition-fetch $?
ignition -platform metal -stage files -root /sysroot -log-to-stdout
mark ignition-files $?

# Everything under the scratch root: kind, mode, owner, and a content hash
# (files) or target (links), path last.
cd /sysroot || finish fail
find . -mindepth 1 | sort | while read -r p; do
    p=${p#./}
    if [ -L "$p" ]; then
        mark entry link 777 "$(stat -c '%u %g' "$p")" "$(readlink "$p" | b64)" "$p"
    elif [ -d "$p" ]; then
        mark entry dir "$(stat -c '%a %u %g' "$p")" - "$p"
    elif [ -f "$p" ]; then
        mark entry file "$(stat -c '%a %u %g' "$p")" "$(sha512sum "$p" | cut -d' ' -f1)" "$p"
        case "$p" in
        home/*/.ssh/*|etc/systemd/system-preset/*) mark content "$(b64 "$p")" "$p" ;;
        esac
    fi
done
cd /
finish ok
