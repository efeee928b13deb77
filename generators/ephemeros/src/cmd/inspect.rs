//! `ephemeros inspect`: what a stick or image holds, without changing it.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use ephemeros_stick::inspect::{inspect, Report};
use ephemeros_stick::layout::human_size;

/// `ephemeros inspect`
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ephemeros inspect /dev/sdb\n  ephemeros inspect stick.img --json | jq .manifest\n  \
    ephemeros inspect stick.img --show-secrets\n\nExits with status 1 when the target is not a complete stick."
)]
pub struct Args {
    /// Device (/dev/sdX) or image file to read
    #[arg(value_name = "TARGET")]
    pub target: PathBuf,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,

    /// Include the values of secrets (hidden by default)
    #[arg(long)]
    pub show_secrets: bool,

    /// Show the whole boot script instead of a summary (--json always has it)
    #[arg(long)]
    pub script: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let path = &args.target;
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // Works for image files and block devices alike.
    let len = file
        .seek(SeekFrom::End(0))
        .with_context(|| format!("cannot read the size of {}", path.display()))?;
    let mut report = inspect(file, len, args.show_secrets)
        .with_context(|| format!("{} is not an ephemeros stick", path.display()))?;
    if !args.show_secrets {
        strip_credentials(&mut report);
    }
    let text = if args.json {
        let mut json = escape_json_controls(
            &serde_json::to_string_pretty(&report).context("cannot serialise the report")?,
        );
        json.push('\n');
        json
    } else {
        render(&path.display().to_string(), &report, args.script)
    };
    super::output::write_stdout(text.as_bytes())?;
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Drops userinfo from every URL of the public part of the report. Sticks
/// built before remotes were redacted carry a git token in `ephemeros.json`
/// (`https://TOKEN@github.com/…`); it is shown only with --show-secrets.
fn strip_credentials(report: &mut Report) {
    use ephemeros_node::config_url::remote::{redact, redact_in_text};
    if let Some(m) = &mut report.manifest {
        if let Some(c) = &mut m.config {
            c.repository = redact(&c.repository);
        }
        m.ignition_url = redact_in_text(&m.ignition_url);
        if let Some(u) = &mut m.flatcar.base_url {
            *u = redact_in_text(u);
        }
    }
    if let Some(script) = &mut report.boot_script {
        *script = redact_in_text(script);
    }
}

/// Whether `c` may change what a terminal shows beyond itself: C0 and C1
/// controls and DEL (escape sequences, carriage returns, bells), the line
/// and paragraph separators, and the bidirectional overrides and isolates
/// that reorder text on screen.
fn is_terminal_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// One line of text output: everything read from the stick may be crafted,
/// so terminal controls are shown as `\u{…}` escapes, never sent as is.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_terminal_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// serde_json escapes only U+0000..U+001F; DEL, the C1 controls and the
/// rest of [`is_terminal_control`] get `\uXXXX` escapes too, which is still
/// the same JSON (they can only occur inside strings).
fn escape_json_controls(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if is_terminal_control(c) && !matches!(c, '\n' | ' ') {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn render(name: &str, r: &Report, whole_script: bool) -> String {
    let mut o = String::new();
    let mut line = |s: String| {
        o.push_str(&printable(&s));
        o.push('\n');
    };
    line(format!(
        "{name}: {}, GPT disk {}",
        human_size(r.size),
        r.disk_guid
    ));
    line("Partitions:".into());
    for p in &r.partitions {
        let fs = p
            .filesystem
            .as_ref()
            .map(|f| format!(", {} label `{}`", f.fat_type, f.label))
            .unwrap_or_default();
        line(format!(
            "  {} `{}` {} (sectors {}-{}, {}){fs}",
            p.number,
            p.name,
            p.type_name,
            p.first_lba,
            p.last_lba,
            human_size(p.size)
        ));
    }
    if let Some(m) = &r.manifest {
        line("Manifest (ephemeros.json):".into());
        line(format!(
            "  built {} by {} {}",
            m.built_at, m.tool, m.tool_version
        ));
        match &m.config {
            Some(c) => line(format!(
                "  config {} {} at {}{}",
                c.repository,
                c.git_ref,
                c.commit,
                if c.dirty {
                    " (ignition.ign had uncommitted changes)"
                } else {
                    ""
                }
            )),
            None => line("  config: given as a URL".into()),
        }
        line(format!("  ignition {}", m.ignition_url));
        line(format!(
            "  flatcar {} {} {}{}",
            m.flatcar.channel,
            m.flatcar.release,
            m.flatcar.arch,
            m.flatcar
                .base_url
                .as_ref()
                .map(|u| format!(" from {u}"))
                .unwrap_or_default()
        ));
        line("Components:".into());
        for (name, c) in &m.components {
            let state = if c.enabled { "enabled" } else { "disabled" };
            let detail = c
                .detail
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            line(format!("  {name}: {state}{detail}"));
        }
    }
    line("ESP files:".into());
    for f in &r.esp_files {
        line(format!("  {} ({})", f.path, human_size(f.size)));
    }
    line(format!(
        "Secrets{}:",
        if r.secrets_shown {
            ""
        } else {
            " (values hidden; --show-secrets shows them)"
        }
    ));
    for s in &r.secrets {
        let keys = s
            .keys
            .as_ref()
            .map(|k| format!(": {}", k.join(", ")))
            .or_else(|| s.key_count.map(|n| format!(": {n} key(s)")))
            .unwrap_or_default();
        line(format!("  {} ({}){keys}", s.name, human_size(s.size)));
        if let Some(values) = &s.values {
            for (k, v) in values {
                line(format!("    {k}={v:?}"));
            }
        }
        if let Some(content) = &s.content {
            for l in content.lines() {
                line(format!("    | {l}"));
            }
        }
    }
    if let Some(script) = &r.boot_script {
        if whole_script {
            line("Boot script (autoexec.ipxe):".into());
            for l in script.lines() {
                line(format!("  | {l}"));
            }
        } else {
            line(format!(
                "Boot script (autoexec.ipxe, {} lines; --script shows it):",
                script.lines().count()
            ));
            for l in script_summary(script) {
                line(format!("  {l}"));
            }
        }
    }
    if !r.problems.is_empty() {
        line("Problems:".into());
        for p in &r.problems {
            line(format!("  {p}"));
        }
    }
    o
}

/// What a boot script does, read off its text: the kernel and initrd it
/// fetches with the kernel's arguments, how often it tries DHCP and the
/// download, and what it does when it gives up. Lines it does not know (a
/// user's template) are left to `--script`.
fn script_summary(script: &str) -> Vec<String> {
    let words = |l: &str| -> Vec<String> { l.split_whitespace().map(str::to_owned).collect() };
    // `kernel --timeout 60000 URL ARGS… || goto …`: the URL, then the arguments.
    let fetched = |cmd: &str| {
        script.lines().map(str::trim).find_map(|l| {
            let rest = l.strip_prefix(cmd)?.strip_prefix(' ')?;
            let rest = rest.split(" || ").next().unwrap_or(rest);
            let mut w = words(rest);
            while w.first().is_some_and(|x| x.starts_with("--")) {
                w.remove(0);
                if !w.is_empty() {
                    w.remove(0);
                }
            }
            (!w.is_empty()).then(|| {
                (
                    w[0].clone(),
                    rest[rest.find(&w[0]).unwrap_or(0) + w[0].len()..]
                        .trim()
                        .to_owned(),
                )
            })
        })
    };
    let attempts = |what: &str| {
        script.lines().find_map(|l| {
            let at = l.find(what)?;
            l[at + what.len()..]
                .trim()
                .strip_prefix("1 of ")?
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
    };
    let mut out = Vec::new();
    match fetched("kernel") {
        Some((url, args)) => {
            out.push(format!("kernel  {url}"));
            out.push(format!("args    {args}"));
        }
        None => out.push("no `kernel` command: a custom script".into()),
    }
    if let Some((url, _)) = fetched("initrd") {
        out.push(format!("initrd  {url}"));
    }
    let dhcp = attempts("DHCP, attempt");
    let download = attempts("downloading Flatcar, attempt");
    if dhcp.is_some() || download.is_some() {
        out.push(format!(
            "tries   DHCP {}, download {}",
            dhcp.as_deref().unwrap_or("?"),
            download.as_deref().unwrap_or("?")
        ));
    }
    // `echo ephemeros: reboot in 30 s` before the final action.
    let gives_up = script.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("echo ephemeros: ")?;
        let (action, after) = rest.split_once(" in ")?;
        (["reboot", "poweroff"].contains(&action) && after.ends_with(" s"))
            .then(|| action.to_owned())
    });
    if let Some(action) = gives_up {
        out.push(format!("then    {action}, when every attempt has failed"));
    }
    out
}

#[cfg(test)]
mod summary_tests {
    use super::script_summary;

    #[test]
    fn the_builtin_script_is_summarised() {
        let settings = ephemeros_ipxe::BootSettings {
            ignition_url: "https://example.org/i.ign".into(),
            dhcp_attempts: 4,
            download_attempts: 3,
            ..Default::default()
        };
        let script = ephemeros_ipxe::render(&settings).unwrap();
        let s = script_summary(&script);
        assert_eq!(s.len(), 5, "{s:#?}");
        assert!(s[0].starts_with("kernel  https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_pxe.vmlinuz"), "{s:#?}");
        assert!(s[1].starts_with("args    initrd=flatcar_production_pxe_image.cpio.gz flatcar.first_boot=1 ignition.config.url=https://example.org/i.ign"), "{s:#?}");
        assert!(
            s[2].ends_with("flatcar_production_pxe_image.cpio.gz"),
            "{s:#?}"
        );
        assert_eq!(s[3], "tries   DHCP 4, download 3");
        assert_eq!(
            s[4],
            format!(
                "then    {}, when every attempt has failed",
                settings.on_failure
            )
        );
    }

    #[test]
    fn a_custom_script_says_so() {
        assert_eq!(
            script_summary("#!ipxe\nchain http://x/\n"),
            ["no `kernel` command: a custom script"]
        );
    }
}
