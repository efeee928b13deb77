//! `cargo xtask nix-sandbox`: the workspace's test binaries, run the way
//! Nix's build sandbox runs the flake's `cargo-test` check, on a Debian
//! machine without Nix.
//!
//! What Nix's sandbox is like (and what users of `nix flake check` get):
//! nothing under `/bin` and `/usr/bin` but `sh`; programs only from PATH,
//! which holds exactly the check's inputs plus stdenv's basics; HOME is a
//! directory that does not exist; the network is loopback only; no `/sys`,
//! a minimal `/dev` (no `/dev/kvm`). This imitates that with a mount and a
//! network namespace: `/usr/bin`, `/usr/sbin` and `/usr/local` become empty
//! tmpfs (`sh` bound back in), PATH is one directory holding exactly the
//! commands of `nix/test-tools.json`, `/sys` is empty, `/dev` has only
//! null, zero, full, random, urandom and tty, and only `lo` is up. The
//! workspace looks like the flake's `src`: no `.git`, no `flake.nix`,
//! `flake.lock` or `nix/` (nix/default.nix leaves them out), and TMPDIR is
//! outside it.
//!
//! The outer half (this process) builds the test binaries and lays out the
//! tool directory; the inner half (`nix-sandbox --inside`, the same binary
//! in new namespaces) sets up the mounts and runs each test binary there.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::workspace_root;

#[derive(clap::Args)]
pub struct Args {
    /// Internal: the half that runs inside the namespaces
    #[arg(long, hide = true)]
    pub inside: Option<Utf8PathBuf>,
}

/// Where Nix puts HOME in a build: it does not exist.
const HOMELESS: &str = "/homeless-shelter";

/// The one list of test tools, shared with nix/default.nix.
pub const TOOLS_FILE: &str = "nix/test-tools.json";

/// A test binary and the package directory cargo runs it in.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct TestBinary {
    executable: Utf8PathBuf,
    package_dir: Utf8PathBuf,
    /// The test target's name, for the report.
    name: String,
}

/// What the inner half needs, written by the outer half as JSON.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Plan {
    tools_dir: Utf8PathBuf,
    /// command name -> host path, bound into `tools_dir` inside.
    binds: BTreeMap<String, Utf8PathBuf>,
    dev_dir: Utf8PathBuf,
    tmp_dir: Utf8PathBuf,
    /// Paths of the checkout the flake's `src` does not have.
    hidden: Vec<Utf8PathBuf>,
    env: BTreeMap<String, String>,
    tests: Vec<TestBinary>,
}

pub fn run(sh: &Shell, args: Args) -> Result<()> {
    match args.inside {
        Some(plan) => inside(&plan),
        None => outside(sh),
    }
}

/// The commands `nix/test-tools.json` lists: the packages' and stdenv's.
pub fn listed_commands(root: &Utf8Path) -> Result<Vec<String>> {
    let path = root.join(TOOLS_FILE);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{path} is not JSON"))?;
    let mut commands = Vec::new();
    let packages = json["packages"]
        .as_object()
        .with_context(|| format!("{path}: no \"packages\" object"))?;
    for (package, list) in packages {
        let list = list
            .as_array()
            .with_context(|| format!("{path}: packages.{package} is not a list"))?;
        for c in list {
            commands.push(
                c.as_str()
                    .with_context(|| format!("{path}: packages.{package}: not a string"))?
                    .to_owned(),
            );
        }
    }
    for c in json["stdenv"]
        .as_array()
        .with_context(|| format!("{path}: no \"stdenv\" list"))?
    {
        commands.push(
            c.as_str()
                .with_context(|| format!("{path}: stdenv: not a string"))?
                .to_owned(),
        );
    }
    Ok(commands)
}

fn outside(sh: &Shell) -> Result<()> {
    let root = workspace_root();
    let tests = test_binaries(sh)?;
    let base = crate::target_dir(&root).join("xtask/nix-sandbox");
    let _ = fs::remove_dir_all(&base);
    let tools_dir = base.join("bin");
    let dev_dir = base.join("dev");
    // Outside the workspace, as Nix's /build is outside its source: a
    // scratch git repository must not find the workspace's.
    let tmp_dir = Utf8PathBuf::try_from(std::env::temp_dir())
        .context("TMPDIR is not UTF-8")?
        .join(format!("ephemeros-nix-sandbox-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp_dir);
    for d in [&tools_dir, &dev_dir, &tmp_dir] {
        fs::create_dir_all(d).with_context(|| format!("creating {d}"))?;
    }
    let mut binds = BTreeMap::new();
    let mut missing = Vec::new();
    for command in listed_commands(&root)? {
        let Some(host) = find_on_host(&command) else {
            missing.push(command);
            continue;
        };
        let dest = tools_dir.join(&command);
        match script_interpreter(&host)? {
            // A script whose interpreter lives in a hidden directory: Nix
            // rewrites such shebangs to store paths (patchShebangs); here
            // the interpreter's name is looked up in the tool directory.
            Some((interp, text)) if !interp.starts_with("/bin/sh") => {
                let name = interp.rsplit('/').next().unwrap_or(&interp).to_owned();
                let body = text.split_once('\n').map(|(_, b)| b).unwrap_or("");
                fs::write(&dest, format!("#!{tools_dir}/{name}\n{body}"))
                    .with_context(|| format!("writing {dest}"))?;
                fs::set_permissions(&dest, fs::Permissions::from_mode(0o755))?;
            }
            _ => {
                // An empty file to bind the host's program onto, inside.
                fs::write(&dest, b"").with_context(|| format!("writing {dest}"))?;
                binds.insert(command, host);
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "{TOOLS_FILE} lists commands this machine does not have: {} (install them; .ci/run lists the packages)",
            missing.join(", ")
        );
    }
    let mut env = BTreeMap::new();
    env.insert("PATH".into(), tools_dir.to_string());
    env.insert("HOME".into(), HOMELESS.into());
    env.insert("TMPDIR".into(), tmp_dir.to_string());
    // As in the flake's cargo-test check: a missing tool fails a test.
    env.insert("CI".into(), "true".into());
    env.insert(
        "EPHEMEROS_QEMU".into(),
        format!("{tools_dir}/qemu-system-x86_64"),
    );
    for key in [
        "EPHEMEROS_IPXE_EFI",
        "EPHEMEROS_OVMF_CODE",
        "EPHEMEROS_OVMF_VARS",
    ] {
        if let Ok(v) = std::env::var(key) {
            env.insert(key.into(), v);
        }
    }
    let hidden = [".git", "flake.nix", "flake.lock", "nix"]
        .iter()
        .map(|p| root.join(p))
        .filter(|p| p.exists())
        .collect();
    let plan = Plan {
        tools_dir,
        binds,
        dev_dir,
        tmp_dir: tmp_dir.clone(),
        hidden,
        env,
        tests,
    };
    let plan_path = base.join("plan.json");
    fs::write(&plan_path, serde_json::to_vec_pretty(&plan)?)
        .with_context(|| format!("writing {plan_path}"))?;
    eprintln!(
        "nix-sandbox: {} test binaries, {} commands on PATH, HOME={HOMELESS}, loopback only",
        plan.tests.len(),
        plan.binds.len()
    );
    // A copy of this binary: cargo may rebuild target/debug/xtask meanwhile
    // (the `cargo test --no-run` above can), and /proc/self/exe still reads.
    let me = base.join("xtask-inside");
    fs::copy("/proc/self/exe", &me).with_context(|| format!("copying the xtask binary to {me}"))?;
    let status = Command::new(&me)
        .args(["nix-sandbox", "--inside"])
        .arg(plan_path.as_str())
        .status()
        .context("starting the sandboxed half of nix-sandbox")?;
    // Tests clean up after themselves: whatever is left in their TMPDIR
    // would pile up on a developer's machine run after run.
    let leftovers: Vec<String> = fs::read_dir(&tmp_dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let _ = fs::remove_dir_all(&tmp_dir);
    ensure!(status.success(), "tests failed in the Nix-like sandbox");
    ensure!(
        leftovers.is_empty(),
        "the tests left these behind in TMPDIR: {}",
        leftovers.join(", ")
    );
    Ok(())
}

/// Builds the workspace's test binaries and lists them.
fn test_binaries(sh: &Shell) -> Result<Vec<TestBinary>> {
    let out = cmd!(
        sh,
        "cargo test --workspace --locked --no-run --message-format=json-render-diagnostics"
    )
    .read()?;
    let mut tests = Vec::new();
    for line in out.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" || msg["profile"]["test"] != true {
            continue;
        }
        let (Some(exe), Some(manifest)) =
            (msg["executable"].as_str(), msg["manifest_path"].as_str())
        else {
            continue;
        };
        let manifest = Utf8PathBuf::from(manifest);
        let name = msg["target"]["name"].as_str().unwrap_or("").to_owned();
        tests.push(TestBinary {
            executable: exe.into(),
            package_dir: manifest
                .parent()
                .context("manifest path has no parent")?
                .into(),
            name,
        });
    }
    ensure!(!tests.is_empty(), "cargo listed no test binaries");
    Ok(tests)
}

/// A command as this machine has it: PATH first, then the sbin directories
/// root's PATH has (Debian keeps mkfs.fat, losetup, useradd there).
fn find_on_host(command: &str) -> Option<Utf8PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Utf8Path::new(d).join(command))
        .find(|p| {
            fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    found.and_then(|p| p.canonicalize_utf8().ok())
}

/// The interpreter of a `#!` script, with the script's text.
fn script_interpreter(path: &Utf8Path) -> Result<Option<(String, String)>> {
    let bytes = fs::read(path).with_context(|| format!("reading {path}"))?;
    if !bytes.starts_with(b"#!") {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let first = text.lines().next().unwrap_or("");
    let interp = first[2..]
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_owned();
    Ok(Some((interp, text)))
}

// ---- the inner half ----

fn inside(plan_path: &Utf8Path) -> Result<()> {
    let plan: Plan = serde_json::from_slice(
        &fs::read(plan_path).with_context(|| format!("reading {plan_path}"))?,
    )
    .with_context(|| format!("parsing {plan_path}"))?;
    enter_namespaces()?;
    build_sandbox(&plan)?;
    let mut failed = Vec::new();
    for t in &plan.tests {
        eprintln!("\nnix-sandbox: {} ({})", t.executable, t.name);
        let status = Command::new(&t.executable)
            .current_dir(&t.package_dir)
            .env_clear()
            .envs(&plan.env)
            // cargo sets it for `cargo test`; tests may read it at run time.
            .env("CARGO_MANIFEST_DIR", &t.package_dir)
            .status()
            .with_context(|| format!("starting {}", t.executable))?;
        if !status.success() {
            failed.push(t.executable.to_string());
        }
    }
    if !failed.is_empty() {
        bail!(
            "in the Nix-like sandbox, these test binaries failed:\n  {}",
            failed.join("\n  ")
        );
    }
    eprintln!("nix-sandbox: all {} test binaries passed", plan.tests.len());
    Ok(())
}

fn enter_namespaces() -> Result<()> {
    // SAFETY: plain syscalls on this process; no memory is shared with them.
    unsafe {
        let root = libc::geteuid() == 0;
        let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWNET;
        if !root {
            flags |= libc::CLONE_NEWUSER;
        }
        let (uid, gid) = (libc::geteuid(), libc::getegid());
        if libc::unshare(flags) != 0 {
            bail!(
                "unshare(mount, network namespaces): {} (run as root, or allow unprivileged user namespaces)",
                std::io::Error::last_os_error()
            );
        }
        if !root {
            fs::write("/proc/self/setgroups", "deny").context("writing setgroups")?;
            fs::write("/proc/self/uid_map", format!("0 {uid} 1")).context("writing uid_map")?;
            fs::write("/proc/self/gid_map", format!("0 {gid} 1")).context("writing gid_map")?;
        }
    }
    Ok(())
}

fn build_sandbox(plan: &Plan) -> Result<()> {
    mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE)?;
    // Tools first, while their host paths are still visible.
    for (name, host) in &plan.binds {
        bind(host.as_str(), plan.tools_dir.join(name).as_str())?;
    }
    let sh = plan.tools_dir.join("sh");
    // A minimal /dev, built aside and then put in place.
    mount(Some("tmpfs"), plan.dev_dir.as_str(), Some("tmpfs"), 0)?;
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        let dest = plan.dev_dir.join(node);
        fs::write(&dest, b"").with_context(|| format!("creating {dest}"))?;
        bind(&format!("/dev/{node}"), dest.as_str())?;
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(to, plan.dev_dir.join(link))?;
    }
    fs::create_dir_all(plan.dev_dir.join("shm"))?;
    mount(
        Some(plan.dev_dir.as_str()),
        "/dev",
        None,
        libc::MS_BIND | libc::MS_REC,
    )?;
    // Hide every program directory; only `sh` comes back.
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local"] {
        if fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
            mount(Some("tmpfs"), dir, Some("tmpfs"), 0)?;
        }
    }
    for dir in ["/bin", "/sbin"] {
        // Merged /usr: these are links into the directories just hidden.
        if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
            mount(Some("tmpfs"), dir, Some("tmpfs"), 0)?;
        }
    }
    fs::write("/usr/bin/sh", b"").context("creating /usr/bin/sh")?;
    bind(sh.as_str(), "/usr/bin/sh")?;
    if fs::symlink_metadata("/bin").is_ok_and(|m| m.is_dir()) {
        fs::write("/bin/sh", b"").context("creating /bin/sh")?;
        bind(sh.as_str(), "/bin/sh")?;
    }
    mount(Some("tmpfs"), "/sys", Some("tmpfs"), 0)?;
    for path in &plan.hidden {
        if path.is_dir() {
            mount(Some("tmpfs"), path.as_str(), Some("tmpfs"), libc::MS_RDONLY)?;
        } else {
            // An empty file in its place (a worktree's `.git` is a file).
            bind("/dev/null", path.as_str())?;
        }
    }
    loopback_up()?;
    Ok(())
}

fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
) -> Result<()> {
    let c = |s: &str| CString::new(s).context("a path with a NUL byte");
    let source = source.map(c).transpose()?;
    let fstype = fstype.map(c).transpose()?;
    let target_c = c(target)?;
    // SAFETY: every pointer is a valid NUL-terminated string or null, alive
    // for the duration of the call.
    let rc = unsafe {
        libc::mount(
            source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target_c.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        bail!("mount on {target}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

fn bind(source: &str, target: &str) -> Result<()> {
    mount(Some(source), target, None, libc::MS_BIND).with_context(|| format!("binding {source}"))
}

/// A new network namespace has `lo`, down: bring it up (SIOCSIFFLAGS).
fn loopback_up() -> Result<()> {
    // SAFETY: a socket used only for the two ioctls below and then closed;
    // `req` is an ifreq-sized, zeroed buffer with the name and flags where
    // struct ifreq has them (16-byte name, then the flags short).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        ensure!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let mut req = [0u8; 40];
        req[..2].copy_from_slice(b"lo");
        let get = libc::ioctl(fd, libc::SIOCGIFFLAGS, req.as_mut_ptr());
        let flags = i16::from_ne_bytes([req[16], req[17]]) | libc::IFF_UP as i16;
        req[16..18].copy_from_slice(&flags.to_ne_bytes());
        let set = libc::ioctl(fd, libc::SIOCSIFFLAGS, req.as_mut_ptr());
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        ensure!(get == 0 && set == 0, "bringing up lo: {err}");
    }
    Ok(())
}
