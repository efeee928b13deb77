//! The log exporter (/opt/ephemeros/bin/logexport), run for real with bash
//! and jq against a fake `journalctl`:
//! - with a fake `openssl`: LOGEXPORT_HOST/PORT and journal messages arrive
//!   as data, never run;
//! - with the real `openssl s_server` and a test CA: lines arrive over a
//!   verified TLS connection, an exporter restart after a clean stop resumes
//!   exactly after the last line delivered, a certificate for another name
//!   is refused, and the exporter connects once the server comes up;
//! - against a server that closes every connection at once: nothing counts
//!   as delivered, the exporter backs off, and every entry arrives later;
//! - long messages, bytes that are not UTF-8, out-of-range priorities.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::sandbox::{wait_until, Proc, Sandbox};
use crate::node_model::NodeConfig;

const SCRIPT: &str = "/opt/ephemeros/bin/logexport";
const WAIT: Duration = Duration::from_secs(20);

/// Prints the entries of $FAKE_DIR/journal.json (one JSON object a line)
/// after --after-cursor=, then waits like `journalctl --follow`.
const FAKE_JOURNALCTL: &str = include_str!("fakes/journalctl.sh");

/// Records its arguments, reports a verified connection the way
/// `openssl s_client -brief` does, and keeps what it is sent.
const FAKE_OPENSSL: &str = include_str!("fakes/openssl.sh");

struct Entry {
    cursor: String,
    json: String,
    line: String,
}

/// A journal entry (JSON as `journalctl -o json` prints it) and the syslog
/// line the exporter must send for it.
fn entry(i: u32, message: &str) -> Entry {
    let cursor = format!("s=0123abcd;i={i:x};b=42;m={i:x};t=5f0;x=77");
    let us = 1_763_790_000_000_000u64 + u64::from(i) * 1_000_001;
    let json = serde_json::json!({
        "__CURSOR": cursor,
        "__REALTIME_TIMESTAMP": us.to_string(),
        "_HOSTNAME": "node-1",
        "SYSLOG_IDENTIFIER": "app",
        "_PID": "42",
        "PRIORITY": "4",
        "SYSLOG_FACILITY": "3",
        "MESSAGE": message,
    });
    let secs = us / 1_000_000;
    let stamp = format!("{}.{:06}Z", utc(secs), us % 1_000_000);
    let flat = message.replace(['\n', '\r', '\0'], " ");
    Entry {
        line: format!("<28>1 {stamp} node-1 app 42 - - {flat}"),
        json: json.to_string(),
        cursor,
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time (civil-from-days, proleptic Gregorian).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn write_journal(sb: &Sandbox, entries: &[Entry]) -> Result<()> {
    let text: String = entries.iter().map(|e| format!("{}\n", e.json)).collect();
    let path = sb.dir.join("journal.json");
    std::fs::write(&path, text).with_context(|| format!("writing {path}"))
}

fn lines(path: &Utf8Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn setup(config: &NodeConfig, dir: Utf8PathBuf) -> Result<(Sandbox, Utf8PathBuf)> {
    let sb = Sandbox::new(dir)?;
    sb.fake("journalctl", FAKE_JOURNALCTL)?;
    let script = sb.dir.join("logexport.sh");
    std::fs::write(&script, &config.file(SCRIPT)?.data)
        .with_context(|| format!("writing {script}"))?;
    Ok((sb, script))
}

fn exporter(sb: &Sandbox, script: &Utf8Path, host: &str, port: &str) -> Command {
    let state = sb.dir.join("state");
    let run = sb.dir.join("run");
    let ca = sb.dir.join("ca.crt");
    let mut cmd = sb.command(
        script,
        &[
            ("LOGEXPORT_HOST", host),
            ("LOGEXPORT_PORT", port),
            ("STATE_DIRECTORY", state.as_str()),
            ("RUNTIME_DIRECTORY", run.as_str()),
            // The test CA, through OpenSSL's default verify paths.
            ("SSL_CERT_FILE", ca.as_str()),
        ],
    );
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(sb.dir.join("exporter.log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    cmd.stdout(Stdio::null()).stderr(log);
    cmd
}

/// SIGTERM (as systemd stops it), then a clean exit is required.
fn stop(sb: &Sandbox, mut proc: Proc) -> Result<()> {
    proc.terminate()?;
    let status = proc.wait(Duration::from_secs(15))?;
    let log = std::fs::read_to_string(sb.dir.join("exporter.log")).unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => bail!("logexport exited with {s} on SIGTERM; its log:\n{log}"),
        None => bail!("logexport did not stop within 15 s of SIGTERM; its log:\n{log}"),
    }
}

fn cursor(sb: &Sandbox) -> String {
    std::fs::read_to_string(sb.dir.join("state/cursor"))
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

/// Fake openssl: the secret values stay data, messages are sent verbatim.
pub fn injection(config: &NodeConfig, dir: Utf8PathBuf) -> Result<()> {
    let (sb, script) = setup(config, dir)?;
    sb.fake("openssl", FAKE_OPENSSL)?;
    let evil = sb.evil();
    let entries = [entry(1, "plain"), entry(2, &format!("two\nlines {evil}"))];
    write_journal(&sb, &entries)?;
    let proc = Proc::spawn(exporter(&sb, &script, &evil, "6514"))?;
    let received = sb.dir.join("received");
    let arrived = wait_until(WAIT, || lines(&received).len() >= entries.len());
    stop(&sb, proc)?;
    ensure!(arrived, "logexport sent {:?}", lines(&received));
    sb.assert_not_pwned("logexport")?;
    let expected: Vec<String> = entries.iter().map(|e| e.line.clone()).collect();
    ensure!(
        lines(&received) == expected,
        "logexport sent {:?}, expected {expected:?}",
        lines(&received)
    );
    let args = sb.recorded_args("openssl.args")?;
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    ensure!(
        after("-verify_hostname") == Some(&evil),
        "-verify_hostname is not the host: {args:?}"
    );
    ensure!(
        after("-servername") == Some(&evil),
        "-servername is not the host: {args:?}"
    );
    ensure!(
        after("-connect") == Some(&format!("{evil}:6514")),
        "-connect is wrong: {args:?}"
    );
    ensure!(
        args.iter().any(|a| a == "-verify_return_error"),
        "no -verify_return_error: {args:?}"
    );
    ensure!(
        cursor(&sb) == entries[1].cursor,
        "cursor file holds {:?}",
        cursor(&sb)
    );

    // A malformed saved cursor (journalctl would refuse it for good) is
    // dropped: the whole journal is sent again rather than nothing ever.
    std::fs::write(sb.dir.join("state/cursor"), format!("{evil}\n"))?;
    std::fs::remove_file(&received)?;
    let proc = Proc::spawn(exporter(&sb, &script, "logs.example", "6514"))?;
    let arrived = wait_until(WAIT, || lines(&received).len() >= entries.len());
    stop(&sb, proc)?;
    ensure!(
        arrived && lines(&received) == expected,
        "after a malformed cursor logexport sent {:?}",
        lines(&received)
    );
    let journal_args = sb.recorded_args("journalctl.args")?;
    ensure!(
        !journal_args.iter().any(|a| a.starts_with("--after-cursor")),
        "a malformed cursor was passed to journalctl: {journal_args:?}"
    );
    ensure!(
        cursor(&sb) == entries[1].cursor,
        "cursor file holds {:?}",
        cursor(&sb)
    );

    for port in [evil.as_str(), "", "65536x"] {
        let (status, _) = sb.run(exporter(&sb, &script, "logs.example", port), WAIT)?;
        ensure!(
            status.code() == Some(2),
            "LOGEXPORT_PORT={port:?} must exit 2, got {status}"
        );
    }
    sb.assert_not_pwned("logexport")
}

/// What a line says for awkward entries: a message over journalctl's 4 KiB
/// field limit (which needs `--all`), one that is not UTF-8 (bytes escaped
/// as `\xNN`), and priority and facility values outside syslog's range
/// (the defaults instead: facility daemon, severity info).
pub fn content(config: &NodeConfig, dir: Utf8PathBuf) -> Result<()> {
    let (sb, script) = setup(config, dir)?;
    sb.fake("openssl", FAKE_OPENSSL)?;
    let long = "L".repeat(5000);
    let long_entry = entry(1, &long);
    let mut odd = serde_json::from_str::<serde_json::Value>(&entry(2, "x").json)?;
    odd["MESSAGE"] = serde_json::json!([104, 105, 255, 92, 10, 0, 7]);
    odd["PRIORITY"] = "9".into();
    odd["SYSLOG_FACILITY"] = "30".into();
    let odd_line = entry(2, "x")
        .line
        .replacen("<28>", "<30>", 1)
        .replace(" - - x", " - - hi\\xff\\x5c\\x0a\\x00\\x07");
    let text = format!("{}\n{}\n", long_entry.json, odd);
    std::fs::write(sb.dir.join("journal.json"), text)?;
    let proc = Proc::spawn(exporter(&sb, &script, "logs.example", "6514"))?;
    let received = sb.dir.join("received");
    let arrived = wait_until(WAIT, || lines(&received).len() >= 2);
    stop(&sb, proc)?;
    ensure!(arrived, "logexport sent {:?}", lines(&received));
    let got = lines(&received);
    ensure!(
        got[0] == long_entry.line,
        "a 5000-byte message arrived as {} bytes",
        got[0].len()
    );
    ensure!(
        got[1] == odd_line,
        "got {:?}, expected {odd_line:?}",
        got[1]
    );
    let journal_args = sb.recorded_args("journalctl.args")?;
    ensure!(
        journal_args.iter().any(|a| a == "--all"),
        "journalctl runs without --all, so messages over 4 KiB come out empty: {journal_args:?}"
    );
    Ok(())
}

/// A server that completes the handshake and closes at once, again and
/// again: nothing counts as delivered, the exporter backs off rather than
/// reconnecting in a tight loop, and once a real server listens every entry
/// arrives (at least once) and the cursor reaches the last one.
pub fn flaky_server(config: &NodeConfig, dir: Utf8PathBuf) -> Result<()> {
    let (sb, script) = setup(config, dir)?;
    make_certificates(&sb)?;
    let entries: Vec<Entry> = (1..=20).map(|i| entry(i, &format!("flaky {i}"))).collect();
    write_journal(&sb, &entries)?;
    let port = free_port()?;
    // Each s_server takes one connection, finishes the handshake, reads
    // its stdin (empty) and closes; the loop counts the connections.
    let closer = format!(
        "while :; do openssl s_server -quiet -naccept 1 -accept 127.0.0.1:{port} \
           -cert localhost.crt -key localhost.key </dev/null >/dev/null 2>&1; echo x >>closes; done"
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &closer]).current_dir(&sb.dir);
    let closing = Proc::spawn(cmd)?;
    let up = wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    ensure!(up, "the closing server did not listen");
    // The probe above was one connection.
    let _ = std::fs::remove_file(sb.dir.join("closes"));
    let proc = Proc::spawn(exporter(&sb, &script, "localhost", &port.to_string()))?;
    let window = Duration::from_secs(20);
    std::thread::sleep(window);
    drop(closing);
    let connections = lines(&sb.dir.join("closes")).len();
    eprintln!(
        "logexport: {connections} connection(s) in {} s to a server that closes at once",
        window.as_secs()
    );
    ensure!(
        cursor(&sb).is_empty(),
        "entries counted as delivered to a server that closed every connection: cursor {:?}",
        cursor(&sb)
    );
    // 1 s doubling: attempts near 0, 1, 3, 7, 15 s, plus the connection
    // time; a tight loop made hundreds.
    ensure!(
        (1..=8).contains(&connections),
        "{connections} connections in {} s to a server that closes at once",
        window.as_secs()
    );
    let srv = server(&sb, port, "localhost", "good.txt")?;
    let all: Vec<String> = entries.iter().map(|e| e.line.clone()).collect();
    let got = wait_until(Duration::from_secs(120), || {
        let have = lines(&sb.dir.join("good.txt"));
        all.iter().all(|l| have.contains(l))
    });
    stop(&sb, proc)?;
    drop(srv);
    ensure!(
        got,
        "after the flaky server, the good one got {:?}",
        lines(&sb.dir.join("good.txt"))
    );
    ensure!(
        cursor(&sb) == entries[19].cursor,
        "cursor after delivery: {:?}",
        cursor(&sb)
    );
    Ok(())
}

/// Test CA plus server certificates for `localhost` and `wrong.test`.
fn make_certificates(sb: &Sandbox) -> Result<()> {
    let d = &sb.dir;
    let openssl = |args: &[&str]| -> Result<()> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .context("running openssl")?;
        ensure!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=ephemeros test CA",
        "-days",
        "2",
    ])?;
    for name in ["localhost", "wrong.test"] {
        let (key, csr, crt, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        std::fs::write(d.join(&ext), format!("subjectAltName=DNS:{name}\n"))?;
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={name}"),
        ])?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ])?;
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// `openssl s_server` writing what it receives to `out`; its stdin stays
/// open (a closed stdin would make it quit).
fn server(sb: &Sandbox, port: u16, cert: &str, out: &str) -> Result<Proc> {
    let file = std::fs::File::create(sb.dir.join(out))?;
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-quiet", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "-cert",
            &format!("{cert}.crt"),
            "-key",
            &format!("{cert}.key"),
        ])
        .current_dir(&sb.dir)
        .stdin(Stdio::piped())
        .stdout(file)
        .stderr(Stdio::null());
    let proc = Proc::spawn(cmd)?;
    let up = wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    ensure!(up, "openssl s_server did not listen on port {port}");
    Ok(proc)
}

/// Real TLS: verified delivery, exact resume, refusal, reconnection.
pub fn tls(config: &NodeConfig, dir: Utf8PathBuf) -> Result<()> {
    let (sb, script) = setup(config, dir)?;
    make_certificates(&sb)?;
    let mut entries: Vec<Entry> = (1..=3)
        .map(|i| entry(i, &format!("first run {i}")))
        .collect();
    write_journal(&sb, &entries)?;

    // 1. Everything so far arrives, and the cursor is the last entry's.
    let port = free_port()?;
    let srv = server(&sb, port, "localhost", "server1.txt")?;
    let proc = Proc::spawn(exporter(&sb, &script, "localhost", &port.to_string()))?;
    let got = wait_until(WAIT, || lines(&sb.dir.join("server1.txt")).len() >= 3);
    stop(&sb, proc)?;
    drop(srv);
    let first: Vec<String> = entries.iter().map(|e| e.line.clone()).collect();
    ensure!(
        got && lines(&sb.dir.join("server1.txt")) == first,
        "over TLS the server got {:?}, expected {first:?}",
        lines(&sb.dir.join("server1.txt"))
    );
    ensure!(
        cursor(&sb) == entries[2].cursor,
        "cursor after the first run: {:?}",
        cursor(&sb)
    );

    // 2. A restarted exporter sends exactly the entries written since.
    entries.extend((4..=5).map(|i| entry(i, &format!("second run {i}"))));
    write_journal(&sb, &entries)?;
    let port = free_port()?;
    let srv = server(&sb, port, "localhost", "server2.txt")?;
    let proc = Proc::spawn(exporter(&sb, &script, "localhost", &port.to_string()))?;
    let got = wait_until(WAIT, || lines(&sb.dir.join("server2.txt")).len() >= 2);
    // Give a duplicate the chance to show up before looking.
    std::thread::sleep(Duration::from_millis(500));
    stop(&sb, proc)?;
    drop(srv);
    let second: Vec<String> = entries[3..].iter().map(|e| e.line.clone()).collect();
    ensure!(
        got && lines(&sb.dir.join("server2.txt")) == second,
        "after a restart the server got {:?}, expected exactly {second:?}",
        lines(&sb.dir.join("server2.txt"))
    );

    // 3. A certificate for another name is refused: nothing is sent.
    entries.push(entry(6, "must wait for a trusted server"));
    write_journal(&sb, &entries)?;
    let port = free_port()?;
    let srv = server(&sb, port, "wrong.test", "server3.txt")?;
    let _ = std::fs::remove_file(sb.dir.join("exporter.log"));
    let proc = Proc::spawn(exporter(&sb, &script, "localhost", &port.to_string()))?;
    let refused = wait_until(WAIT, || {
        std::fs::read_to_string(sb.dir.join("exporter.log"))
            .unwrap_or_default()
            .contains("no verified TLS connection")
    });
    drop(srv);
    ensure!(
        refused,
        "logexport did not report refusing a certificate for another name"
    );
    ensure!(
        lines(&sb.dir.join("server3.txt")).is_empty(),
        "data went to an unverified server"
    );

    // 4. ... and it keeps trying: once the right server is up on that port, the entry arrives.
    let srv = server(&sb, port, "localhost", "server4.txt")?;
    let got = wait_until(Duration::from_secs(90), || {
        !lines(&sb.dir.join("server4.txt")).is_empty()
    });
    stop(&sb, proc)?;
    drop(srv);
    ensure!(
        got && lines(&sb.dir.join("server4.txt")) == [entries[5].line.clone()],
        "after reconnecting the server got {:?}",
        lines(&sb.dir.join("server4.txt"))
    );
    ensure!(
        cursor(&sb) == entries[5].cursor,
        "cursor after reconnecting: {:?}",
        cursor(&sb)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_known_times() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00");
        assert_eq!(super::utc(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(super::utc(1_763_790_001), "2025-11-22T05:40:01");
    }
}
