//! Golden scripts for the main combinations, and the structural check on
//! every built-in combination.
//!
//! `UPDATE_GOLDEN=1 cargo test -p ephemeros-ipxe --test golden` rewrites the
//! files under tests/golden/; review the diff before committing it.

use std::path::PathBuf;

use ephemeros_ipxe::{
    expected_proc_cmdline, kernel_args, lint, render, Arch, BootSettings, Channel, OnFailure,
};

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop work key";

fn base() -> BootSettings {
    BootSettings {
        ignition_url: "https://raw.githubusercontent.com/acme/fleet/main/ignition.ign".into(),
        ..BootSettings::default()
    }
}

fn golden_cases() -> Vec<(&'static str, BootSettings)> {
    vec![
        ("default", base()),
        (
            "lts-arm64-pinned-full",
            BootSettings {
                channel: Channel::Lts,
                arch: Arch::Arm64,
                release: "4081.2.0".into(),
                hostname: Some("node-1".parse().unwrap()),
                ssh_key: Some(KEY.into()),
                console: vec!["ttyAMA0,115200n8".into(), "tty0".into()],
                extra_kernel_args: vec!["flatcar.autologin".into(), "label=\"rack 3\"".into()],
                ignition_url: "https://cfg.example/ign?node=node-1&token=a%2Fb".into(),
                ..base()
            },
        ),
        (
            "test-server-poweroff",
            BootSettings {
                base_url: Some("http://10.0.2.2:8080/flatcar".into()),
                ignition_url: "http://10.0.2.2:8080/ignition.ign".into(),
                on_failure: OnFailure::Poweroff,
                dhcp_attempts: 2,
                download_attempts: 3,
                retry_pause_secs: 1,
                console: vec!["ttyS0".into()],
                ..base()
            },
        ),
        (
            "beta-single-attempt",
            BootSettings {
                channel: Channel::Beta,
                dhcp_attempts: 1,
                download_attempts: 1,
                retry_pause_secs: 0,
                ..base()
            },
        ),
    ]
}

#[test]
fn golden_scripts() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (name, settings) in golden_cases() {
        let script = render(&settings).unwrap();
        let path = dir.join(format!("{name}.ipxe"));
        if update {
            std::fs::write(&path, &script).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
                path.display()
            )
        });
        if script != expected {
            mismatches.push(name);
        }
    }
    assert!(
        mismatches.is_empty(),
        "rendered scripts differ from tests/golden/ for {mismatches:?}; if intended, rerun with UPDATE_GOLDEN=1 and review the diff"
    );
}

/// Every built-in combination passes the structural check, and carries
/// the expected kernel line.
#[test]
fn every_combination_is_well_formed() {
    let mut count = 0;
    for channel in Channel::ALL {
        for arch in Arch::ALL {
            for on_failure in OnFailure::ALL {
                for (dhcp, download, pause) in [(1, 1, 0), (2, 3, 1), (5, 5, 5), (7, 9, 60)] {
                    for full in [false, true] {
                        let mut s = BootSettings {
                            channel,
                            arch,
                            on_failure,
                            dhcp_attempts: dhcp,
                            download_attempts: download,
                            retry_pause_secs: pause,
                            ..base()
                        };
                        if full {
                            s.hostname = Some("n1".parse().unwrap());
                            s.ssh_key = Some(KEY.into());
                            s.console = vec!["ttyS0,115200n8".into()];
                            s.extra_kernel_args = vec!["quiet".into()];
                            s.base_url = Some("http://mirror.lan/flatcar/".into());
                            s.release = "4230.2.3".into();
                        }
                        let script = render(&s).unwrap();
                        let problems = lint::check_rendered(&script, &s).unwrap();
                        assert!(problems.is_empty(), "{s:?}:\n{problems:?}\n{script}");
                        check_behaviour(&script, &s);
                        count += 1;
                    }
                }
            }
        }
    }
    assert_eq!(count, 4 * 2 * 2 * 4 * 2);
}

/// What a headless node needs, read from the script text.
fn check_behaviour(script: &str, s: &BootSettings) {
    let lines: Vec<&str> = script.lines().collect();
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("dhcp "), s.dhcp_attempts as usize);
    assert_eq!(count("kernel "), s.download_attempts as usize);
    assert_eq!(count("initrd "), s.download_attempts as usize);
    // Pauses grow and are bounded.
    let sleeps: Vec<u32> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("sleep "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        sleeps.len(),
        (s.dhcp_attempts - 1 + s.download_attempts - 1 + 1) as usize
    );
    let dhcp_sleeps = &sleeps[..(s.dhcp_attempts - 1) as usize];
    assert!(
        dhcp_sleeps.windows(2).all(|w| w[0] <= w[1] && w[1] <= 60),
        "{sleeps:?}"
    );
    // Giving up is done the way it was asked to, then the other way; an
    // iPXE that can do neither starts over instead of leaving the node in
    // firmware menus.
    let (first, other) = match s.on_failure {
        OnFailure::Reboot => ("reboot", "poweroff"),
        OnFailure::Poweroff => ("poweroff", "reboot"),
    };
    let give_up = format!("{first} || {other} || goto start_over");
    assert_eq!(
        lines.iter().filter(|l| **l == give_up).count(),
        1,
        "{give_up}"
    );
    assert_eq!(lines.last(), Some(&"goto dhcp_1"));
    assert!(!lines.iter().any(|l| l.split(' ').any(|w| w == "exit")));
    // The kernel URL follows the channel, arch and release.
    let kernel_url = lines
        .iter()
        .find_map(|l| l.strip_prefix("kernel --timeout 60000 "))
        .and_then(|l| l.split(' ').next())
        .unwrap();
    let expected_base = match &s.base_url {
        Some(b) => b.clone(),
        None => format!(
            "https://{}.release.flatcar-linux.net/{}/{}/",
            s.channel,
            s.arch.flatcar_dir(),
            s.release
        ),
    };
    assert_eq!(
        kernel_url,
        format!("{expected_base}flatcar_production_pxe.vmlinuz")
    );
    assert!(expected_proc_cmdline(s)
        .unwrap()
        .ends_with(&kernel_args(s).unwrap().join(" ")));
}

#[test]
fn done_when_example() {
    let script = render(&base()).unwrap();
    let kernel = script.lines().find(|l| l.starts_with("kernel ")).unwrap();
    for arg in [
        "initrd=flatcar_production_pxe_image.cpio.gz",
        "flatcar.first_boot=1",
        "ignition.config.url=https://raw.githubusercontent.com/acme/fleet/main/ignition.ign",
    ] {
        assert!(kernel.split(' ').any(|w| w == arg), "{kernel}");
    }
    assert!(kernel.contains(" https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_pxe.vmlinuz "));
    assert!(script.contains("initrd --timeout 60000 https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_pxe_image.cpio.gz "));
    assert!(!script.lines().any(|l| l.trim_start().starts_with("shell")));
}
