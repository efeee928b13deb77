//! Real-tool checks for `ephemeros ignite`:
//! - every golden `.bu` under generators/butane/tests/fixtures/ok is
//!   translated by the real binary and, when it targets Ignition 3.3.0,
//!   checked with Debian's `ignition-validate` (Ignition 2.14 knows specs up
//!   to 3.3.0; 3.4.0 outputs are covered by the golden tests only);
//! - the translator fuzz target runs in release mode for a bounded time
//!   (EPHEMEROS_FUZZ_SECONDS, default 60) and must not find a panic.

use anyhow::{bail, Context, Result};
use camino::Utf8PathBuf;
use xshell::{cmd, Shell};

const VALIDATOR: &str = "/usr/bin/ignition-validate";

pub fn run(sh: &Shell) -> Result<()> {
    validate_golden_outputs(sh)?;
    fuzz(sh)
}

fn validate_golden_outputs(sh: &Shell) -> Result<()> {
    if !std::path::Path::new(VALIDATOR).exists() {
        bail!("{VALIDATOR} not found: install Debian's `ignition` package");
    }
    let bin = crate::ephemeros_bin(sh, crate::Profile::Debug)?;
    let root = crate::workspace_root();
    let fixtures = root.join("generators/butane/tests/fixtures");
    let out_dir = root.join("target/xtask/butane");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {out_dir}"))?;
    let mut inputs: Vec<Utf8PathBuf> = std::fs::read_dir(fixtures.join("ok"))
        .with_context(|| format!("reading {fixtures}/ok"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| Utf8PathBuf::from_path_buf(e.path()).ok())
        .filter(|p| p.extension() == Some("bu"))
        .collect();
    inputs.sort();
    if inputs.is_empty() {
        bail!("no golden inputs under {fixtures}/ok");
    }
    let files_dir = fixtures.join("files");
    let mut validated = 0;
    for input in &inputs {
        let out = out_dir.join(format!("{}.ign", input.file_stem().unwrap_or("config")));
        cmd!(sh, "{bin} ignite {input} -d {files_dir} -o {out}").run()?;
        let json = std::fs::read_to_string(&out).with_context(|| format!("reading {out}"))?;
        if json.contains(r#""version":"3.3.0""#) {
            cmd!(sh, "{VALIDATOR} {out}")
                .run()
                .with_context(|| format!("ignition-validate rejected {out} (from {input})"))?;
            validated += 1;
        }
    }
    if validated == 0 {
        bail!("no golden input targets Ignition 3.3.0; nothing was validated");
    }
    eprintln!("ignition-validate accepted {validated} generated configs");
    Ok(())
}

fn fuzz(sh: &Shell) -> Result<()> {
    let seconds = std::env::var("EPHEMEROS_FUZZ_SECONDS").unwrap_or_else(|_| "60".into());
    cmd!(
        sh,
        "cargo test -p ephemeros-butane --release --locked --test fuzz -- --ignored --nocapture"
    )
    .env("EPHEMEROS_FUZZ_SECONDS", seconds)
    .run()?;
    Ok(())
}
