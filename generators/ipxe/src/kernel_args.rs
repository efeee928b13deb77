//! The kernel command line, and the rules that get it to the kernel intact.
//!
//! # How an argument travels from our script to the kernel (UEFI)
//!
//! Read from the iPXE sources (src/image/script.c, src/core/exec.c,
//! src/core/settings.c, src/hci/commands/image_cmd.c, src/image/efi_image.c)
//! and Linux (lib/cmdline.c, the EFI stub):
//!
//! 1. iPXE reads the script line by line. A line ending in `\` is joined
//!    with the next one; a trailing CR is dropped.
//! 2. It splits a line into tokens at ASCII whitespace (space, `\t`, `\n`,
//!    `\v`, `\f`, `\r`). There is **no quoting and no escape character**:
//!    `"` and `\` are ordinary characters, and a run of whitespace is one
//!    separator.
//! 3. A token *beginning* with `#` starts a comment: the rest of the line is
//!    dropped. A token that *is* `||`, `&&` or `;` ends the command there.
//! 4. Each remaining token is expanded on its own: `${name}` is replaced by
//!    the setting's value (empty if unknown), again and again until the token
//!    has no `${` followed later by `}`. There is no way to escape this.
//! 5. `kernel URI ARG…` parses options only before the URI, then joins the
//!    ARGs with single spaces into the image's command line.
//! 6. On UEFI, iPXE starts the kernel with LoadOptions
//!    `"<image name> <command line>"`, widening each byte to UCS-2; the Linux
//!    EFI stub turns that back into UTF-8 and keeps it as `/proc/cmdline`.
//!    Only ASCII survives this unchanged (a UTF-8 byte becomes a Latin-1
//!    character and is re-encoded).
//! 7. Linux splits the command line at spaces *outside* double quotes; a `"`
//!    anywhere in a word toggles quoting; for `name="value with spaces"` it
//!    hands `value with spaces` to the parameter. The whole line is limited
//!    to `COMMAND_LINE_SIZE` (2048 bytes including the NUL on x86 and arm64).
//!    Ignition reads `ignition.config.url=` from `/proc/cmdline` by splitting
//!    at spaces and does not strip quotes, so the URL must not be quoted.
//!
//! # Rules that follow (checked here, with an error naming the setting)
//!
//! - Only printable ASCII, no control characters: a newline would end the
//!   script line, a tab turns into a space, non-ASCII is mangled (6).
//! - No space in a value except inside double quotes, and no two spaces in a
//!   row (iPXE collapses them, 2). `"` must come in pairs (7). The SSH key is
//!   the one value we quote ourselves (`sshkey="…"`), so it may hold no `"`;
//!   runs of whitespace in it are normalised to one space, which does not
//!   change what the key means.
//! - No space-separated word of an argument may begin with `#`, or be `||`,
//!   `&&` or `;` (3).
//! - No word may hold `${` with a `}` after it (4). A `${` without a later
//!   `}` stays literal in iPXE and is allowed.
//! - A trailing `\` would join lines (1): the `kernel` command is always
//!   followed by `|| goto …`, but the script echoes the Ignition URL at the
//!   end of a line, so that URL may not end in `\`.
//! - No credentials in the Ignition URL (`user:password@`): the script sits
//!   on the stick's EFI partition and `/proc/cmdline` is world-readable.
//! - On x86, Flatcar's kernel puts its built-in command line in front
//!   ([`FLATCAR_BUILTIN_CMDLINE`]), so what iPXE passes must stay within
//!   [`MAX_PASSED_CMDLINE`] bytes.
//!
//! Given these rules the kernel sees exactly [`kernel_command_line`], after
//! the image name, as [`expected_proc_cmdline`] spells out.

use crate::flatcar::{INITRD_FILE, KERNEL_FILE};
use crate::{BootSettings, Error};

/// `COMMAND_LINE_SIZE` on x86 and arm64, including the terminating NUL.
pub const COMMAND_LINE_SIZE: usize = 2048;

/// Flatcar's built-in kernel command line (`CONFIG_CMDLINE` in
/// flatcar/scripts, sdk_container/src/third_party/coreos-overlay/
/// sys-kernel/coreos-modules/files/commonconfig-6.12, with
/// `CONFIG_CMDLINE_BOOL=y` in amd64_defconfig-6.12). On x86, Linux
/// (arch/x86/kernel/setup.c) puts it and a space in front of what the boot
/// loader passes, all cut at `COMMAND_LINE_SIZE - 1` bytes without a
/// warning: those 31 bytes count against the limit. arm64 uses it only
/// when the boot loader passes nothing, but the bound is kept the same for
/// both, so a script never depends on the architecture to fit.
pub const FLATCAR_BUILTIN_CMDLINE: &str = "rootflags=rw mount.usrflags=ro";

/// The longest command line iPXE may pass (image name included): what is
/// left of `COMMAND_LINE_SIZE` after the NUL and the built-in prefix.
pub const MAX_PASSED_CMDLINE: usize = COMMAND_LINE_SIZE - 1 - FLATCAR_BUILTIN_CMDLINE.len() - 1;

/// The kernel arguments, in order, each exactly as it appears on the iPXE
/// `kernel` line and (joined by single spaces) on the kernel command line.
pub fn kernel_args(settings: &BootSettings) -> Result<Vec<String>, Error> {
    let mut args = vec![format!("initrd={INITRD_FILE}")];
    if settings.first_boot {
        args.push("flatcar.first_boot=1".to_string());
    }
    args.push(ignition_url_arg(&settings.ignition_url)?);
    if let Some(hostname) = &settings.hostname {
        args.push(format!("systemd.hostname={hostname}"));
    }
    if let Some(key) = &settings.ssh_key {
        args.push(ssh_key_arg(key)?);
    }
    for console in &settings.console {
        args.push(console_arg(console)?);
    }
    for extra in &settings.extra_kernel_args {
        validate_extra_arg(extra)?;
        args.push(extra.clone());
    }
    let proc_cmdline = format!("{KERNEL_FILE} {}", args.join(" "));
    if proc_cmdline.len() > MAX_PASSED_CMDLINE {
        let start: String = proc_cmdline.chars().take(60).collect();
        return Err(Error::invalid(
            "kernel command line",
            &format!("{start}…"),
            format!(
                "is {} bytes long (with the image name iPXE puts first); Linux keeps at most {} bytes, \
                 of which Flatcar's built-in `{FLATCAR_BUILTIN_CMDLINE} ` takes {}, leaving {MAX_PASSED_CMDLINE}",
                proc_cmdline.len(),
                COMMAND_LINE_SIZE - 1,
                FLATCAR_BUILTIN_CMDLINE.len() + 1,
            ),
        ));
    }
    Ok(args)
}

/// The command line iPXE hands to the kernel: [`kernel_args`] joined by
/// single spaces.
pub fn kernel_command_line(settings: &BootSettings) -> Result<String, Error> {
    Ok(kernel_args(settings)?.join(" "))
}

/// What `/proc/cmdline` should hold on the booted node (UEFI): iPXE puts the
/// image name (the last path segment of the kernel URL) in front of the
/// command line, and the Linux EFI stub passes the whole LoadOptions string
/// on. This is what the end-to-end test compares against; it was observed
/// byte for byte with Debian trixie's iPXE (1.21.1+git20250501) under OVMF
/// booting a Debian 6.1 kernel. A kernel with a built-in command line puts
/// that in front: Flatcar's own kernel shows
/// `rootflags=rw mount.usrflags=ro flatcar_production_pxe.vmlinuz …`.
pub fn expected_proc_cmdline(settings: &BootSettings) -> Result<String, Error> {
    Ok(format!("{KERNEL_FILE} {}", kernel_command_line(settings)?))
}

const IGNITION_URL: &str = "Ignition config URL";
const SSH_KEY: &str = "SSH public key";
const CONSOLE: &str = "console argument";
const EXTRA: &str = "extra kernel argument";

/// The schemes Ignition fetches a config from (Ignition's config spec 3.x,
/// `ignition.config.source`, plus `arn:` S3 access points since Ignition
/// 2.14; the kernel-command-line URL goes through the same fetcher). Anything else fails on the node, long after the stick
/// was written.
pub const IGNITION_SCHEMES: [&str; 7] = ["http", "https", "tftp", "s3", "gs", "arn", "data"];

/// Kernel arguments the script writes itself, each with the setting that
/// controls it: given again as an extra argument, it would appear twice
/// and the node would see one of them, silently.
/// Flatcar's Ignition takes the config URL from `ignition.config.url`,
/// `flatcar.config.url` or `coreos.config.url`, and the last of them on the
/// command line wins (flatcar/ignition internal/providers/cmdline/cmdline.go,
/// `parseCmdline`): an extra one would silently replace ours.
const MANAGED_ARGS: [(&str, &str); 9] = [
    ("initrd", "the boot script sets it to the Flatcar initrd"),
    (
        "flatcar.first_boot",
        "the boot script sets it on every boot",
    ),
    (
        "coreos.first_boot",
        "the boot script sets flatcar.first_boot",
    ),
    ("ignition.config.url", "use --ignition-url (or IGN_PATH)"),
    ("flatcar.config.url", "use --ignition-url (or IGN_PATH)"),
    ("coreos.config.url", "use --ignition-url (or IGN_PATH)"),
    ("systemd.hostname", "use --hostname"),
    ("sshkey", "use --ssh-key"),
    ("console", "use --console"),
];

fn ignition_url_arg(url: &str) -> Result<String, Error> {
    if url.is_empty() {
        return Err(Error::invalid(IGNITION_URL, url, "is empty"));
    }
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(Error::invalid(
            IGNITION_URL,
            url,
            "is not a URL (expected e.g. https://…; set with --ignition-url or IGN_PATH)",
        ));
    }
    if !IGNITION_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(Error::invalid(
            IGNITION_URL,
            url,
            format!(
                "uses scheme {scheme}, which Ignition cannot fetch; it fetches {} URLs \
                 (set with --ignition-url or IGN_PATH)",
                IGNITION_SCHEMES.join(", ")
            ),
        ));
    }
    if has_userinfo(url) {
        return Err(Error::invalid(
            IGNITION_URL,
            url,
            "carries credentials (user:password@ or a token before @); the URL is written to the \
             stick's EFI partition and every local process on the node reads it in /proc/cmdline, \
             so serve the config without them (it holds no secret: those stay on the secrets partition)",
        ));
    }
    check_unquoted_value(IGNITION_URL, url, "percent-encode it as %20")?;
    check_ipxe_words(IGNITION_URL, url, url)?;
    // The script echoes the URL at the end of a line; iPXE would join a
    // line ending in `\` with the next one.
    if url.ends_with('\\') {
        return Err(Error::invalid(
            IGNITION_URL,
            url,
            "ends in `\\`, which iPXE reads as joining the script line with the next; percent-encode it as %5C",
        ));
    }
    Ok(format!("ignition.config.url={url}"))
}

/// Whether `url` has an authority with userinfo (`scheme://…@host`). An
/// `@` further on (in a path or query) is not userinfo.
pub fn has_userinfo(url: &str) -> bool {
    url.split_once("://").is_some_and(|(_, rest)| {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        rest[..authority_end].contains('@')
    })
}

/// `sshkey="<key>"`: the key is quoted so that Linux keeps its spaces.
fn ssh_key_arg(key: &str) -> Result<String, Error> {
    // A key file normally ends in a newline; anything else is an error.
    let key = key.trim_matches(|c: char| c.is_ascii_whitespace());
    if key.contains(['\n', '\r']) {
        return Err(Error::invalid(
            SSH_KEY,
            key,
            "holds more than one line; sshkey= carries exactly one key",
        ));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_graphic() || *c == ' ' || *c == '\t'))
    {
        return Err(Error::invalid(
            SSH_KEY,
            key,
            format!("contains {c:?}; only printable ASCII reaches the kernel intact"),
        ));
    }
    if key.contains('"') {
        return Err(Error::invalid(
            SSH_KEY,
            key,
            "contains a double quote, which would end the quoted sshkey=\"…\" argument \
             (authorized_keys options such as command=\"…\" cannot be passed)",
        ));
    }
    if ephemeros_node::SshKey::parse_line(key).is_none() {
        return Err(Error::invalid(
            SSH_KEY,
            key,
            ephemeros_node::SshKeyError::NotAKeyLine(1).to_string(),
        ));
    }
    let fields: Vec<&str> = key.split_ascii_whitespace().collect();
    let normalised = fields.join(" ");
    check_ipxe_words(SSH_KEY, key, &normalised)?;
    Ok(format!("sshkey=\"{normalised}\""))
}

fn console_arg(console: &str) -> Result<String, Error> {
    if console.is_empty() {
        return Err(Error::invalid(CONSOLE, console, "is empty"));
    }
    check_unquoted_value(CONSOLE, console, "a console= value has no spaces")?;
    check_ipxe_words(CONSOLE, console, console)?;
    Ok(format!("console={console}"))
}

/// An extra argument is passed as given, so it must survive both iPXE and
/// Linux unchanged: spaces only inside balanced double quotes, single ones.
fn validate_extra_arg(arg: &str) -> Result<(), Error> {
    if arg.is_empty() {
        return Err(Error::invalid(EXTRA, arg, "is empty"));
    }
    let name = arg.split_once('=').map_or(arg, |(name, _)| name);
    if let Some((_, way)) = MANAGED_ARGS.iter().find(|(managed, _)| *managed == name) {
        return Err(Error::invalid(
            EXTRA,
            arg,
            format!("sets {name}, which the boot script manages: {way}"),
        ));
    }
    check_printable(EXTRA, arg)?;
    if arg.starts_with(' ') || arg.ends_with(' ') || arg.contains("  ") {
        return Err(Error::invalid(
            EXTRA,
            arg,
            "has leading, trailing or repeated spaces, which iPXE collapses",
        ));
    }
    let mut in_quote = false;
    for c in arg.chars() {
        match c {
            '"' => in_quote = !in_quote,
            ' ' if !in_quote => {
                return Err(Error::invalid(
                    EXTRA,
                    arg,
                    "contains a space outside double quotes; Linux would split it into \
                     two arguments (give each argument separately, or quote the value: name=\"a b\")",
                ))
            }
            _ => {}
        }
    }
    if in_quote {
        return Err(Error::invalid(
            EXTRA,
            arg,
            "has an unbalanced double quote; Linux would join it with the following arguments",
        ));
    }
    check_ipxe_words(EXTRA, arg, arg)
}

fn check_printable(setting: &'static str, value: &str) -> Result<(), Error> {
    match value.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        Some(c) => Err(Error::invalid(
            setting,
            value,
            format!("contains {c:?}; only printable ASCII reaches the kernel intact"),
        )),
        None => Ok(()),
    }
}

/// For values that are never quoted: no spaces, no quotes.
fn check_unquoted_value(setting: &'static str, value: &str, space_hint: &str) -> Result<(), Error> {
    check_printable(setting, value)?;
    if value.contains(' ') {
        return Err(Error::invalid(
            setting,
            value,
            format!(
                "contains a space, which would split it into two kernel arguments; {space_hint}"
            ),
        ));
    }
    if value.contains('"') {
        return Err(Error::invalid(
            setting,
            value,
            "contains a double quote, which Linux treats as the start of a quoted section",
        ));
    }
    Ok(())
}

/// The iPXE tokenizer rules (3, 4 above) for each space-separated word of
/// `written`, the text as it will appear on the `kernel` line.
fn check_ipxe_words(setting: &'static str, value: &str, written: &str) -> Result<(), Error> {
    for word in written.split(' ') {
        if word.starts_with('#') {
            return Err(Error::invalid(
                setting,
                value,
                format!("has a word beginning with '#' ({word:?}); iPXE would drop it and the rest of the line as a comment"),
            ));
        }
        if matches!(word, "||" | "&&" | ";") {
            return Err(Error::invalid(
                setting,
                value,
                format!("has the word {word:?}, which iPXE reads as the end of the command"),
            ));
        }
        if let Some(start) = word.find("${") {
            if word[start..].contains('}') {
                return Err(Error::invalid(
                    setting,
                    value,
                    "contains `${…}`, which iPXE would replace by the value of a setting \
                     (iPXE has no escape for it; percent-encode `$` as %24 in a URL)",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
