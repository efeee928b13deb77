//! The initrd stage's HTTPS boots: a stick whose `--base-url` is an HTTPS
//! mirror with a private CA (`https.rs`).
//!
//! - trusted: the firmware holds the mirror's CA (`ephemeros qemu
//!   --trust-ca`, the user's way); iPXE verifies the mirror, fetches the
//!   kernel and initrd over HTTPS and the boot reaches everything the HTTP
//!   boot reaches;
//! - untrusted (a failure boot): the firmware holds that same CA, the
//!   mirror's certificate is from another one; iPXE refuses the handshake,
//!   the script gives up with iPXE's error on the console, and nothing
//!   falls back to plain HTTP: the HTTP server, which serves the same
//!   kernel, sees no request for it.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use ephemeros_qemu::{cacerts, AccelPlan};

use super::assertions::{self, count, Checks, INITRD_TARGET, KERNEL_TARGET};
use super::https::{Mirror, Pki};
use super::node_config::Expect;
use super::scenario::{Scenario, DOWNLOAD_ATTEMPTS};
use super::{boot, inputs::Inputs, print_tail, server, stick, BootOpts, Launcher};

/// What every boot of the stage shares.
pub struct Ctx<'a> {
    pub inputs: &'a Inputs,
    pub dir: &'a Utf8Path,
    pub timeout: Duration,
    pub bin: &'a Utf8Path,
    /// The HTTP server's routes (kernel and initrd included).
    pub routes: &'a BTreeMap<String, Arc<Vec<u8>>>,
}

pub struct Setup {
    pki: Pki,
    trusted: Mirror,
    untrusted: Mirror,
    trusted_sc: Scenario,
    trusted_stick: Utf8PathBuf,
    untrusted_stick: Utf8PathBuf,
    /// The trusted CA as an EFI signature list, for a direct launch.
    ca_list: PathBuf,
}

/// `sc` with Flatcar from the HTTPS mirror on `port`.
fn over_https(sc: &Scenario, port: u16) -> Scenario {
    Scenario {
        port: sc.port,
        kind: sc.kind,
        ssh_key: sc.ssh_key.clone(),
        logs_port: sc.logs_port,
        https_port: Some(port),
    }
}

impl Setup {
    /// The PKI, both mirrors (serving the kernel and initrd of `routes`)
    /// and a stick for each.
    pub fn prepare(
        bin: &Utf8Path,
        inputs: &Inputs,
        sc: &Scenario,
        routes: &BTreeMap<String, Arc<Vec<u8>>>,
        dir: &Utf8Path,
    ) -> Result<Self> {
        let pki = Pki::create(&dir.join("https-pki"))?;
        let body = |t: &str| {
            routes
                .get(t)
                .map(|b| b.as_slice())
                .with_context(|| format!("no {t} to serve"))
        };
        let files = [
            (KERNEL_TARGET, body(KERNEL_TARGET)?),
            (INITRD_TARGET, body(INITRD_TARGET)?),
        ];
        let trusted = Mirror::start(&dir.join("mirror-trusted"), &pki.trusted, &files)?;
        let untrusted = Mirror::start(&dir.join("mirror-untrusted"), &pki.untrusted, &files)?;
        let trusted_sc = over_https(sc, trusted.port);
        let trusted_stick = stick::build(bin, &trusted_sc, &inputs.ipxe_efi, dir, "stick-https")?;
        let untrusted_stick = stick::build(
            bin,
            &over_https(sc, untrusted.port),
            &inputs.ipxe_efi,
            dir,
            "stick-https-untrusted",
        )?;
        let certs = cacerts::read_file(pki.trusted.ca.as_std_path())?;
        let ca_list = dir.join("trusted-ca.esl");
        fs::write(&ca_list, cacerts::signature_list(&certs))
            .with_context(|| format!("writing {ca_list}"))?;
        Ok(Self {
            pki,
            trusted,
            untrusted,
            trusted_sc,
            trusted_stick,
            untrusted_stick,
            ca_list: ca_list.into(),
        })
    }

    /// Boot `n`: the firmware holds the mirror's CA (`ephemeros qemu
    /// --trust-ca`); the boot must get as far as the HTTP boot.
    #[allow(clippy::too_many_arguments)]
    pub fn trusted_boot(
        &self,
        ctx: &Ctx,
        n: u32,
        accel: &mut AccelPlan,
        server: &server::Server,
        checks: &mut Checks,
        expected: &[(String, Expect)],
        blob_targets: &[String],
    ) -> Result<()> {
        eprintln!(
            "e2e: boot {n} (through `ephemeros qemu --trust-ca`): Flatcar from an HTTPS mirror \
             whose CA the firmware holds"
        );
        server.reset((*ctx.routes).clone());
        let ssh_port = server::bind()?.local_addr()?.port();
        let launcher = Launcher::Ephemeros {
            bin: ctx.bin,
            ssh_port,
            trust_ca: Some(&self.pki.trusted.ca),
        };
        let (result, log, _) = boot(
            ctx.inputs,
            &self.trusted_stick,
            accel,
            ctx.dir,
            "https",
            ctx.timeout,
            launcher,
            &BootOpts::default(),
        )?;
        eprintln!(
            "e2e: boot {n} wall time {:.1} s",
            result.elapsed.as_secs_f64()
        );
        let before = checks.failures.len();
        let plain = server.requests();
        let tls = self.trusted.requests();
        // The node checks see every request; where the kernel came from is
        // checked on its own below.
        let all: Vec<_> = plain.iter().chain(&tls).cloned().collect();
        assertions::boot(
            checks,
            &self.trusted_sc,
            &result,
            &log,
            &all,
            expected,
            blob_targets,
        )?;
        let kernel_url = format!("{}{}", self.trusted_sc.flatcar_base_url(), kernel_file());
        checks.check(
            format!("iPXE verified the mirror and fetched {kernel_url}"),
            log.lines()
                .any(|l| l.contains(&format!("{kernel_url}...")) && l.trim_end().ends_with("ok")),
            || "no `<url>... ok` line".into(),
        );
        checks.check(
            "the HTTPS mirror served the kernel and initrd once each",
            count(&tls, KERNEL_TARGET, 200) == 1 && count(&tls, INITRD_TARGET, 200) == 1,
            || format!("mirror requests: {tls:?}"),
        );
        no_plain_downloads(checks, &plain, &self.trusted);
        if checks.failures.len() > before {
            print_tail(&format!("boot {n}"), &log, &result, accel);
        }
        Ok(())
    }

    /// Boot `n`: the mirror's certificate is from a CA the firmware does not
    /// hold (it holds the trusted one). The script must give up with iPXE's
    /// error, and never fetch the kernel over plain HTTP.
    pub fn untrusted_boot(
        &self,
        ctx: &Ctx,
        n: u32,
        accel: &mut AccelPlan,
        server: &server::Server,
        checks: &mut Checks,
    ) -> Result<()> {
        eprintln!(
            "e2e: boot {n}: the HTTPS mirror's certificate is from a CA the firmware does not \
             hold; the script must give up, with no plain-HTTP fallback"
        );
        // The HTTP server still serves the kernel: a fallback would show.
        server.reset((*ctx.routes).clone());
        let opts = BootOpts {
            tls_ca_certs: Some(self.ca_list.clone()),
            ..BootOpts::default()
        };
        let (result, log, _) = boot(
            ctx.inputs,
            &self.untrusted_stick,
            accel,
            ctx.dir,
            "https-untrusted",
            ctx.timeout,
            Launcher::Direct,
            &opts,
        )?;
        eprintln!(
            "e2e: boot {n} wall time {:.1} s",
            result.elapsed.as_secs_f64()
        );
        let before = checks.failures.len();
        assertions::failure(checks, &result, &log, None, 0);
        let url = format!(
            "https://10.0.2.2:{}/flatcar/{}...",
            self.untrusted.port,
            kernel_file()
        );
        let refused: Vec<&str> = log.lines().filter(|l| l.contains(&url)).collect();
        checks.check(
            format!(
                "each of the {DOWNLOAD_ATTEMPTS} kernel fetches failed with iPXE's \
                 `Permission denied` (the certificate could not be verified)"
            ),
            refused.len() == DOWNLOAD_ATTEMPTS as usize
                && refused.iter().all(|l| l.contains("Permission denied")),
            || format!("{refused:?}"),
        );
        let tls = self.untrusted.requests();
        checks.check(
            "the untrusted mirror answered no request (no handshake completed)",
            tls.is_empty(),
            || format!("{tls:?}"),
        );
        no_plain_downloads(checks, &server.requests(), &self.untrusted);
        if checks.failures.len() > before {
            print_tail(&format!("boot {n}"), &log, &result, accel);
        }
        Ok(())
    }
}

fn kernel_file() -> &'static str {
    KERNEL_TARGET.rsplit('/').next().unwrap_or(KERNEL_TARGET)
}

/// Neither the HTTP server nor the mirror's TLS port saw a plain-HTTP
/// request for Flatcar's files.
fn no_plain_downloads(checks: &mut Checks, plain: &[server::Request], mirror: &Mirror) {
    let flatcar: Vec<_> = plain
        .iter()
        .filter(|r| r.target == KERNEL_TARGET || r.target == INITRD_TARGET)
        .collect();
    checks.check(
        "the HTTP server saw no request for the kernel or initrd (no plain-HTTP fallback)",
        flatcar.is_empty(),
        || format!("{flatcar:?}"),
    );
    checks.check(
        "no plain HTTP reached the mirror's TLS port",
        !mirror.saw_plain_http(),
        || "s_server logged an `http request` error".into(),
    );
}
