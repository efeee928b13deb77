//! The stand-in Flatcar over HTTPS: a test PKI made with `openssl` at run
//! time and loopback `openssl s_server -HTTP` listeners serving the same
//! kernel and initrd as the HTTP server.
//!
//! Two certificate authorities, both RSA (iPXE builds before December 2025
//! verify no ECDSA): the *trusted* one goes into the firmware
//! (`ephemeros qemu --trust-ca`, or the same signature list handed to a
//! direct launch), the *untrusted* one into nothing. Each issues a server
//! certificate for 10.0.2.2, the host as the guest sees it under qemu user
//! networking (iPXE matches IP address SANs, ipxe/ipxe `src/crypto/x509.c`).
//!
//! `s_server -HTTP` answers `GET /path` with the file `path` under its
//! working directory, sent as is: each file holds a whole HTTP response with
//! a Content-Length, so iPXE knows where the body ends (s_server does not
//! close a connection in a way iPXE's TLS layer takes as the end of a
//! body: with `-WWW`, which writes no length, iPXE's download stalls). It
//! logs `FILE:path` for every request, which is the request log here, and
//! an `http request` error when plain HTTP reaches its TLS port.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::server::Request;

/// The guest's name for the host: what the server certificates are for.
const GUEST_HOST_IP: &str = "10.0.2.2";

use crate::tools::openssl;

/// One CA and the server certificate it issued, as files in the PKI's
/// directory: `<name>-ca.pem`, `<name>-server.pem`, `<name>-server.key`.
pub struct Issued {
    pub ca: Utf8PathBuf,
    pub cert: Utf8PathBuf,
    pub key: Utf8PathBuf,
}

pub struct Pki {
    pub trusted: Issued,
    pub untrusted: Issued,
}

impl Pki {
    pub fn create(dir: &Utf8Path) -> Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
        Ok(Self {
            trusted: issue(dir, "trusted")?,
            untrusted: issue(dir, "untrusted")?,
        })
    }
}

/// A CA (basicConstraints CA:TRUE, which iPXE requires of an issuer) and a
/// server certificate from it for [`GUEST_HOST_IP`], valid for two days.
fn issue(dir: &Utf8Path, name: &str) -> Result<Issued> {
    let rsa = ["-newkey", "rsa:2048", "-nodes"];
    let (ca, ca_key) = (format!("{name}-ca.pem"), format!("{name}-ca.key"));
    let subject = format!("/CN=ephemeros e2e {name} mirror CA");
    let mut args = vec!["req", "-x509"];
    args.extend(rsa);
    args.extend(["-keyout", &ca_key, "-out", &ca, "-days", "2"]);
    args.extend(["-subj", &subject]);
    args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
    args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, &args)?;

    let (cert, key, csr, ext) = (
        format!("{name}-server.pem"),
        format!("{name}-server.key"),
        format!("{name}-server.csr"),
        format!("{name}-server.ext"),
    );
    let subject = format!("/CN={GUEST_HOST_IP}");
    let mut args = vec!["req"];
    args.extend(rsa);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
    openssl(dir, &args)?;
    let ext_path = dir.join(&ext);
    fs::write(
        &ext_path,
        format!(
            "basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n\
             subjectAltName=IP:{GUEST_HOST_IP}\n"
        ),
    )
    .with_context(|| format!("writing {ext_path}"))?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    )?;
    Ok(Issued {
        ca: dir.join(ca),
        cert: dir.join(cert),
        key: dir.join(key),
    })
}

/// One `openssl s_server -HTTP` on 127.0.0.1, stopped when dropped.
pub struct Mirror {
    pub port: u16,
    log: Utf8PathBuf,
    child: Child,
}

impl Mirror {
    /// Serves `files` (request target -> body) from `dir` (its own: the
    /// files and the log go there) with the server certificate of `issued`.
    pub fn start(dir: &Utf8Path, issued: &Issued, files: &[(&str, &[u8])]) -> Result<Self> {
        let root = dir.join("www");
        for (target, body) in files {
            let rel = target.strip_prefix('/').context("a target starts with /")?;
            let path = root.join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).with_context(|| format!("creating {parent}"))?;
            }
            let mut response = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\
                 Content-Type: application/octet-stream\r\n\r\n",
                body.len()
            )
            .into_bytes();
            response.extend_from_slice(body);
            fs::write(&path, response).with_context(|| format!("writing {path}"))?;
        }
        // The port is free now; s_server takes it a moment later.
        let port = super::server::bind()?.local_addr()?.port();
        let log = dir.join("s_server.log");
        let out = fs::File::create(&log).with_context(|| format!("creating {log}"))?;
        let err = out.try_clone().context("sharing the log file")?;
        let child = Command::new("openssl")
            .args(["s_server", "-HTTP", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&issued.cert)
            .arg("-key")
            .arg(&issued.key)
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("starting openssl s_server")?;
        let mirror = Self { port, log, child };
        mirror.wait_listening()?;
        Ok(mirror)
    }

    fn wait_listening(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "openssl s_server did not listen on 127.0.0.1:{} (log {})",
                    self.port,
                    self.log
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every request s_server answered, in order (all GET; s_server -HTTP
    /// takes no other method). Status 200 when the file is there.
    pub fn requests(&self) -> Vec<Request> {
        parse_requests(&self.log_text(), |path| {
            self.log
                .parent()
                .is_some_and(|d| d.join("www").join(path).is_file())
        })
    }

    /// Plain HTTP reached the TLS port (a script that rewrote https://).
    pub fn saw_plain_http(&self) -> bool {
        self.log_text().contains(":http request:")
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// s_server's `FILE:<path>` lines as requests for `/<path>`.
fn parse_requests(log: &str, exists: impl Fn(&str) -> bool) -> Vec<Request> {
    log.lines()
        .filter_map(|l| l.strip_prefix("FILE:"))
        .map(|path| Request {
            method: "GET".into(),
            target: format!("/{path}"),
            status: if exists(path) { 200 } else { 404 },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl s_client` verifying against `ca`: the response, or None
    /// when verification (or the connection) failed.
    fn fetch(port: u16, ca: &Utf8Path, target: &str) -> Option<Vec<u8>> {
        use std::io::Write;
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-ign_eof", "-verify_return_error"])
            .args(["-verify_ip", GUEST_HOST_IP, "-CAfile", ca.as_str()])
            .arg("-connect")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        write!(stdin, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        out.status.success().then_some(out.stdout)
    }

    #[test]
    fn a_mirror_is_verified_with_its_own_ca_only() {
        let tmp = std::env::temp_dir().join(format!("e2e-https-{}", std::process::id()));
        let dir = Utf8PathBuf::try_from(tmp).unwrap();
        let pki = Pki::create(&dir.join("pki")).unwrap();
        let body: &[u8] = b"kernel bytes";
        let mirror = Mirror::start(&dir.join("m"), &pki.trusted, &[("/f/k", body)]).unwrap();
        let got = fetch(mirror.port, &pki.trusted.ca, "/f/k").expect("verified fetch");
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("HTTP/1.0 200 OK\r\nContent-Length: 12\r\n")
                && text.ends_with("\r\n\r\nkernel bytes"),
            "{text}"
        );
        assert_eq!(fetch(mirror.port, &pki.untrusted.ca, "/f/k"), None);
        let reqs = mirror.requests();
        assert_eq!(reqs.len(), 1, "{reqs:?}");
        assert_eq!((reqs[0].target.as_str(), reqs[0].status), ("/f/k", 200));
        assert!(!mirror.saw_plain_http());
        // Plain HTTP at the TLS port shows in its log.
        let mut s = std::net::TcpStream::connect(("127.0.0.1", mirror.port)).unwrap();
        std::io::Write::write_all(&mut s, b"GET /f/k HTTP/1.0\r\n\r\n").unwrap();
        let _ = std::io::Read::read_to_end(&mut s, &mut Vec::new());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !mirror.saw_plain_http() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(mirror.saw_plain_http());
        drop(mirror);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_lines_are_the_request_log() {
        let log = "Using default temp DH parameters\nACCEPT\n\
                   FILE:flatcar/a.vmlinuz\n40B7:error:0A000126:SSL routines::unexpected eof\n\
                   FILE:flatcar/missing\n";
        let reqs = parse_requests(log, |p| p == "flatcar/a.vmlinuz");
        assert_eq!(
            reqs,
            [
                Request {
                    method: "GET".into(),
                    target: "/flatcar/a.vmlinuz".into(),
                    status: 200
                },
                Request {
                    method: "GET".into(),
                    target: "/flatcar/missing".into(),
                    status: 404
                },
            ]
        );
    }
}
