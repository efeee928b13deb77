//! A structural check of a rendered iPXE script, reading it the way iPXE
//! does (see [`mod@crate::kernel_args`] for the rules): lines with `\`
//! continuations, `:label` lines, whitespace-separated words, `#` comments,
//! commands chained with `||`, `&&` and `;`.
//!
//! It catches what would leave a headless node hanging or booting wrongly:
//! a `goto` without its label, an interactive command, a command whose
//! failure would end the script, a script that can run off its end, and a
//! `kernel` line whose arguments differ from the expected ones.

use std::collections::HashMap;
use std::fmt;

use crate::{kernel_args, kernel_command_line, BootSettings, Error};

/// One finding, at a 1-based line of the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Commands that wait for a person.
const INTERACTIVE: &[&str] = &["shell", "login", "config", "menu", "item"];
/// Commands that wait for a person unless given `--timeout`.
const INTERACTIVE_WITHOUT_TIMEOUT: &[&str] = &["prompt", "choose"];
/// Commands whose failure is harmless or impossible once the script is
/// well formed, so they need no `||`.
const CANNOT_FAIL: &[&str] = &["echo", "goto", "exit", "set", "clear"];
/// Commands after which the script does not go on to the next line.
const ENDS_FLOW: &[&str] = &["goto", "exit", "reboot", "poweroff"];
/// Commands taking an image URI followed by its command line.
const IMAGE_WITH_CMDLINE: &[&str] = &["kernel", "imgselect", "chain", "boot", "imgexec"];

/// A command of a script line: its words, and whether a later `||` on the
/// same line catches its failure.
#[derive(Debug)]
struct Command<'a> {
    words: Vec<&'a str>,
    guarded: bool,
}

#[derive(Debug)]
struct Line<'a> {
    number: usize,
    label: Option<&'a str>,
    commands: Vec<Command<'a>>,
}

fn parse(script: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    // A `\` continuation is reported by check_structure rather than joined:
    // generated scripts never need one.
    for (index, raw) in script.split('\n').enumerate() {
        let text = raw.strip_suffix('\r').unwrap_or(raw);
        let mut rest = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let mut label = None;
        if let Some(after) = rest.strip_prefix(':') {
            let end = after
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(after.len());
            label = Some(&after[..end]);
            rest = &after[end..];
        }
        let mut commands = Vec::new();
        let mut current = Vec::new();
        let mut terminators = Vec::new();
        for word in rest
            .split(|c: char| c.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
        {
            if word.starts_with('#') {
                break;
            }
            if matches!(word, "||" | "&&" | ";") {
                commands.push(std::mem::take(&mut current));
                terminators.push(word);
            } else {
                current.push(word);
            }
        }
        commands.push(current);
        let commands = commands
            .into_iter()
            .enumerate()
            .map(|(i, words)| Command {
                words,
                guarded: terminators[i..].contains(&"||"),
            })
            .filter(|c| !c.words.is_empty())
            .collect();
        lines.push(Line {
            number: index + 1,
            label,
            commands,
        });
    }
    lines
}

/// Checks the structure of any script (built-in or user template output).
pub fn check_structure(script: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |line: usize, message: String| problems.push(Problem { line, message });

    if script.split('\n').next().map(|l| l.trim_end_matches('\r')) != Some("#!ipxe") {
        problem(1, "the script must start with the line `#!ipxe`".into());
    }
    for (i, raw) in script.split('\n').enumerate() {
        if raw.trim_end_matches('\r').ends_with('\\') {
            problem(
                i + 1,
                "line ends in `\\`, which iPXE joins with the next line".into(),
            );
        }
    }

    let lines = parse(script);
    let mut labels: HashMap<&str, usize> = HashMap::new();
    for line in &lines {
        if let Some(label) = line.label {
            if label.is_empty() {
                problem(line.number, "empty label".into());
            } else if let Some(first) = labels.insert(label, line.number) {
                problem(
                    line.number,
                    format!(
                        "label `{label}` is also defined on line {first}; goto jumps to the first"
                    ),
                );
            }
        }
    }

    let mut saw_boot = false;
    for line in &lines {
        for cmd in &line.commands {
            let name = cmd.words[0];
            let args = &cmd.words[1..];
            if name == "goto" {
                match args.first() {
                    None => problem(line.number, "goto without a label".into()),
                    Some(target) if target.contains("${") => problem(
                        line.number,
                        format!("goto {target}: a computed label cannot be checked"),
                    ),
                    Some(target) if !labels.contains_key(target) => problem(
                        line.number,
                        format!("goto {target}: there is no label `:{target}`"),
                    ),
                    Some(_) => {}
                }
            }
            if INTERACTIVE.contains(&name) {
                problem(
                    line.number,
                    format!("`{name}` waits for a person; a headless node would hang"),
                );
            }
            if INTERACTIVE_WITHOUT_TIMEOUT.contains(&name)
                && !args
                    .iter()
                    .any(|a| a.starts_with("--timeout") || *a == "-t")
            {
                problem(
                    line.number,
                    format!("`{name}` without --timeout waits for a person forever"),
                );
            }
            if !cmd.guarded && !CANNOT_FAIL.contains(&name) && !ENDS_FLOW.contains(&name) {
                problem(
                    line.number,
                    format!("`{name}` has no `|| …`: if it fails, iPXE stops the script"),
                );
            }
            if name == "boot" || name == "chain" {
                saw_boot = true;
            }
        }
    }
    if !saw_boot {
        problem(
            lines.len(),
            "the script never boots anything (`boot` or `chain`)".into(),
        );
    }

    // The last command of the last line with commands must not fall off the end.
    match lines.iter().rev().find(|l| !l.commands.is_empty()) {
        Some(last) => {
            let cmd = last.commands.last().map(|c| c.words[0]).unwrap_or_default();
            if !ENDS_FLOW.contains(&cmd) {
                problem(
                    last.number,
                    format!("the script can run past its end after `{cmd}`; end it with reboot, poweroff, exit or goto"),
                );
            }
        }
        None => problem(1, "the script has no commands".into()),
    }
    problems
}

/// The command line of every `kernel`-like command: the words after the
/// image URI (options come before it), joined the way iPXE joins them.
pub fn kernel_command_lines(script: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for line in parse(script) {
        for cmd in &line.commands {
            if !IMAGE_WITH_CMDLINE.contains(&cmd.words[0]) {
                continue;
            }
            let mut rest = cmd.words[1..].iter();
            // Skip options; the ones taking a value take the next word.
            let uri = loop {
                match rest.next() {
                    Some(&opt)
                        if opt == "--timeout" || opt == "--name" || opt == "-t" || opt == "-n" =>
                    {
                        rest.next();
                    }
                    Some(opt) if opt.starts_with('-') => {}
                    other => break other,
                }
            };
            if uri.is_some() {
                let cmdline: Vec<&str> = rest.copied().collect();
                if cmd.words[0] == "kernel" || !cmdline.is_empty() {
                    found.push((line.number, cmdline.join(" ")));
                }
            }
        }
    }
    found
}

/// The image name of every `initrd` command: `--name` if given, else the
/// last path segment of its URI (as iPXE names a downloaded image).
pub fn initrd_names(script: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for line in parse(script) {
        for cmd in &line.commands {
            if !matches!(cmd.words[0], "initrd" | "imgfetch" | "module") {
                continue;
            }
            let mut name = None;
            let mut rest = cmd.words[1..].iter();
            while let Some(&word) = rest.next() {
                match word {
                    "--name" | "-n" => name = rest.next().map(|n| n.to_string()),
                    "--timeout" | "-t" => {
                        rest.next();
                    }
                    w if w.starts_with("--name=") => name = Some(w["--name=".len()..].to_string()),
                    w if w.starts_with('-') => {}
                    uri => {
                        let path = uri.split(['?', '#']).next().unwrap_or(uri);
                        let base = path.rsplit('/').next().unwrap_or(path).to_string();
                        found.push((line.number, name.take().unwrap_or(base)));
                        break;
                    }
                }
            }
        }
    }
    found
}

/// Structure plus: every `kernel` line carries exactly the expected
/// arguments, there is at least one, and the `initrd=` argument names an
/// image the script downloads (UEFI kernels load their initrd by that name).
pub fn check_rendered(script: &str, settings: &BootSettings) -> Result<Vec<Problem>, Error> {
    let expected = kernel_command_line(settings)?;
    let mut problems = check_structure(script);
    let kernels = kernel_command_lines(script);
    if kernels.is_empty() {
        problems.push(Problem {
            line: 1,
            message: "no `kernel` command".into(),
        });
    }
    let initrds = initrd_names(script);
    for wanted in kernel_args(settings)?
        .iter()
        .filter_map(|a| a.strip_prefix("initrd="))
    {
        if !initrds.iter().any(|(_, name)| name == wanted) {
            problems.push(Problem {
                line: initrds.first().map_or(1, |(line, _)| *line),
                message: format!("the kernel expects initrd={wanted}, but no `initrd` command downloads an image of that name"),
            });
        }
    }
    for (line, cmdline) in kernels {
        if cmdline != expected {
            problems.push(Problem {
                line,
                message: format!(
                    "kernel arguments {cmdline:?} differ from the expected {expected:?}"
                ),
            });
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests;
