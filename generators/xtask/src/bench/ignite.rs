//! `cargo xtask bench --only ignite`: whole-process translation time of
//! `ephemeros ignite` (release build), as a user or CI would run it.
//!
//! - the realistic node config: the repo's `ignition.yml` when present,
//!   else the golden fixture `ok/node.bu`; median of many runs;
//! - generated configs of 250 to 2,000 files, to show that cost grows
//!   linearly with size (time per file should stay roughly flat).
//!
//! Figures are printed, never asserted (targets: <= 5 ms median for the
//! node config on the CI machines).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use xshell::Shell;

const RUNS: usize = 41;

pub fn run(sh: &Shell) -> Result<()> {
    let bin = crate::ephemeros_bin(sh, crate::Profile::Release)?;
    let root = crate::workspace_root();
    let work = root.join("target/xtask/bench/ignite");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {work}"))?;

    let repo_config = root.join("ignition.yml");
    let (config, files_dir) = if repo_config.exists() {
        (repo_config, root.clone())
    } else {
        let fixtures = root.join("generators/butane/tests/fixtures");
        (fixtures.join("ok/node.bu"), fixtures.join("files"))
    };
    let t = median(&bin, &config, &files_dir)?;
    println!(
        "ignite {}: median {:.2} ms over {RUNS} runs ({} bytes)",
        config.strip_prefix(&root).unwrap_or(&config),
        ms(t),
        std::fs::metadata(&config).map(|m| m.len()).unwrap_or(0)
    );

    // A process that does nothing but start, for scale.
    let baseline = median_args(&bin, &["--version"])?;
    println!(
        "process start baseline (ephemeros --version): median {:.2} ms",
        ms(baseline)
    );

    println!("generated configs (files -> median, per file above baseline):");
    for n in [250, 500, 1000, 2000] {
        let path = work.join(format!("files-{n}.bu"));
        std::fs::write(&path, generated(n)).with_context(|| format!("writing {path}"))?;
        let t = median(&bin, &path, &work)?;
        let per_file = (ms(t) - ms(baseline)).max(0.0) * 1000.0 / n as f64;
        println!("  {n:>5} files: {:>8.2} ms  ({per_file:.1} us/file)", ms(t));
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A config of `n` files with realistic text contents (some compressible
/// enough to be gzipped), modes and owners, plus a unit per 100 files.
fn generated(n: usize) -> String {
    let mut s = String::from("variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n");
    for i in 0..n {
        s.push_str(&format!(
            "    - path: /etc/generated/dir{}/file{i}.conf\n      mode: 0644\n      user: {{name: core}}\n      contents:\n        inline: |\n          # generated file {i}\n          key{i} = value {i}\n          setting = {}\n",
            i / 100,
            "x".repeat(i % 200)
        ));
    }
    s.push_str("systemd:\n  units:\n");
    for i in 0..n.div_ceil(100) {
        s.push_str(&format!(
            "    - name: gen{i}.service\n      enabled: true\n      contents: |\n        [Service]\n        ExecStart=/bin/true {i}\n        [Install]\n        WantedBy=multi-user.target\n"
        ));
    }
    s
}

fn median(bin: &Utf8Path, config: &Utf8Path, files_dir: &Utf8Path) -> Result<Duration> {
    median_args(bin, &["ignite", config.as_str(), "-d", files_dir.as_str()])
}

fn median_args(bin: &Utf8Path, args: &[&str]) -> Result<Duration> {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let status = Command::new(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("running {bin}"))?;
        let t = start.elapsed();
        if !status.success() {
            bail!("{bin} {} failed ({status})", args.join(" "));
        }
        times.push(t);
    }
    times.sort();
    Ok(times[RUNS / 2])
}
