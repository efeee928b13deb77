//! `cargo xtask standin serve`: the e2e test's stand-in node for people.
//! Builds the stand-in (Debian userland, real Ignition, the Flatcar
//! contract; cached like the e2e's) and serves it with the working tree's
//! ignition.ign (k3s-fetch pointed at a mirror serving the stand-in k3s) on
//! 127.0.0.1 until interrupted. A stick built with the printed flags boots
//! it under `ephemeros qemu`, where `ssh -p 2222 core@127.0.0.1` logs in.

use std::time::Duration;

use anyhow::{Context, Result};
use camino::Utf8PathBuf;
use xshell::Shell;

use crate::e2e::{node, server};
use crate::workspace_root;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Serve the stand-in node on 127.0.0.1 until interrupted
    Serve(ServeArgs),
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (the VM reaches it as 10.0.2.2)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// PEM certificate the stand-in trusts besides Debian's CAs (e.g. of
    /// your own log listener); may be repeated
    #[arg(long, value_name = "FILE")]
    pub extra_ca: Vec<Utf8PathBuf>,
}

const CONFIG_TARGET: &str = "/config/ignition.ign";

pub fn run(sh: &Shell, command: Command) -> Result<()> {
    let Command::Serve(args) = command;
    let listener = std::net::TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let mut cas = Vec::new();
    for f in &args.extra_ca {
        let pem = std::fs::read(f).with_context(|| format!("reading {f}"))?;
        anyhow::ensure!(
            pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----"),
            "{f}: not a PEM certificate"
        );
        cas.push(pem);
    }
    let dir = workspace_root().join("target/xtask/standin");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    let base = format!("http://10.0.2.2:{}/", args.port);
    let prepared = node::prepare(sh, &dir, &base, &cas)?;
    let server = server::Server::start(listener, node::routes(&prepared, CONFIG_TARGET))?;
    eprintln!(
        "standin: serving the stand-in node on 127.0.0.1:{} (initrd {:.1} MiB; ignition.ign from the working tree, k3s from the mirror at {}{})",
        args.port,
        prepared.initrd.len() as f64 / (1 << 20) as f64,
        base.trim_end_matches('/'),
        prepared.mirror.target,
    );
    eprintln!("standin: build a stick pointing at it with these flags, then `ephemeros qemu STICK` and `ssh -p 2222 core@127.0.0.1`:");
    println!(
        "--base-url {base}flatcar/ --ignition-url {base}{}",
        CONFIG_TARGET.trim_start_matches('/')
    );
    eprintln!("standin: Ctrl-C stops it");
    let mut shown = 0;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let reqs = server.requests();
        for r in &reqs[shown..] {
            eprintln!("standin: {} {} -> {}", r.method, r.target, r.status);
        }
        shown = reqs.len();
    }
}
