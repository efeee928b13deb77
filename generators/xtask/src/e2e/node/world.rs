//! The outside world of the stand-in node, on loopback: a test CA, TLS
//! syslog listeners (`openssl s_server`, one with a certificate from the
//! test CA that the node trusts, one self-signed it does not), and the SSH
//! key pair of the stick. The HTTP side (Flatcar download, config, k3s
//! mirror, heartbeat) is `server.rs`.

use std::fs;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::e2e::scenario::LOGS_HOST;

use crate::tools::openssl;

/// Certificates and keys in `dir`: `ca.crt` (trusted by the node),
/// `logs.crt` (from that CA, for [`LOGS_HOST`]) and `untrusted.crt`
/// (self-signed, same name).
pub struct Pki {
    pub dir: Utf8PathBuf,
}

impl Pki {
    pub fn create(dir: Utf8PathBuf) -> Result<Self> {
        fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-keyout", "ca.key", "-out", "ca.crt", "-days", "2"]);
        args.extend(["-subj", "/CN=ephemeros e2e test CA"]);
        openssl(&dir, &args)?;
        fs::write(
            dir.join("logs.ext"),
            format!("subjectAltName=DNS:{LOGS_HOST}\nextendedKeyUsage=serverAuth\n"),
        )?;
        let subj = format!("/CN={LOGS_HOST}");
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend(["-keyout", "logs.key", "-out", "logs.csr", "-subj", &subj]);
        openssl(&dir, &args)?;
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "logs.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "logs.crt",
                "-days",
                "2",
                "-extfile",
                "logs.ext",
            ],
        )?;
        let san = format!("subjectAltName=DNS:{LOGS_HOST}");
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend([
            "-keyout",
            "untrusted.key",
            "-out",
            "untrusted.crt",
            "-days",
            "2",
        ]);
        args.extend(["-subj", &subj, "-addext", &san]);
        openssl(&dir, &args)?;
        Ok(Self { dir })
    }

    pub fn ca_pem(&self) -> Result<Vec<u8>> {
        let p = self.dir.join("ca.crt");
        fs::read(&p).with_context(|| format!("reading {p}"))
    }
}

/// A TLS syslog listener: `openssl s_server` on 127.0.0.1, everything it
/// receives appended to one file per run of the listener.
pub struct Listener {
    pub port: u16,
    cert: String,
    dir: Utf8PathBuf,
    child: Option<Child>,
    runs: Vec<Utf8PathBuf>,
}

impl Listener {
    /// `cert` is `logs` (trusted) or `untrusted`.
    pub fn new(pki: &Pki, cert: &str, port: u16) -> Self {
        Self {
            port,
            cert: cert.to_owned(),
            dir: pki.dir.clone(),
            child: None,
            runs: Vec::new(),
        }
    }

    pub fn start(&mut self) -> Result<()> {
        ensure!(self.child.is_none(), "listener already running");
        let out = self
            .dir
            .join(format!("{}-{}.received", self.cert, self.runs.len()));
        let file = fs::File::create(&out).with_context(|| format!("creating {out}"))?;
        let err = fs::File::create(self.dir.join(format!(
            "{}-{}.stderr",
            self.cert,
            self.runs.len()
        )))?;
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args([
                "-cert",
                &format!("{}.crt", self.cert),
                "-key",
                &format!("{}.key", self.cert),
            ])
            .current_dir(&self.dir)
            // An open stdin: s_server quits when its stdin closes.
            .stdin(Stdio::piped())
            .stdout(file)
            .stderr(err)
            .spawn()
            .context("starting openssl s_server")?;
        self.child = Some(child);
        self.runs.push(out);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                bail!("openssl s_server did not listen on 127.0.0.1:{}", self.port);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every line received so far, over all runs, in order.
    pub fn lines(&self) -> Vec<String> {
        self.runs
            .iter()
            .flat_map(|p| {
                fs::read_to_string(p)
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The stick's SSH key pair: `id_e2e` / `id_e2e.pub`, comment with spaces.
pub fn ssh_keypair(dir: &Utf8Path) -> Result<(Utf8PathBuf, String)> {
    let key = dir.join("id_e2e");
    let _ = fs::remove_file(&key);
    let _ = fs::remove_file(key.with_extension("pub"));
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "e2e test key", "-f"])
        .arg(&key)
        .output()
        .context("running ssh-keygen (Debian package openssh-client)")?;
    ensure!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = fs::read_to_string(key.with_extension("pub"))?
        .trim_end()
        .to_owned();
    Ok((key, public))
}
