#!/bin/busybox sh
# shellcheck shell=dash
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
exec </dev/console >/dev/console 2>&1
dmesg -n 1

mark() { echo "E2E $*"; }
fail() { mark "done" fail; sync; poweroff -f; }

mark init-start
while read -r m; do
    insmod "/lib/modules/$m" || mark insmod-failed "$m"
done </etc/e2e/modules

ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -q -n -t 10 -T 1 -s /etc/e2e/udhcpc.script >/dev/null 2>&1 \
    || { mark dhcp-failed; fail; }

# Real Ignition, as Flatcar's initrd runs it: fetch reads
# ignition.config.url from /proc/cmdline; files writes the new root.
ignition -platform metal -stage fetch -log-to-stdout
rc=$?
mark ignition-fetch $rc
[ $rc -eq 0 ] || fail
ignition -platform metal -stage files -root /sysroot -log-to-stdout
rc=$?
mark ignition-files $rc
[ $rc -eq 0 ] || fail

# The initrd's lease goes; networkd in the new root makes its own.
ip addr flush dev eth0
ip link set eth0 down

# Switch root: /sysroot becomes / (a bind mount of the initramfs' own
# tmpfs; nothing is copied) with the API file systems moved along.
mount --bind /sysroot /sysroot
for d in dev proc sys run; do
    mount --move "/$d" "/sysroot/$d" || { mark move-failed "$d"; fail; }
done
# udev runs in the initrd, as in Flatcar's: it loads the drivers (the
# stick's USB storage among them) and leaves its database in /run, so the
# new root's systemd knows /dev/disk/by-partlabel/secrets from its start.
# It is the new root's udev, run from there before the switch (its tools
# refuse to act in a chroot unless told to).
export SYSTEMD_IGNORE_CHROOT=1
chroot /sysroot /usr/lib/systemd/systemd-udevd --daemon --resolve-names=never \
    || { mark udev-failed; fail; }
chroot /sysroot udevadm trigger --type=subsystems --action=add
chroot /sysroot udevadm trigger --type=devices --action=add
chroot /sysroot udevadm settle --timeout=120 || mark udev-settle-timeout
for _ in $(seq 1 300); do
    [ -e /sysroot/dev/disk/by-partlabel/secrets ] && break
    sleep 0.1
done
mark udev-done "$(readlink /sysroot/dev/disk/by-partlabel/secrets)"
chroot /sysroot udevadm control --exit
cd /sysroot || fail
mount --move . / || { mark switch-root-failed; fail; }
mark switch-root
exec chroot . /lib/systemd/systemd
