//! The node's shell scripts: shellcheck on each, and the small ones run
//! under bash with fake programs to show that secret values arrive as data
//! (one argument, unchanged) and never run anything.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::sandbox::Sandbox;
use crate::node_model::NodeConfig;
use crate::tools::which;

const LIMIT: Duration = Duration::from_secs(20);

/// shellcheck on every file with a sh/bash shebang, as extracted into `root`.
pub fn shellcheck(config: &NodeConfig, root: &Utf8Path) -> Result<usize> {
    let mut problems = Vec::new();
    let mut count = 0;
    for script in config.shell_scripts() {
        let path = root.join(script.path.trim_start_matches('/'));
        let mut shellcheck = Command::new("shellcheck");
        shellcheck.args(["--color=never", "--external-sources"]);
        if !crate::node_model::is_shell_script(&script.data) {
            // Sourced by a POSIX shell; no shebang to tell shellcheck.
            shellcheck.arg("--shell=sh");
        }
        let output = shellcheck
            .arg(path.as_str())
            .output()
            .context("running shellcheck (Debian package `shellcheck`)")?;
        if !output.status.success() {
            problems.push(format!(
                "{}:\n{}",
                script.path,
                String::from_utf8_lossy(&output.stdout).trim_end()
            ));
        }
        count += 1;
    }
    ensure!(
        count > 0,
        "ignition.ign carries no shell script: nothing to check"
    );
    if !problems.is_empty() {
        bail!(
            "shellcheck found problems in the node's scripts:\n{}",
            problems.join("\n")
        );
    }
    Ok(count)
}

/// Copies a script out of the config into the sandbox, replacing absolute
/// paths by sandbox paths (each must occur, so a renamed path fails loudly).
fn script_with_paths(
    config: &NodeConfig,
    sandbox: &Sandbox,
    node_path: &str,
    replacements: &[(&str, Utf8PathBuf)],
) -> Result<Utf8PathBuf> {
    let mut text = String::from_utf8(config.file(node_path)?.data.clone())
        .with_context(|| format!("{node_path} is not UTF-8"))?;
    for (from, to) in replacements {
        ensure!(text.contains(from), "{node_path} no longer mentions {from}");
        text = text.replace(from, to.as_str());
    }
    let name = node_path.rsplit('/').next().unwrap_or("script");
    let path = sandbox.dir.join(format!("{name}.sh"));
    std::fs::write(&path, text).with_context(|| format!("writing {path}"))?;
    Ok(path)
}

/// heartbeat, run with the real curl against a loopback server: exactly one
/// request, for exactly HEARTBEAT_URL (shell metacharacters, quotes, a
/// backslash and curl's glob syntax included), and the URL never on curl's
/// command line, where every local process could read the capability.
pub fn heartbeat(config: &NodeConfig, dir: Utf8PathBuf) -> Result<()> {
    let sb = Sandbox::new(dir)?;
    let curl = which("curl").context("heartbeat check: curl is needed (Debian package curl)")?;
    sb.fake(
        "curl",
        &format!(
            "#!/bin/bash\nprintf '%s\\0' \"$@\" >\"$FAKE_DIR/curl.args\"\nexec {curl} \"$@\"\n"
        ),
    )?;
    let script = script_with_paths(config, &sb, "/opt/ephemeros/bin/heartbeat", &[])?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let p = sb.pwned();
    // No spaces (curl refuses them in a URL), yet each would run `touch`
    // if a shell ever evaluated the value.
    let target =
        format!("/ping/a'b\"c\\d$(touch${{IFS}}{p})`touch${{IFS}}{p}`;?k=v&q=[1-3]{{a,b}}%41");
    let url = format!("http://127.0.0.1:{port}{target}");
    let requests = serve_ok(listener, Duration::from_secs(20));
    let (status, stderr) = sb.run(sb.command(&script, &[("HEARTBEAT_URL", &url)]), LIMIT)?;
    let requests = requests
        .join()
        .map_err(|_| anyhow::anyhow!("server thread"))?;
    ensure!(status.success(), "heartbeat failed ({status}): {stderr}");
    sb.assert_not_pwned("heartbeat")?;
    ensure!(
        requests == [format!("GET {target} HTTP/1.1")],
        "heartbeat: the endpoint should see one request for exactly HEARTBEAT_URL, saw {requests:?}"
    );
    let args = sb.recorded_args("curl.args")?;
    ensure!(
        !args.iter().any(|a| a.contains("/ping/")),
        "heartbeat: HEARTBEAT_URL is on curl's command line: {args:?}"
    );
    for flag in [
        "--max-time",
        "--retry",
        "--fail",
        "--globoff",
        "--proto-redir",
    ] {
        ensure!(
            args.iter().any(|a| a == flag),
            "heartbeat: curl runs without {flag}"
        );
    }
    let (status, _) = sb.run(sb.command(&script, &[("HEARTBEAT_URL", "")]), LIMIT)?;
    ensure!(
        status.code() == Some(2),
        "heartbeat: an empty HEARTBEAT_URL must exit 2, got {status}"
    );
    Ok(())
}

/// Answers `200 OK` to every request until `deadline` has passed without
/// one; returns the request lines seen.
fn serve_ok(
    listener: std::net::TcpListener,
    idle: Duration,
) -> std::thread::JoinHandle<Vec<String>> {
    use std::io::{BufRead, BufReader, Write};
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let _ = listener.set_nonblocking(true);
        let mut last = std::time::Instant::now();
        while last.elapsed() < idle {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    let mut reader = BufReader::new(&stream);
                    let mut line = String::new();
                    let _ = reader.read_line(&mut line);
                    // The rest of the head, up to the blank line.
                    let mut header = String::new();
                    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                        header.clear();
                    }
                    seen.push(line.trim_end().to_owned());
                    let _ = (&stream).write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    last = std::time::Instant::now();
                    // One heartbeat is one request: stop soon after it.
                    if seen.len() == 1 {
                        last = std::time::Instant::now() - idle + Duration::from_secs(2);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        seen
    })
}

/// k3s-run: agent exactly when K3S_URL is non-empty; values stay in the
/// environment, never on k3s's command line.
pub fn k3s_run(config: &NodeConfig, dir: Utf8PathBuf) -> Result<()> {
    let sb = Sandbox::new(dir)?;
    let k3s = sb.dir.join("k3s");
    sb.write_exec(
        &k3s,
        "#!/bin/bash\nprintf '%s\\0' \"$@\" >\"$FAKE_DIR/k3s.args\"\n\
         printf '%s' \"${K3S_URL-unset}\" >\"$FAKE_DIR/k3s.url\"\n",
    )?;
    let script = script_with_paths(
        config,
        &sb,
        "/opt/ephemeros/bin/k3s-run",
        &[("/opt/bin/k3s", k3s)],
    )?;
    let evil = sb.evil();
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("K3S_URL", &evil), ("K3S_TOKEN", &evil)], "agent"),
        (&[("K3S_DATASTORE_ENDPOINT", "")], "server"),
        (&[("K3S_URL", "")], "server"),
    ];
    for (env, role) in cases {
        let (status, stderr) = sb.run(sb.command(&script, env), LIMIT)?;
        ensure!(status.success(), "k3s-run failed ({status}): {stderr}");
        let args = sb.recorded_args("k3s.args")?;
        ensure!(
            args == [role],
            "k3s-run with {env:?}: k3s got {args:?}, expected [{role}]"
        );
        let url = std::fs::read_to_string(sb.dir.join("k3s.url"))?;
        let expected = env
            .iter()
            .find(|(k, _)| *k == "K3S_URL")
            .map_or("unset", |(_, v)| v);
        ensure!(
            url == expected,
            "k3s-run: k3s saw K3S_URL={url:?}, expected {expected:?}"
        );
    }
    sb.assert_not_pwned("k3s-run")
}

/// apply-hostname: a valid name lands in /etc/hostname and the kernel; an
/// invalid one (an injection attempt included) is refused, changing nothing.
pub fn apply_hostname(config: &NodeConfig, dir: Utf8PathBuf) -> Result<()> {
    let sb = Sandbox::new(dir)?;
    let secret = sb.dir.join("secrets-hostname");
    let etc = sb.dir.join("etc-hostname");
    let kernel = sb.dir.join("kernel-hostname");
    let script = script_with_paths(
        config,
        &sb,
        "/opt/ephemeros/bin/apply-hostname",
        &[
            ("/secrets/hostname", secret.clone()),
            ("/etc/hostname", etc.clone()),
            ("/proc/sys/kernel/hostname", kernel.clone()),
        ],
    )?;
    for (given, name) in [
        ("node-1\n", "node-1"),
        ("rack2.example.org", "rack2.example.org"),
    ] {
        std::fs::write(&secret, given)?;
        let (status, stderr) = sb.run(sb.command(&script, &[]), LIMIT)?;
        ensure!(
            status.success(),
            "apply-hostname {given:?} failed ({status}): {stderr}"
        );
        let etc_text =
            std::fs::read_to_string(&etc).context("apply-hostname wrote no /etc/hostname")?;
        let kernel_text = std::fs::read_to_string(&kernel)?;
        ensure!(
            etc_text == format!("{name}\n") && kernel_text == name,
            "apply-hostname {given:?}: /etc/hostname {etc_text:?}, kernel {kernel_text:?}"
        );
    }
    for bad in [
        sb.evil(),
        "-rf".into(),
        "a_b".into(),
        "x".repeat(65),
        String::new(),
    ] {
        let _ = std::fs::remove_file(&etc);
        std::fs::write(&secret, format!("{bad}\n"))?;
        let (status, _) = sb.run(sb.command(&script, &[]), LIMIT)?;
        ensure!(!status.success(), "apply-hostname accepted {bad:?}");
        ensure!(
            !etc.exists(),
            "apply-hostname wrote /etc/hostname for {bad:?}"
        );
    }
    sb.assert_not_pwned("apply-hostname")
}

/// k3s-fetch: installs only a download with the pinned sha256, from the
/// pinned release's URL, and skips the download when the binary is intact.
/// The pinned hash is swapped for the hash of a test blob (the real k3s is
/// not downloaded here); the pin itself must look like a sha256.
pub fn k3s_fetch(config: &NodeConfig, dir: Utf8PathBuf) -> Result<()> {
    use sha2::{Digest, Sha256};

    let sb = Sandbox::new(dir)?;
    let text = String::from_utf8(config.file("/opt/ephemeros/bin/k3s-fetch")?.data.clone())?;
    let pin = |key: &str| -> Result<String> {
        let Some(value) = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
        else {
            bail!("k3s-fetch has no `{key}=` line");
        };
        Ok(value.trim().to_owned())
    };
    let version = pin("version")?;
    ensure!(
        version.starts_with('v') && version.contains("+k3s"),
        "k3s-fetch: {version:?} is not a k3s release tag"
    );
    // (uname -m, release asset as k3s's install.sh names it, pinned hash)
    let arches = [
        ("x86_64", "k3s", pin("sha256_amd64")?),
        ("aarch64", "k3s-arm64", pin("sha256_arm64")?),
    ];
    for (machine, _, pinned) in &arches {
        ensure!(
            pinned.is_empty()
                || (pinned.len() == 64
                    && pinned
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())),
            "k3s-fetch: the pinned sha256 for {machine} {pinned:?} is not 64 lowercase hex digits"
        );
    }
    ensure!(!arches[0].2.is_empty(), "k3s-fetch pins no amd64 hash");

    let blob = b"#!/bin/sh\necho stand-in k3s\n";
    let blob_hash = format!("{:x}", Sha256::digest(blob));
    std::fs::write(sb.dir.join("blob"), blob)?;
    std::fs::write(sb.dir.join("bad-blob"), b"tampered\n")?;
    // Writes $FAKE_DIR/$FAKE_BLOB to --output, records its arguments.
    sb.fake(
        "curl",
        "#!/bin/bash\nprintf '%s\\0' \"$@\" >>\"$FAKE_DIR/curl.args\"\n\
         while (($#)); do [[ $1 == --output ]] && cp \"$FAKE_DIR/$FAKE_BLOB\" \"$2\"; shift; done\n",
    )?;
    sb.fake(
        "uname",
        "#!/bin/bash\n[[ $1 == -m ]] && echo \"$FAKE_MACHINE\"\n",
    )?;
    let opt_bin = sb.dir.join("opt-bin");
    // Every pinned hash becomes the stand-in's, so the stand-in passes for
    // whichever asset is asked for.
    let mut replacements = vec![("/opt/bin", opt_bin.clone())];
    for (_, _, pinned) in &arches {
        if !pinned.is_empty() {
            replacements.push((pinned.as_str(), Utf8PathBuf::from(blob_hash.as_str())));
        }
    }
    let script = script_with_paths(config, &sb, "/opt/ephemeros/bin/k3s-fetch", &replacements)?;
    let k3s = opt_bin.join("k3s");
    let run = |machine: &str, blob: &str| {
        sb.run(
            sb.command(&script, &[("FAKE_BLOB", blob), ("FAKE_MACHINE", machine)]),
            LIMIT,
        )
    };
    let reset = || -> Result<()> {
        let _ = std::fs::remove_file(sb.dir.join("curl.args"));
        if opt_bin.exists() {
            std::fs::remove_dir_all(&opt_bin)?;
        }
        Ok(())
    };

    // A machine k3s-fetch has no release for is refused before any download.
    reset()?;
    let (status, stderr) = run("riscv64", "blob")?;
    ensure!(!status.success(), "k3s-fetch accepted a riscv64 machine");
    ensure!(
        stderr.contains("this machine is riscv64") && stderr.contains("aarch64"),
        "k3s-fetch on riscv64: {stderr}"
    );
    ensure!(
        !sb.dir.join("curl.args").exists(),
        "k3s-fetch downloaded something for an unknown machine"
    );

    for (machine, asset, pinned) in &arches {
        reset()?;
        if pinned.is_empty() {
            // No reviewed hash: refused, never downloaded unchecked.
            let (status, stderr) = run(machine, "blob")?;
            ensure!(
                !status.success(),
                "k3s-fetch on {machine} ran without a pinned hash"
            );
            ensure!(
                stderr.contains(&format!("no sha256 of {asset}")),
                "k3s-fetch on {machine}: {stderr}"
            );
            ensure!(
                !sb.dir.join("curl.args").exists(),
                "k3s-fetch on {machine} downloaded without a pinned hash"
            );
            continue;
        }
        let url = format!(
            "https://github.com/k3s-io/k3s/releases/download/{}/{asset}",
            version.replace('+', "%2B")
        );

        // A tampered download is refused and leaves nothing behind.
        let (status, stderr) = run(machine, "bad-blob")?;
        ensure!(
            !status.success(),
            "k3s-fetch on {machine} installed a download with the wrong sha256"
        );
        ensure!(
            stderr.contains("does not have the pinned sha256"),
            "k3s-fetch on {machine}: {stderr}"
        );
        let left: Vec<_> = std::fs::read_dir(&opt_bin)?.collect();
        ensure!(
            left.is_empty(),
            "k3s-fetch on {machine} left {} file(s) in /opt/bin",
            left.len()
        );

        // The right one is installed, executable, from the pinned release.
        let (status, stderr) = run(machine, "blob")?;
        ensure!(
            status.success(),
            "k3s-fetch on {machine} failed ({status}): {stderr}"
        );
        ensure!(
            std::fs::read(&k3s)? == blob,
            "k3s-fetch on {machine} installed something else"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&k3s)?.permissions());
        ensure!(
            mode & 0o777 == 0o755,
            "k3s-fetch on {machine} installed k3s with mode {mode:o}"
        );
        let args = sb.recorded_args("curl.args")?;
        ensure!(
            args.windows(2).any(|w| w[0] == "--url" && w[1] == url),
            "k3s-fetch on {machine} did not download {url}: {args:?}"
        );
        // A stalled or endless download fails (and is retried) rather than
        // holding k3s.service, whose start has no timeout, forever.
        for flag in [
            "--speed-limit",
            "--speed-time",
            "--max-time",
            "--proto-redir",
        ] {
            ensure!(
                args.iter().any(|a| a == flag),
                "k3s-fetch on {machine}: curl runs without {flag}, so a stalled download can hang the boot"
            );
        }

        // Intact: no second download.
        std::fs::remove_file(sb.dir.join("curl.args"))?;
        let (status, stderr) = run(machine, "bad-blob")?;
        ensure!(
            status.success(),
            "k3s-fetch on {machine} with k3s in place failed ({status}): {stderr}"
        );
        ensure!(
            !sb.dir.join("curl.args").exists(),
            "k3s-fetch on {machine} downloaded k3s again although it was intact"
        );
    }
    Ok(())
}
