//! The node stage of `cargo xtask e2e`: the stick boots the second-generation
//! stand-in, a Debian userland where real Ignition writes the node config
//! and real systemd then runs every unit of it, against a loopback world.
//!
//! Boots (each one qemu run; several checks share a boot where honest):
//! 1. the full stick: points 1–6 of the issue (secrets, hostname, login,
//!    k3s server, log export, heartbeat) and Ignition's files;
//! 2. the same stick again: point 8 (comes up the same way, state gone),
//!    then the mirror serves a wrong binary (point 4's hash check);
//! 3. an agent stick: k3s agent with K3S_URL; its log endpoint has an
//!    untrusted certificate and must receive nothing;
//! 4. a stick with only an SSH key: point 7;
//! 5. the kernel 404s; 6. the server is down (through `ephemeros qemu`).

mod contract;
mod guest;
mod initrd;
mod k3s_standin;
mod points;
mod sysroot;
mod userland;
mod world;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use super::assertions::{self, Checks, INITRD_TARGET, KERNEL_TARGET};
use super::scenario::{Kind, Scenario, CONFIG_TARGET, HEARTBEAT_TARGET, LOGS_HOST};
use super::{boot, inputs, node_config, server, stick, BootOpts, Launcher};
use guest::Guest;
use points::point;
use world::{Listener, Pki};

/// The least a node boot gets before qemu is stopped (login, every check,
/// the heartbeat's first minute).
const NODE_TIMEOUT_SECS: u64 = 900;

/// RAM of the stand-in: the root (~250 MiB unpacked) lives in it.
const MEMORY_MIB: u32 = 2048;

/// Everything the node stage serves and boots.
pub struct Prepared {
    pub inputs: inputs::Inputs,
    pub kernel: Vec<u8>,
    /// The root archive followed by the per-run part.
    pub initrd: Vec<u8>,
    pub pki: Pki,
    pub config: Vec<u8>,
    pub expected: Vec<(String, node_config::Expect)>,
    pub mirror: node_config::K3sMirror,
}

/// Builds the initrd (cached root + per-run part), the test CA, and the
/// served config pointing at the loopback mirror with the stand-in pinned.
pub fn prepare(sh: &Shell, dir: &Utf8Path, base: &str, extra_cas: &[Vec<u8>]) -> Result<Prepared> {
    let inputs = inputs::resolve(sh)?;
    let offline = inputs::offline();
    let tarball = userland::tarball(sh, offline)?;
    let root = sysroot::archive(&tarball, &inputs.modules_root, &inputs.module_version)?;
    let pki = Pki::create(dir.join("pki"))?;
    let mut cas = vec![pki.ca_pem()?];
    cas.extend(extra_cas.iter().cloned());
    let hosts = format!("127.0.0.1\tlocalhost\n::1\tlocalhost\n10.0.2.2\t{LOGS_HOST}\n");
    let tail = initrd::build(&initrd::Parts {
        busybox: &inputs.busybox,
        ignition: &inputs.ignition,
        modules_root: &inputs.modules_root,
        module_version: &inputs.module_version,
        extra_cas: &cas,
        hosts: &hosts,
    })?;
    let mut initrd = std::fs::read(&root).with_context(|| format!("reading {root}"))?;
    initrd.extend_from_slice(&tail);
    let kernel =
        std::fs::read(&inputs.kernel).with_context(|| format!("reading {}", inputs.kernel))?;

    let (config_path, committed) = super::node_config_source()?;
    let served = node_config::serve(&committed, base, config_path.as_str())?;
    if !served.blobs.is_empty() {
        bail!("the node config has remote sources; the node stage serves none but the k3s mirror");
    }
    let (config, mirror) =
        node_config::pin_k3s(&served.config, base, k3s_standin::STANDIN.as_bytes())?;
    let pinned = node_config::Served {
        config: config.clone(),
        blobs: BTreeMap::new(),
        rewritten: Vec::new(),
    };
    let expected = node_config::expectations(&pinned, base)?;
    Ok(Prepared {
        inputs,
        kernel,
        initrd,
        pki,
        config,
        expected,
        mirror,
    })
}

/// The routes of a node boot: Flatcar's files, the config, the mirror, the
/// heartbeat endpoint.
pub fn routes(p: &Prepared, config_target: &str) -> BTreeMap<String, Arc<Vec<u8>>> {
    BTreeMap::from([
        (KERNEL_TARGET.to_owned(), Arc::new(p.kernel.clone())),
        (INITRD_TARGET.to_owned(), Arc::new(p.initrd.clone())),
        (config_target.to_owned(), Arc::new(p.config.clone())),
        (
            p.mirror.target.clone(),
            Arc::new(k3s_standin::STANDIN.as_bytes().to_vec()),
        ),
        (HEARTBEAT_TARGET.to_owned(), Arc::new(b"OK\n".to_vec())),
    ])
}

fn free_port() -> Result<u16> {
    Ok(server::bind()?.local_addr()?.port())
}

pub fn run(sh: &Shell, args: &super::Args, dir: &Utf8Path) -> Result<()> {
    let t = Instant::now();
    let listener = server::bind()?;
    let port = listener.local_addr()?.port();
    let base = format!("http://10.0.2.2:{port}/");
    let p = prepare(sh, dir, &base, &[])?;
    let (key, public) = world::ssh_keypair(dir)?;
    let (logs_port, untrusted_port) = (free_port()?, free_port()?);
    let scenario = |kind, logs_port| Scenario {
        port,
        kind,
        ssh_key: public.clone(),
        logs_port,
        https_port: None,
    };
    let full = scenario(Kind::Full, logs_port);
    let agent = scenario(Kind::Agent, untrusted_port);
    let ssh_only = scenario(Kind::SshOnly, logs_port);
    let bin = match std::env::var("E2E_EPHEMEROS") {
        Ok(b) if !b.is_empty() => Utf8PathBuf::from(b),
        _ => crate::ephemeros_bin(sh, crate::Profile::Debug)?,
    };
    let ipxe = &p.inputs.ipxe_efi;
    let full_stick = stick::build(&bin, &full, ipxe, dir, "full")?;
    let agent_stick = stick::build(&bin, &agent, ipxe, dir, "agent")?;
    let ssh_stick = stick::build(&bin, &ssh_only, ipxe, dir, "ssh-only")?;
    let server = server::Server::start(listener, routes(&p, CONFIG_TARGET))?;
    let mut trusted = Listener::new(&p.pki, "logs", logs_port);
    trusted.start()?;
    let mut untrusted = Listener::new(&p.pki, "untrusted", untrusted_port);
    untrusted.start()?;
    eprintln!(
        "e2e: prepared in {:.1} s (kernel {:.1} MiB, initrd {:.1} MiB)",
        t.elapsed().as_secs_f64(),
        p.kernel.len() as f64 / (1 << 20) as f64,
        p.initrd.len() as f64 / (1 << 20) as f64,
    );

    let accel = super::choose_accel(&args.accel, &p.inputs.vm, dir);
    // A node boot runs its checks inside the VM's time: much longer than a
    // failure boot, and a loaded TCG machine is several times slower.
    let timeout = Duration::from_secs(args.timeout.max(NODE_TIMEOUT_SECS));
    let mut checks = Checks::default();
    let env = Env {
        walls: Default::default(),
        p: &p,
        // Shared by the boots: one that falls back to TCG moves the rest there.
        accel: std::sync::Mutex::new(accel),
        dir,
        timeout,
        key: &key,
        server: &server,
    };

    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    // Boot 1: everything.
    let mut first_identity = BTreeMap::new();
    if wanted("node-1") {
        let first = env.boot("node-1", &full_stick, |g, c, _| {
            session_full(g, c, &full, &p, &server, &mut trusted)
        })?;
        checks.absorb(first.checks);
        first_identity = first.identity;
    }
    // Boot 2: the same stick again, then a wrong binary on the mirror.
    if wanted("node-2") {
        let second = env.boot("node-2", &full_stick, |g, c, _| {
            session_again(g, c, &full, &p, &server, &first_identity)
        })?;
        checks.absorb(second.checks);
        server.set_route(
            &p.mirror.target,
            Arc::new(k3s_standin::STANDIN.as_bytes().to_vec()),
        );
    }
    // Boot 3: an agent, logging to an endpoint it must not trust.
    if wanted("agent") {
        let third = env.boot("agent", &agent_stick, |g, c, _| {
            session_agent(g, c, &agent, &p, &untrusted)
        })?;
        checks.absorb(third.checks);
    }
    // Boot 4: only an SSH key on the stick.
    if wanted("ssh-only") {
        let fourth = env.boot("ssh-only", &ssh_stick, |g, c, _| {
            session_ssh_only(g, c, &ssh_only)
        })?;
        checks.absorb(fourth.checks);
    }
    drop(trusted);
    drop(untrusted);

    let walls: Vec<String> = env
        .walls
        .lock()
        .expect("walls")
        .iter()
        .map(|(n, t)| format!("{n} {t:.0} s"))
        .collect();
    eprintln!("e2e: node boots' wall times: {}", walls.join(", "));
    let mut accel = env.accel.lock().expect("accel").clone();
    if !args.no_failure_case {
        super::http_boots::failure_boots(
            &p.inputs,
            &full_stick,
            &mut accel,
            dir,
            Duration::from_secs(args.timeout),
            server,
            &bin,
            &mut checks,
            5,
        )?;
    }
    eprintln!("e2e: {}", checks.summary());
    if !checks.failures.is_empty() {
        bail!("e2e failed:\n  {}", checks.failures.join("\n  "));
    }
    Ok(())
}

struct Env<'a> {
    /// `(boot, wall time)` of each node boot so far, for the summary.
    walls: std::sync::Mutex<Vec<(String, f64)>>,
    p: &'a Prepared,
    accel: std::sync::Mutex<ephemeros_qemu::AccelPlan>,
    dir: &'a Utf8Path,
    timeout: Duration,
    key: &'a Utf8Path,
    server: &'a server::Server,
}

/// What a boot's session found.
struct Outcome {
    checks: Checks,
    /// Facts a later boot compares against (point 8).
    identity: BTreeMap<String, String>,
}

impl Env<'_> {
    /// Boots `stick` with SSH forwarded; `session` runs against the node
    /// while it is up and returns what a later boot compares against; the
    /// node is powered off afterwards.
    fn boot(
        &self,
        name: &str,
        stick: &Utf8Path,
        session: impl FnOnce(&Guest, &mut Checks, Instant) -> Result<BTreeMap<String, String>> + Send,
    ) -> Result<Outcome> {
        eprintln!("e2e: boot {name}");
        let ssh_port = free_port()?;
        let guest = Guest::new(ssh_port, self.key, self.dir);
        let stop = AtomicBool::new(false);
        let ended = AtomicBool::new(false);
        let opts = BootOpts {
            memory_mib: MEMORY_MIB,
            forwards: vec![(ssh_port, 22)],
            stop: Some(&stop),
            ..BootOpts::default()
        };
        let started = Instant::now();
        let before = self.server.requests().len();
        let (vm, outcome, plan_used) = std::thread::scope(|s| {
            let worker = s.spawn(|| {
                let mut c = Checks::default();
                let login_within = self.timeout.saturating_sub(Duration::from_secs(300));
                let deadline = started + login_within;
                let up = guest.wait_for_login(deadline, || ended.load(Ordering::Relaxed));
                c.check(
                    "core logs in over SSH with the stick's key (ssh -p PORT core@127.0.0.1)",
                    up,
                    || format!("no login within {} s of the boot", login_within.as_secs()),
                );
                let mut identity = BTreeMap::new();
                if up {
                    eprintln!(
                        "e2e: {name}: SSH login at {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                    match session(&guest, &mut c, started) {
                        Ok(id) => identity = id,
                        Err(e) => {
                            c.check(format!("{name}: session"), false, || format!("{e:#}"));
                            eprintln!("{}", guest.diagnose(&[]));
                        }
                    }
                    eprintln!(
                        "e2e: {name}: checks done at {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                    guest.poweroff();
                }
                // Give the node its shutdown; then stop qemu regardless.
                let until = Instant::now() + Duration::from_secs(if up { 60 } else { 0 });
                while Instant::now() < until && !ended.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                }
                stop.store(true, Ordering::Relaxed);
                (c, identity)
            });
            let mut plan = self.accel.lock().expect("accel").clone();
            let vm = boot(
                &self.p.inputs,
                stick,
                &mut plan,
                self.dir,
                name,
                self.timeout,
                Launcher::Direct,
                &opts,
            );
            ended.store(true, Ordering::Relaxed);
            *self.accel.lock().expect("accel") = plan.clone();
            (vm, worker.join(), plan)
        });
        let (result, log, _) = vm?;
        let plan = plan_used;
        let (mut checks, identity) =
            outcome.map_err(|_| anyhow::anyhow!("the {name} session panicked"))?;
        eprintln!(
            "e2e: boot {name} wall time {:.1} s",
            result.elapsed.as_secs_f64()
        );
        let reqs = self.server.requests()[before..].to_vec();
        let before_fail = checks.failures.len();
        boot_chain(&mut checks, &log, &reqs);
        checks.check(
            format!("{name}: the node powered off when asked"),
            result.success(),
            || format!("{:?}", result.outcome),
        );
        if checks.failures.len() > before_fail || !checks.failures.is_empty() {
            super::print_tail(name, &log, &result, &plan);
        }
        self.walls
            .lock()
            .expect("walls")
            .push((name.to_owned(), result.elapsed.as_secs_f64()));
        Ok(Outcome { checks, identity })
    }
}

/// The boot chain as the serial log and the server saw it.
fn boot_chain(c: &mut Checks, log: &str, reqs: &[server::Request]) {
    c.check(
        "iPXE ran the stick's autoexec.ipxe",
        log.contains("/autoexec.ipxe... ok"),
        || "no `autoexec.ipxe... ok` line".into(),
    );
    c.check(
        "iPXE fetched the kernel and initrd once each",
        assertions::count(reqs, KERNEL_TARGET, 200) == 1
            && assertions::count(reqs, INITRD_TARGET, 200) == 1,
        || {
            format!(
                "requests: {:?}",
                reqs.iter().map(|r| &r.target).collect::<Vec<_>>()
            )
        },
    );
    c.check(
        "real Ignition fetched the config from the exact URL and applied it (fetch, files)",
        assertions::count(reqs, CONFIG_TARGET, 200) >= 1
            && log.contains("E2E ignition-fetch 0")
            && log.contains("E2E ignition-files 0"),
        || "no config request or Ignition failed".into(),
    );
    c.check(
        "the initrd switched to the new root and systemd started",
        log.contains("E2E switch-root") && log.contains("Welcome to"),
        || "no `E2E switch-root` / systemd banner".into(),
    );
}

/// The kernel command line, exactly as the stick's script means it.
fn cmdline(c: &mut Checks, g: &Guest, sc: &Scenario) -> Result<()> {
    let got = g.out("cat /proc/cmdline")?;
    let want = ephemeros_ipxe::expected_proc_cmdline(&sc.boot_settings()?)?;
    c.check(
        "/proc/cmdline is exactly what the script intended",
        got == want,
        || format!("\n    got  {got:?}\n    want {want:?}"),
    );
    Ok(())
}

fn session_full(
    g: &Guest,
    c: &mut Checks,
    sc: &Scenario,
    p: &Prepared,
    server: &server::Server,
    logs: &mut Listener,
) -> Result<BTreeMap<String, String>> {
    point(c, g, "the node is up", &[], |c| points::healthy(c, g));
    point(c, g, "kernel command line", &[], |c| cmdline(c, g, sc));
    point(c, g, "Ignition's files", &[], |c| {
        points::files(c, g, &p.expected)
    });
    point(c, g, "first-boot presets", &[], |c| {
        points::presets(c, g, &p.expected)
    });
    point(c, g, "networkd", &["systemd-networkd.service"], |c| {
        points::network(c, g)
    });
    point(c, g, "1. secrets.mount", &["secrets.mount"], |c| {
        points::secrets(c, g, sc)
    });
    point(
        c,
        g,
        "2. hostname before k3s",
        &["ephemeros-hostname.service", "k3s.service"],
        |c| points::hostname(c, g, sc.hostname().unwrap_or_default()),
    );
    point(
        c,
        g,
        "3. core's login",
        &["ephemeros-ssh-keys.service"],
        |c| points::login(c, g, sc),
    );
    point(
        c,
        g,
        "4. k3s server",
        &["k3s.service", "k3s-kubeconfig.service"],
        |c| {
            points::k3s(c, g, sc, &p.mirror.sha256)?;
            let fetched = assertions::count(&server.requests(), &p.mirror.target, 200);
            c.check("the mirror served k3s once", fetched == 1, || {
                format!("{fetched} downloads")
            });
            Ok(())
        },
    );
    point(
        c,
        g,
        "5. log export",
        &["ephemeros-logexport.service"],
        |c| points::logexport(c, g, sc.hostname().unwrap_or_default(), logs),
    );
    point(
        c,
        g,
        "6. heartbeat",
        &["ephemeros-heartbeat.timer", "ephemeros-heartbeat.service"],
        |c| {
            points::heartbeat(c, g, HEARTBEAT_TARGET, || {
                assertions::count(&server.requests(), HEARTBEAT_TARGET, 200)
            })
        },
    );
    identity(g)
}

fn session_again(
    g: &Guest,
    c: &mut Checks,
    sc: &Scenario,
    p: &Prepared,
    server: &server::Server,
    first: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    point(c, g, "8. the second boot is up", &[], |c| {
        points::healthy(c, g)
    });
    point(c, g, "8. secrets.mount again", &["secrets.mount"], |c| {
        points::secrets(c, g, sc)
    });
    point(
        c,
        g,
        "8. hostname again",
        &["ephemeros-hostname.service"],
        |c| points::hostname(c, g, sc.hostname().unwrap_or_default()),
    );
    point(
        c,
        g,
        "8. login again",
        &["ephemeros-ssh-keys.service"],
        |c| points::login(c, g, sc),
    );
    point(c, g, "8. k3s again", &["k3s.service"], |c| {
        points::k3s(c, g, sc, &p.mirror.sha256)
    });
    let now = identity(g)?;
    point(c, g, "8. state gone, identity kept", &[], |c| {
        c.check(
            "what boot 1 left in the root is gone",
            now.get("marker").map(String::as_str) == Some("absent"),
            || format!("{:?}", now.get("marker")),
        );
        c.check(
            "the hostname is the same",
            now.get("hostname") == first.get("hostname"),
            || format!("{:?} vs {:?}", now.get("hostname"), first.get("hostname")),
        );
        if now.get("stick-node-password").map(String::as_str) == Some("yes") {
            c.check(
                "/etc/rancher/node/password is the same as in boot 1",
                now.get("node-password") == first.get("node-password"),
                || "it changed".into(),
            );
        } else {
            eprintln!("  note  the stick has no k3s node password (issue #11): /etc/rancher/node/password not compared");
        }
        Ok(())
    });
    point(c, g, "4. a wrong k3s binary", &["k3s.service"], |c| {
        points::wrong_hash(c, g, || {
            server.set_route(
                &p.mirror.target,
                Arc::new(k3s_standin::WRONG.as_bytes().to_vec()),
            )
        })
    });
    Ok(now)
}

fn session_agent(
    g: &Guest,
    c: &mut Checks,
    sc: &Scenario,
    p: &Prepared,
    logs: &Listener,
) -> Result<BTreeMap<String, String>> {
    point(c, g, "the agent is up", &[], |c| points::healthy(c, g));
    point(
        c,
        g,
        "2. agent hostname",
        &["ephemeros-hostname.service"],
        |c| points::hostname(c, g, sc.hostname().unwrap_or_default()),
    );
    point(c, g, "4. k3s agent", &["k3s.service"], |c| {
        points::k3s(c, g, sc, &p.mirror.sha256)
    });
    point(
        c,
        g,
        "5. an untrusted log endpoint",
        &["ephemeros-logexport.service"],
        |c| points::untrusted(c, g, logs),
    );
    Ok(BTreeMap::new())
}

fn session_ssh_only(g: &Guest, c: &mut Checks, sc: &Scenario) -> Result<BTreeMap<String, String>> {
    point(c, g, "7. secrets.mount", &["secrets.mount"], |c| {
        points::secrets(c, g, sc)
    });
    point(
        c,
        g,
        "7. login with only a key",
        &["ephemeros-ssh-keys.service"],
        |c| points::login(c, g, sc),
    );
    point(c, g, "7. the rest is skipped", &[], |c| {
        points::skipped(c, g, "k3s.service", "k3s_env")?;
        points::skipped(c, g, "ephemeros-logexport.service", "logexport_env")?;
        points::skipped(c, g, "ephemeros-hostname.service", "hostname")?;
        g.out("sudo systemctl start ephemeros-heartbeat.service")?;
        points::skipped(c, g, "ephemeros-heartbeat.service", "heartbeat_env")
    });
    point(c, g, "7. nothing failed", &[], |c| points::healthy(c, g));
    Ok(BTreeMap::new())
}

/// Facts of this boot that a second boot compares against; leaves a
/// marker in the root that must not survive.
fn identity(g: &Guest) -> Result<BTreeMap<String, String>> {
    let out = g.out(
        "sudo sh -c 'test -e /var/lib/e2e-boot-marker && echo marker=present || echo marker=absent; \
         touch /var/lib/e2e-boot-marker; echo hostname=$(uname -n); \
         echo node-password=$(cat /etc/rancher/node/password 2>/dev/null); \
         test -s /secrets/k3s_node_password && echo stick-node-password=yes || echo stick-node-password=no'",
    )?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}
