//! What the booted node must show, numbered as in the issue that asked for
//! it: 1 secrets.mount, 2 hostname before k3s, 3 core's login through the
//! key set, 4 k3s (server, agent, a wrong hash), 5 log export, 6 heartbeat,
//! 7 a stick with only an SSH key, 8 a second boot. Each is checked over SSH
//! (and from the loopback world's logs); a failing point prints the node's
//! failed units and the unit's journal.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use base64::Engine;

use super::guest::Guest;
use super::k3s_standin::{RECORD_DIR, WRONG_RAN};
use crate::e2e::assertions::Checks;
use crate::e2e::markers::{parse_env_file, Markers};
use crate::e2e::node_config::Expect;
use crate::e2e::scenario::{Kind, Scenario};

/// Runs `f` and, when it added failures, prints the diagnosis for `units`.
pub fn point(
    c: &mut Checks,
    g: &Guest,
    title: &str,
    units: &[&str],
    f: impl FnOnce(&mut Checks) -> Result<()>,
) {
    eprintln!("e2e: {title}");
    let before = c.failures.len();
    let started = Instant::now();
    if let Err(e) = f(c) {
        c.check(title.to_owned(), false, || format!("{e:#}"));
    }
    eprintln!("  ({title}: {:.1} s)", started.elapsed().as_secs_f64());
    if c.failures.len() > before {
        eprintln!(
            "---- node diagnosis ({title}) ----\n{}---- end ----",
            g.diagnose(units)
        );
    }
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap_or_default()
}

fn value(g: &Guest, unit: &str, prop: &str) -> String {
    g.out(&format!("sudo systemctl show -p {prop} --value {unit}"))
        .unwrap_or_default()
}

/// No unit failed, and systemd says the system is running.
pub fn healthy(c: &mut Checks, g: &Guest) -> Result<()> {
    let state = g
        .run(
            "sudo timeout 120 systemctl is-system-running --wait",
            Duration::from_secs(130),
        )?
        .stdout;
    let failed = g.out("sudo systemctl --failed --plain --no-legend")?;
    let times = g.out(
        "sudo systemctl show -p ActiveEnterTimestampMonotonic --value \
         sysinit.target multi-user.target ssh.service k3s.service",
    )?;
    let secs: Vec<String> = times
        .lines()
        .filter(|l| !l.is_empty())
        .map(|t| format!("{:.1}", t.parse::<f64>().unwrap_or(0.0) / 1e6))
        .collect();
    let at = |i: usize| secs.get(i).map_or("-", String::as_str);
    eprintln!(
        "  note  node uptime when reached (s): sysinit {}, multi-user {}, sshd {}, k3s {}",
        at(0),
        at(1),
        at(2),
        at(3)
    );
    c.check(
        "no unit failed; systemctl is-system-running says running",
        state.trim() == "running" && failed.is_empty(),
        || format!("state {:?}, failed units:\n{failed}", state.trim()),
    );
    Ok(())
}

/// Point 1: secrets.mount: vfat, read-only, from the partition named `secrets`;
/// root reads the env files (exactly the stick's values), core may not.
pub fn secrets(c: &mut Checks, g: &Guest, sc: &Scenario) -> Result<()> {
    c.check(
        "secrets.mount is active",
        value(g, "secrets.mount", "ActiveState") == "active",
        || "not active".into(),
    );
    let mount = g.out("findmnt -n -o SOURCE,FSTYPE,OPTIONS /secrets")?;
    let by_label = g.out("readlink -f /dev/disk/by-partlabel/secrets")?;
    let w: Vec<&str> = mount.split_whitespace().collect();
    c.check(
        "/secrets is vfat, read-only, from /dev/disk/by-partlabel/secrets",
        w.len() == 3 && w[0] == by_label && w[1] == "vfat" && w[2].split(',').any(|o| o == "ro"),
        || format!("findmnt: {mount:?}; by-partlabel/secrets -> {by_label:?}"),
    );
    let denied = g.run("cat /secrets/authorized_keys", Duration::from_secs(30))?;
    c.check(
        "core gets `Permission denied` reading /secrets",
        !denied.ok && denied.stderr.contains("Permission denied"),
        || format!("{:?} {}", denied.code, denied.stderr.trim()),
    );
    for (file, want) in sc.expected_env_files() {
        let text = g.out(&format!("sudo cat /secrets/{file}"))?;
        let got = parse_env_file(&text);
        c.check(
            format!("root reads /secrets/{file}: exactly the stick's values"),
            matches!(&got, Ok(env) if *env == want),
            || format!("\n    got  {got:?}\n    want {want:?}"),
        );
    }
    Ok(())
}

/// Point 2: The hostname is the stick's, and it was set before k3s started.
pub fn hostname(c: &mut Checks, g: &Guest, name: &str) -> Result<()> {
    let got = g.out("uname -n; cat /etc/hostname")?;
    c.check(
        format!("the hostname (kernel and /etc/hostname) is {name}"),
        got == format!("{name}\n{name}"),
        || format!("{got:?}"),
    );
    let set = value(
        g,
        "ephemeros-hostname.service",
        "ActiveEnterTimestampMonotonic",
    );
    let k3s = value(g, "k3s.service", "InactiveExitTimestampMonotonic");
    let (set, k3s) = (
        set.parse::<u64>().unwrap_or(0),
        k3s.parse::<u64>().unwrap_or(0),
    );
    c.check(
        "ephemeros-hostname.service was done before k3s.service began to start",
        set > 0 && k3s > 0 && set <= k3s,
        || format!("hostname active at {set} µs, k3s started at {k3s} µs (monotonic)"),
    );
    let seen = g.out(&format!("sudo sh -c 'cat {RECORD_DIR}/*.hostname'"))?;
    c.check(
        format!("k3s saw the hostname {name} when it started"),
        !seen.is_empty() && seen.lines().all(|l| l == name),
        || format!("{seen:?}"),
    );
    Ok(())
}

/// Point 3: core logged in with the stick's key, through update-ssh-keys' set;
/// passwordless sudo; /opt/bin on the login PATH.
pub fn login(c: &mut Checks, g: &Guest, sc: &Scenario) -> Result<()> {
    c.check(
        "ephemeros-ssh-keys.service is active",
        value(g, "ephemeros-ssh-keys.service", "ActiveState") == "active",
        || "not active".into(),
    );
    let sets = g.out("ls -A ~/.ssh/authorized_keys.d")?;
    let set = g.out("cat ~/.ssh/authorized_keys.d/ephemeros-stick")?;
    let merged = g.out("cat ~/.ssh/authorized_keys")?;
    c.check(
        "the stick's key is the key set `ephemeros-stick`, the only one",
        sets == "ephemeros-stick" && set.lines().any(|l| l == sc.ssh_key),
        || format!("sets {sets:?}, ephemeros-stick {set:?}"),
    );
    c.check(
        "update-ssh-keys merged it into ~core/.ssh/authorized_keys (what sshd let us in with)",
        merged
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .eq([sc.ssh_key.as_str()]),
        || format!("{merged:?}"),
    );
    c.check(
        "core runs sudo without a password",
        g.out("sudo -n id -u").is_ok_and(|u| u == "0"),
        || "sudo -n failed".into(),
    );
    // kubectl itself is checked with k3s: without k3s it is a dangling link.
    let path = g.out("bash -lc 'echo \"$PATH\"'")?;
    c.check(
        "/opt/bin is on the PATH of core's login shell",
        path.split(':').any(|d| d == "/opt/bin"),
        || format!("{path:?}"),
    );
    Ok(())
}

/// How the stand-in was started once: argv and environment.
type Start = (Vec<String>, BTreeMap<String, String>);

/// The stand-in's records: one per start.
fn k3s_starts(g: &Guest) -> Result<Vec<Start>> {
    let script = format!(
        "sudo sh -c 'for f in {RECORD_DIR}/*.argv; do [ -e \"$f\" ] || continue; \
         echo \"$(base64 -w0 \"$f\") $(base64 -w0 \"${{f%.argv}}.environ\")\"; done'"
    );
    let out = g.out(&script)?;
    let split = |b: Vec<u8>| -> Vec<String> {
        b.split(|&x| x == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    };
    Ok(out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, e)| {
            let env = split(b64(e))
                .into_iter()
                .filter_map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                })
                .collect();
            (split(b64(a)), env)
        })
        .collect())
}

/// Point 4: k3s.service: the binary from the mirror with the pinned hash, started
/// once as server (or agent) with exactly the stick's K3S_* values.
pub fn k3s(c: &mut Checks, g: &Guest, sc: &Scenario, sha256: &str) -> Result<()> {
    let role = if sc.kind == Kind::Agent {
        "agent"
    } else {
        "server"
    };
    c.check(
        "k3s.service is active (the stand-in's READY=1 reached systemd)",
        value(g, "k3s.service", "ActiveState") == "active"
            && value(g, "k3s.service", "StatusText") == format!("k3s stand-in: {role}"),
        || {
            format!(
                "{} / {:?}",
                value(g, "k3s.service", "ActiveState"),
                value(g, "k3s.service", "StatusText")
            )
        },
    );
    let installed = g.out("sudo sha256sum /opt/bin/k3s")?;
    c.check(
        "k3s-fetch installed the mirror's binary with the pinned sha256 at /opt/bin/k3s",
        installed.split_whitespace().next() == Some(sha256),
        || format!("{installed:?}"),
    );
    let starts = k3s_starts(g)?;
    let want_env = sc.k3s_env();
    match starts.as_slice() {
        [(argv, env)] => {
            c.check(
                format!("k3s-run started `k3s {role}` (argv exactly)"),
                *argv == ["/opt/bin/k3s", role],
                || format!("{argv:?}"),
            );
            let got: BTreeMap<String, String> = env
                .iter()
                .filter(|(k, _)| k.starts_with("K3S_"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            c.check(
                "k3s got exactly the stick's K3S_* values, byte for byte",
                got == want_env,
                || format!("\n    got  {got:?}\n    want {want_env:?}"),
            );
        }
        other => c.check("k3s started exactly once", false, || {
            format!("{} starts", other.len())
        }),
    }
    let pwned = g.run("test -e /pwned", Duration::from_secs(20))?;
    c.check(
        "nothing in the K3S_* values was executed (no /pwned)",
        !pwned.ok,
        || "/pwned exists".into(),
    );
    if sc.kind != Kind::Agent {
        // k3s-kubeconfig.path copies the kubeconfig k3s writes for core.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut copy = String::new();
        while Instant::now() < deadline {
            copy = g.out("stat -c '%U %a' ~/.kube/config 2>/dev/null && cmp ~/.kube/config <(sudo cat /etc/rancher/k3s/k3s.yaml) && echo same").unwrap_or_default();
            if copy.ends_with("same") {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        c.check(
            "k3s-kubeconfig gave core a copy of k3s's kubeconfig (core, 0600)",
            copy == "core 600\nsame",
            || format!("{copy:?}"),
        );
        let mode = g.out("sudo stat -c %a /etc/rancher/k3s/k3s.yaml")?;
        c.check(
            "k3s wrote its kubeconfig with K3S_KUBECONFIG_MODE 0640",
            mode == "640",
            || mode.clone(),
        );
        let kubectl = g.out("bash -lc 'kubectl get nodes'")?;
        c.check(
            "kubectl in core's login shell is the k3s multi-call binary",
            kubectl == "k3s stand-in: kubectl get nodes",
            || format!("{kubectl:?}"),
        );
    } else {
        let kube = g.run("test -e ~/.kube/config", Duration::from_secs(20))?;
        c.check("an agent gives core no kubeconfig", !kube.ok, || {
            "~/.kube/config exists".into()
        });
    }
    Ok(())
}

/// A served binary with the wrong hash: k3s.service fails, the binary is
/// neither installed nor run. `swap` makes the mirror serve it.
pub fn wrong_hash(c: &mut Checks, g: &Guest, swap: impl FnOnce()) -> Result<()> {
    swap();
    g.out("sudo systemctl stop k3s.service && sudo rm -f /opt/bin/k3s && sudo systemctl start --no-block k3s.service")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut result = String::new();
    while Instant::now() < deadline {
        result = value(g, "k3s.service", "Result");
        if result != "success" && !result.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    c.check(
        "with the wrong binary served, k3s.service fails (Result=exit-code)",
        result == "exit-code",
        || format!("Result={result:?}"),
    );
    let journal = g.out("sudo journalctl -b -u k3s.service --no-pager -o cat")?;
    c.check(
        "k3s-fetch says the download does not have the pinned sha256",
        journal.contains("does not have the pinned sha256"),
        || journal.lines().rev().take(8).collect::<Vec<_>>().join("\n"),
    );
    let gone = g.out(&format!("sudo sh -c 'test -e /opt/bin/k3s && echo installed; test -e {WRONG_RAN} && echo ran; true'"))?;
    c.check(
        "the wrong binary was neither installed nor run",
        gone.is_empty(),
        || gone.clone(),
    );
    Ok(())
}

/// Everything Ignition's files stage had to write, as the config says.
pub fn files(c: &mut Checks, g: &Guest, expected: &[(String, Expect)]) -> Result<()> {
    let mut script = String::from("cd / && for p in \\\n");
    for (path, _) in expected {
        script.push_str(&format!("  '{}' \\\n", path.replace('\'', "'\\''")));
    }
    script.push_str(
        "; do\n  if [ -L \"$p\" ]; then echo \"E2E entry link 777 $(stat -c '%u %g' \"$p\") $(readlink \"$p\" | base64 -w0) $p\"\n\
         elif [ -d \"$p\" ]; then echo \"E2E entry dir $(stat -c '%a %u %g' \"$p\") - $p\"\n\
         elif [ -f \"$p\" ]; then echo \"E2E entry file $(stat -c '%a %u %g' \"$p\") $(sha512sum <\"$p\" | cut -d' ' -f1) $p\"\n\
         echo \"E2E content $(base64 -w0 \"$p\") $p\"; fi\ndone\n",
    );
    let out = g.out(&format!(
        "sudo bash -c {}",
        ephemeros_node::shell::quote(&script)
    ))?;
    let m = Markers::parse(&out)?;
    for (path, want) in expected {
        let got = m.entries.get(path);
        let ok = match (want, got) {
            (_, None) => false,
            (Expect::File { mode, sha512 }, Some(e)) => {
                e.kind == "file" && e.mode == *mode && e.detail == *sha512
            }
            (Expect::Dir { mode }, Some(e)) => e.kind == "dir" && e.mode == *mode,
            (Expect::Link { target }, Some(e)) => e.kind == "link" && e.detail == *target,
            (Expect::Contains { line }, Some(_)) => m
                .contents
                .get(path)
                .is_some_and(|b| String::from_utf8_lossy(b).lines().any(|l| l == line)),
        };
        c.check(
            format!("Ignition wrote /{path} as the config says"),
            ok,
            || format!("{got:?}, want {want:?}"),
        );
    }
    Ok(())
}

/// Point 7: A unit skipped because its file on the stick is absent: condition
/// unmet, shown by systemctl, not failed.
pub fn skipped(c: &mut Checks, g: &Guest, unit: &str, file: &str) -> Result<()> {
    let result = value(g, unit, "ConditionResult");
    let status = g
        .run(
            &format!("sudo systemctl status --no-pager {unit}"),
            Duration::from_secs(30),
        )?
        .stdout;
    let shown = format!("ConditionFileNotEmpty=/secrets/{file} was not met");
    c.check(
        format!("{unit} skipped by its condition (systemctl shows `{shown}`)"),
        result == "no" && status.contains(&shown) && value(g, unit, "ActiveState") == "inactive",
        || format!("ConditionResult={result:?}\n{status}"),
    );
    Ok(())
}

/// Waits until `pred` holds (polled each second) or `secs` pass.
fn wait(secs: u64, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if pred() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Lines received by a log listener that carry `marker`.
fn carrying<'a>(lines: &'a [String], marker: &str) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|l| l.ends_with(&format!(" {marker}")))
        .collect()
}

/// `<13>1 2026-12-01T20:00:00.123456Z host e2e-mark 123 - - MARKER`: user.notice
/// (logger's default) as RFC 5424 with the exporter's fields.
fn is_rfc5424(line: &str, host: &str, marker: &str) -> bool {
    let w: Vec<&str> = line.splitn(8, ' ').collect();
    let stamp_ok = |s: &str| {
        s.len() == 27
            && s.ends_with('Z')
            && s.as_bytes()[10] == b'T'
            && s.as_bytes()[19] == b'.'
            && s[..4].bytes().all(|b| b.is_ascii_digit())
    };
    w.len() == 8
        && w[0] == "<13>1"
        && stamp_ok(w[1])
        && w[2] == host
        && w[3] == "e2e-mark"
        && w[4].bytes().all(|b| b.is_ascii_digit())
        && w[5] == "-"
        && w[6] == "-"
        && w[7] == marker
}

/// Point 5: Log export to the trusted listener, RFC 5424, across an exporter
/// restart and a listener outage. Delivery is at least once (syslog over TLS
/// has no acknowledgements; see the exporter): a clean restart repeats
/// nothing, and an outage repeats at most what was sent in the exporter's
/// replay window before it, never anything delivered before the restart.
pub fn logexport(
    c: &mut Checks,
    g: &Guest,
    host: &str,
    logs: &mut super::world::Listener,
) -> Result<()> {
    c.check(
        "ephemeros-logexport.service is active",
        value(g, "ephemeros-logexport.service", "ActiveState") == "active",
        || "not active".into(),
    );
    let nonce = std::process::id();
    let log = |m: &str| g.out(&format!("logger -t e2e-mark -- {m}"));
    let arrived = |logs: &super::world::Listener, m: &str, secs: u64| {
        wait(secs, || !carrying(&logs.lines(), m).is_empty())
    };
    let m1 = format!("e2e-marker-{nonce}-1");
    log(&m1)?;
    let ok = arrived(logs, &m1, 60);
    let lines = logs.lines();
    let got = carrying(&lines, &m1);
    c.check(
        "a marker logged on the node arrives at the TLS listener as one RFC 5424 line",
        ok && got.len() == 1 && is_rfc5424(got[0], host, &m1),
        || format!("lines with it: {got:?}"),
    );

    let (m2a, m2b) = (
        format!("e2e-marker-{nonce}-2a"),
        format!("e2e-marker-{nonce}-2b"),
    );
    log(&m2a)?;
    // Received before the restart: delivered, never to come again.
    let before_restart = logs.lines();
    g.out("sudo systemctl restart ephemeros-logexport.service")?;
    log(&m2b)?;
    let ok = arrived(logs, &m2a, 60) && arrived(logs, &m2b, 60);
    c.check(
        "across `systemctl restart ephemeros-logexport` every entry arrives",
        ok,
        || {
            format!(
                "missing after the restart; received {} lines",
                logs.lines().len()
            )
        },
    );

    logs.stop();
    std::thread::sleep(Duration::from_secs(2));
    let (m3a, m3b) = (
        format!("e2e-marker-{nonce}-3a"),
        format!("e2e-marker-{nonce}-3b"),
    );
    log(&m3a)?;
    std::thread::sleep(Duration::from_secs(1));
    log(&m3b)?;
    std::thread::sleep(Duration::from_secs(2));
    logs.start()?;
    let ok = arrived(logs, &m3a, 90) && arrived(logs, &m3b, 90);
    c.check(
        "entries logged while the listener was down arrive once it is back",
        ok,
        || "missing after the listener came back".into(),
    );
    // A moment for a duplicate to show up.
    std::thread::sleep(Duration::from_secs(2));
    let lines = logs.lines();
    // Before the clean restart: delivered, so exactly once.
    for m in [&m1, &m2a] {
        let n = carrying(&lines, m).len();
        c.check(format!("`{m}` arrived exactly once"), n == 1, || {
            format!("{n} times")
        });
    }
    // Around the outage: at least once, and a repeat at most once.
    for m in [&m2b, &m3a, &m3b] {
        let n = carrying(&lines, m).len();
        c.check(
            format!("`{m}` arrived (at least once, repeated at most once)"),
            (1..=2).contains(&n),
            || format!("{n} times"),
        );
    }
    // Repeats come only from the replay window before the outage: no line
    // that had arrived before the last restart comes again.
    let settled: std::collections::BTreeSet<&String> =
        before_restart.iter().filter(|l| !l.is_empty()).collect();
    let mut seen = std::collections::BTreeSet::new();
    let repeats: Vec<&String> = lines
        .iter()
        .filter(|l| !l.is_empty() && !seen.insert(*l) && settled.contains(l))
        .collect();
    c.check(
        format!(
            "of the {} lines received, none delivered before the exporter's restart came twice",
            lines.len()
        ),
        repeats.is_empty(),
        || format!("{repeats:?}"),
    );
    Ok(())
}

/// The listener with a certificate the node does not trust gets nothing.
pub fn untrusted(c: &mut Checks, g: &Guest, logs: &super::world::Listener) -> Result<()> {
    let m = format!("e2e-marker-{}-untrusted", std::process::id());
    g.out(&format!("logger -t e2e-mark -- {m}"))?;
    let refused = wait(60, || {
        g.out("sudo journalctl -b -u ephemeros-logexport.service --no-pager -o cat")
            .is_ok_and(|j| j.contains("no verified TLS connection"))
    });
    std::thread::sleep(Duration::from_secs(3));
    let lines = logs.lines();
    c.check(
        "the exporter refuses the listener with an untrusted certificate",
        refused,
        || "no `no verified TLS connection` in its journal".into(),
    );
    c.check(
        "the untrusted listener received nothing",
        lines.iter().all(|l| l.trim().is_empty()),
        || format!("{} lines, e.g. {:?}", lines.len(), lines.first()),
    );
    Ok(())
}

/// Point 6: The heartbeat timer fires by itself (OnBootSec) and the endpoint sees
/// the exact HEARTBEAT_URL target. `seen` reads the server's log.
pub fn heartbeat(c: &mut Checks, g: &Guest, target: &str, seen: impl Fn() -> usize) -> Result<()> {
    c.check(
        "ephemeros-heartbeat.timer is active",
        value(g, "ephemeros-heartbeat.timer", "ActiveState") == "active",
        || "not active".into(),
    );
    let fired = wait(150, || seen() >= 1);
    c.check(
        format!("the timer fired by itself: the endpoint got GET {target} exactly"),
        fired,
        || {
            format!(
                "no such request; the service: {}",
                value(g, "ephemeros-heartbeat.service", "Result")
            )
        },
    );
    if fired {
        let result = value(g, "ephemeros-heartbeat.service", "Result");
        c.check(
            "ephemeros-heartbeat.service succeeded",
            result == "success",
            || result.clone(),
        );
    }
    Ok(())
}

/// First-boot preset semantics: with no machine id, systemd populated /etc
/// from the presets, so every unit Ignition's preset enables is enabled.
pub fn presets(c: &mut Checks, g: &Guest, expected: &[(String, Expect)]) -> Result<()> {
    // first-boot-complete.target has ConditionFirstBoot=yes: active only
    // when systemd saw no machine id, the boot it applies presets on.
    let first = value(g, "first-boot-complete.target", "ActiveState");
    c.check(
        "systemd treated the boot as a first boot (first-boot-complete.target active)",
        first == "active",
        || format!("first-boot-complete.target is {first:?}"),
    );
    for (_, want) in expected {
        if let Expect::Contains { line } = want {
            if let Some(unit) = line.strip_prefix("enable ") {
                let state = g.out(&format!("sudo systemctl is-enabled {unit} || true"))?;
                c.check(
                    format!("{unit} is enabled (Ignition's preset)"),
                    state == "enabled",
                    || state.clone(),
                );
            }
        }
    }
    Ok(())
}

/// networkd configures the NIC from Flatcar's PXE file, `yy-pxe.network`;
/// whether the node config's DHCP drop-ins sit on that file is reported.
pub fn network(c: &mut Checks, g: &Guest) -> Result<()> {
    // networkd's own state file of the link (networkctl needs D-Bus).
    let state = g.out(
        "dev=$(ip -o route get 10.0.2.2 | awk '{print $3}'); \
         cat /run/systemd/netif/links/$(cat /sys/class/net/$dev/ifindex)",
    )?;
    let field = |k: &str| {
        state
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .to_owned()
    };
    let file = field("NETWORK_FILE");
    c.check(
        "networkd configured the NIC from Flatcar's yy-pxe.network (a PXE boot)",
        file == "/usr/lib/systemd/network/yy-pxe.network",
        || format!("NETWORK_FILE={file:?}\n{state}"),
    );
    // Issue #11: the "never take the hostname from DHCP" drop-in must sit
    // on the file a PXE boot uses, not only on zz-default.network.
    let dropins = field("NETWORK_FILE_DROPINS");
    let wanted = "/etc/systemd/network/yy-pxe.network.d/ephemeros-hostname.conf";
    c.check(
        "networkd applies the node config's hostname drop-in to yy-pxe.network",
        dropins.contains(wanted),
        || format!("NETWORK_FILE_DROPINS={dropins:?}"),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5424_lines_are_recognised() {
        let ok = "<13>1 2026-12-01T20:00:00.123456Z e2e-node-1 e2e-mark 812 - - m-1";
        assert!(is_rfc5424(ok, "e2e-node-1", "m-1"));
        assert!(!is_rfc5424(ok, "other", "m-1"));
        assert!(!is_rfc5424(
            &ok.replace("<13>", "<14>"),
            "e2e-node-1",
            "m-1"
        ));
        assert!(!is_rfc5424(&format!("{ok} extra"), "e2e-node-1", "m-1"));
        let lines = vec![ok.to_owned(), format!("{ok}0")];
        assert_eq!(carrying(&lines, "m-1").len(), 1);
    }
}
