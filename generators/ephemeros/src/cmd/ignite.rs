//! `ephemeros ignite`: Butane (variant flatcar) to Ignition JSON, with the
//! flags butane has.
//!
//! Diagnostics go to stderr. By default each one is printed rustc-style
//! (file:line:col, the source line, the span underlined; coloured when
//! stderr is a terminal and NO_COLOR is unset). `--message-format short`
//! prints one line per diagnostic instead:
//! `FILE:LINE:COL: error|warning: MESSAGE [at $.path]`, for scripts.
//! butane's `--raw-errors` prints butane's own raw lines
//! (`error at $.path, line L col C: MESSAGE`), for scripts written for it.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ephemeros_butane::{render, Format, Options};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum MessageFormat {
    /// Source line with the problem underlined
    Human,
    /// One line per diagnostic: FILE:LINE:COL: SEVERITY: MESSAGE
    Short,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
#[command(
    after_help = "Reads FILE (or standard input when FILE is absent or \"-\") and writes \
Ignition JSON to standard output or --output. Exit status 1 when the config is invalid, or \
when it produced warnings and --strict is given.

Examples:
  # Regenerate the committed node config:
  ephemeros ignite ignition.yml -p -o ignition.ign

  # Check only, failing on warnings too (e.g. in a pre-commit hook):
  ephemeros ignite --check --strict ignition.yml

  # Files referenced with `local:` are read below --files-dir:
  ephemeros ignite -d files/ config.bu > config.ign"
)]
pub struct Args {
    /// Butane config (variant flatcar, version 1.0.0 or 1.1.0)
    pub file: Option<PathBuf>,
    /// Write the Ignition config here instead of standard output
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Indent the JSON output
    #[arg(short, long)]
    pub pretty: bool,
    /// Fail on any warning
    #[arg(short, long)]
    pub strict: bool,
    /// Directory that `local` contents and trees are read from
    #[arg(short = 'd', long, value_name = "DIR")]
    pub files_dir: Option<PathBuf>,
    /// Check the config without writing output
    #[arg(short, long)]
    pub check: bool,
    /// How to print errors and warnings
    #[arg(long, value_enum, default_value = "human")]
    pub message_format: MessageFormat,
    /// Butane's raw one-line format: "error at $.path, line L col C: MESSAGE"
    #[arg(long)]
    pub raw_errors: bool,
    /// Colour diagnostics
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (name, source) = match args.file.as_deref() {
        None => read_stdin()?,
        Some(p) if p == Path::new("-") => read_stdin()?,
        Some(p) => (
            p.display().to_string(),
            std::fs::read(p).with_context(|| format!("failed to read {}", p.display()))?,
        ),
    };
    let options = Options {
        files_dir: args.files_dir.clone(),
        pretty: args.pretty,
    };
    let format = if args.raw_errors {
        Format::Raw
    } else if matches!(args.message_format, MessageFormat::Short) {
        Format::Short
    } else {
        let color = match args.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Format::Human { color }
    };
    let text = ephemeros_butane::source_text(&source);
    let result = ephemeros_butane::translate(&source, &options);
    let report = match &result {
        Ok(t) => &t.report,
        Err(e) => e.report(),
    };
    eprint!("{}", render(report, &name, &text, format));
    let translated = match result {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: translating {name} failed: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if args.strict && !translated.report.entries.is_empty() {
        eprintln!("error: {name} produced warnings and --strict was specified");
        return Ok(ExitCode::FAILURE);
    }
    if args.check {
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = translated.json;
    out.push('\n');
    match &args.output {
        None => super::output::write_stdout(out.as_bytes())?,
        Some(path) => super::output::write_atomically(path, out.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn read_stdin() -> anyhow::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .context("failed to read standard input")?;
    Ok(("<stdin>".to_string(), buf))
}
