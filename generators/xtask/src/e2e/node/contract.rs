//! What the node's units expect of Flatcar, reproduced in the stand-in's
//! Debian userland. Written here from Flatcar's documented behaviour (the
//! facts and their sources are in the project notes, `flatcar.md`):
//!
//! - user `core` (uid/gid 500, bash, in `sudo` with no password), as in
//!   flatcar/baselayout;
//! - `/usr/bin/update-ssh-keys` with the interface of coreos/update-ssh-keys
//!   (`src/main.rs`, its `-h` text): named key sets in
//!   `~USER/.ssh/authorized_keys.d/NAME`, merged into `authorized_keys`;
//! - `/opt/bin` on a login shell's PATH (flatcar/baselayout `etc/env.d/00basic`);
//! - networkd with Flatcar's file names: `yy-pxe.network` (flatcar/init
//!   `systemd/network/yy-pxe.network`: every link, only on a boot without
//!   `root=`, i.e. PXE) before the catch-all `zz-default.network`;
//! - first-boot preset semantics: the image has no `/etc/machine-id`
//!   (flatcar/bootengine `dracut/99setup-root/initrd-setup-root` removes the
//!   image's blank one "systemd will initialize this during boot"), so
//!   systemd treats every boot of the RAM root as its first and enables
//!   units by the presets, Ignition's `20-ignition.preset` included.

/// `(path in the root, mode, contents)` of every file the contract adds.
pub const FILES: &[(&str, u32, &str)] = &[
    ("usr/bin/update-ssh-keys", 0o755, UPDATE_SSH_KEYS),
    (
        "usr/lib/systemd/network/yy-pxe.network",
        0o644,
        YY_PXE_NETWORK,
    ),
    (
        "usr/lib/systemd/network/zz-default.network",
        0o644,
        ZZ_DEFAULT_NETWORK,
    ),
    ("etc/sudoers.d/flatcar-sudo-group", 0o440, SUDOERS),
    ("etc/profile.d/00-flatcar-path.sh", 0o644, LOGIN_PATH),
    (
        "usr/lib/systemd/system-preset/99-ephemeros-standin.preset",
        0o644,
        PRESET,
    ),
    // Debian builds Ignition with SELinux relabelling; Flatcar's is
    // permissive and has no relabelling on first boot.
    (
        "etc/selinux/config",
        0o644,
        "SELINUX=disabled\nSELINUXTYPE=targeted\n",
    ),
    ("etc/resolv.conf", 0o644, "nameserver 10.0.2.3\n"),
    // Not Flatcar: when the node is not up in time, the console says why
    // (the harness has no other way in without SSH).
    (
        "etc/systemd/system/e2e-console-report.service",
        0o644,
        REPORT_SERVICE,
    ),
    (
        "etc/systemd/system/e2e-console-report.timer",
        0o644,
        REPORT_TIMER,
    ),
];

const REPORT_SERVICE: &str = "[Unit]\n\
Description=e2e: the node's state on the console\n\
[Service]\n\
Type=oneshot\n\
StandardOutput=tty\n\
StandardError=tty\n\
TTYPath=/dev/console\n\
ExecStart=/bin/sh -c 'read up idle </proc/uptime; echo \"E2E report at $$up s\"; systemctl list-jobs --no-pager; systemctl --failed --no-pager; networkctl --no-pager list; journalctl -b --no-pager -o short-monotonic -n 60 -p info -u systemd-networkd -u ssh -u secrets.mount -u ephemeros-ssh-keys -u k3s; echo \"E2E report end\"'\n";

const REPORT_TIMER: &str = "[Unit]\n\
Description=e2e: report the node's state on the console when it is late\n\
[Timer]\n\
OnBootSec=150s\n\
[Install]\n\
WantedBy=timers.target\n";

/// Units masked in the stand-in: they do not exist on Flatcar, and
/// systemd-firstboot would prompt on the console of every (first) boot.
pub const MASKED: &[&str] = &[
    "systemd-firstboot.service",
    // Caches of a writable /usr rebuilt on "update"; the image's are
    // current, and under TCG they cost tens of seconds of every boot.
    "ldconfig.service",
    "systemd-hwdb-update.service",
    "systemd-journal-catalog-update.service",
    "systemd-update-done.service",
    // No virtual consoles: only the serial console has a getty.
    "getty-static.service",
    "getty@tty1.service",
];

/// Paths of the Debian image left out: Debian's package-maintenance timers
/// (Flatcar has none), the hardware database (descriptions only), state that
/// must not be shared by every stand-in (machine id, hostname).
pub fn drop(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "usr/share/doc/",
        "usr/share/man/",
        "usr/share/info/",
        "usr/share/locale/",
        "usr/lib/udev/hwdb.d/",
        "var/cache/apt/",
        "var/lib/apt/lists/",
        "etc/systemd/system/timers.target.wants/",
        "etc/systemd/system/getty.target.wants/",
        // Not used by anything the node runs: iconv modules, perl (debconf),
        // apt and dpkg's metadata.
        "usr/lib/x86_64-linux-gnu/gconv/",
        "usr/lib/x86_64-linux-gnu/perl-base/",
        "usr/lib/apt/",
        "var/lib/dpkg/info/",
    ];
    const EXACT: &[&str] = &[
        "usr/lib/udev/hwdb.bin",
        "etc/machine-id",
        "etc/hostname",
        "var/lib/dbus/machine-id",
        "usr/bin/perl",
        "usr/bin/sqv",
    ];
    PREFIXES
        .iter()
        .any(|p| path.starts_with(p) && path.len() > p.len())
        || EXACT.contains(&path)
}

/// Lines appended to the user database files (core: uid/gid 500 as on Flatcar).
pub fn user_db_append(path: &str) -> Option<&'static str> {
    match path {
        "etc/passwd" => Some("core:x:500:500:Flatcar Admin:/home/core:/bin/bash\n"),
        "etc/group" => Some("core:x:500:\n"),
        "etc/shadow" => Some("core:*:20000:0:99999:7:::\n"),
        "etc/gshadow" => Some("core:!::\n"),
        _ => None,
    }
}

/// Groups `core` joins (the `sudo` group's line gets `core` as a member).
pub const CORE_GROUPS: &[&str] = &["sudo", "systemd-journal"];

/// `group:x:gid:members` with `user` added to the members.
pub fn add_member(line: &str, user: &str) -> String {
    let members = line.rsplit(':').next().unwrap_or("");
    if members.split(',').any(|m| m == user) {
        line.to_owned()
    } else if members.is_empty() {
        format!("{line}{user}")
    } else {
        format!("{line},{user}")
    }
}

const SUDOERS: &str =
    "# Flatcar: members of sudo (core) need no password.\n%sudo ALL=(ALL:ALL) NOPASSWD: ALL\n";

const LOGIN_PATH: &str = include_str!("scripts/login-path.sh");

const PRESET: &str = "# The stand-in's own units; everything else stays as Debian installed it.\n\
enable systemd-networkd.service\n\
enable systemd-networkd-wait-online.service\n\
enable ssh.service\n\
enable e2e-console-report.timer\n\
disable *\n";

const YY_PXE_NETWORK: &str =
    "# Flatcar's network of a PXE boot (no root= on the kernel command line):\n\
# DHCP on every link. Sorts before zz-default.network, so it is the one used.\n\
[Match]\n\
Name=*\n\
KernelCommandLine=!root\n\
\n\
[Network]\n\
DHCP=yes\n\
KeepConfiguration=dhcp-on-stop\n\
\n\
[DHCP]\n\
ClientIdentifier=mac\n\
UseMTU=true\n\
UseDomains=true\n";

const ZZ_DEFAULT_NETWORK: &str = "# Flatcar's catch-all DHCP network (not used on PXE boots).\n\
[Match]\n\
Name=*\n\
Type=!loopback dummy bridge tunnel vxlan wireguard\n\
Driver=!veth\n\
\n\
[Network]\n\
DHCP=yes\n\
KeepConfiguration=dhcp-on-stop\n\
\n\
[DHCP]\n\
UseMTU=true\n\
UseDomains=true\n";

/// Written from the interface coreos/update-ssh-keys documents in its
/// help text; the key-set layout is Flatcar's.
pub const UPDATE_SSH_KEYS: &str = include_str!("scripts/update-ssh-keys.sh");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_only_below_the_dropped_directories() {
        assert!(drop("usr/share/doc/bash/copyright"));
        assert!(!drop("usr/share/doc/"));
        assert!(drop("etc/machine-id"));
        assert!(!drop("etc/machine-id.d"));
        assert!(!drop("usr/bin/bash"));
    }

    #[test]
    fn group_members_are_added_once() {
        assert_eq!(add_member("sudo:x:27:", "core"), "sudo:x:27:core");
        assert_eq!(add_member("sudo:x:27:ann", "core"), "sudo:x:27:ann,core");
        assert_eq!(add_member("sudo:x:27:core", "core"), "sudo:x:27:core");
    }
}

#[cfg(test)]
mod shell_tests {
    use super::*;

    /// The stand-in's own scripts pass shellcheck (Debian package
    /// shellcheck; `cargo xtask ci` installs it).
    #[test]
    fn scripts_pass_shellcheck() {
        let scripts = [
            ("update-ssh-keys", UPDATE_SSH_KEYS),
            ("k3s stand-in", super::super::k3s_standin::STANDIN),
            ("login PATH", LOGIN_PATH),
        ];
        for (name, text) in scripts {
            let mut child = match std::process::Command::new("shellcheck")
                .args(["-s", "bash", "-"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
            {
                Ok(c) => c,
                Err(_) if std::env::var_os("CI").is_none() => {
                    eprintln!("SKIPPED: shellcheck not installed");
                    return;
                }
                Err(e) => panic!("shellcheck: {e}"),
            };
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{name}:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}
