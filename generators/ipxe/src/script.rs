//! Script text from minijinja templates: the built-in one, or a user's.
//!
//! Templates see the context built by [`context`]; values in it are already
//! checked by [`mod@crate::kernel_args`] and [`crate::flatcar`], so a template can
//! write them into the script as they are. Unknown variables are errors
//! (strict undefined behaviour), so a typo in a user template is reported
//! instead of silently rendering as nothing.

use std::path::Path;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::flatcar::{self, INITRD_FILE, KERNEL_FILE};
use crate::{kernel_args, BootSettings, Error, OnFailure};

/// Name of the built-in template, as error messages show it.
pub const BUILTIN_NAME: &str = "autoexec.ipxe.j2";
const BUILTIN_SOURCE: &str = include_str!("../templates/autoexec.ipxe.j2");

/// A download that makes no progress for this long is abandoned and retried
/// (iPXE's `--timeout`, which by default waits forever).
pub const STALL_TIMEOUT_MS: u32 = 60_000;

/// A boot-script template: the built-in one or a user-supplied one.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    source: String,
}

impl Template {
    /// The template compiled into this crate.
    pub fn builtin() -> Self {
        Template {
            name: BUILTIN_NAME.to_string(),
            source: BUILTIN_SOURCE.to_string(),
        }
    }

    /// A template from memory; `name` is what errors call it.
    pub fn from_source(name: impl Into<String>, source: impl Into<String>) -> Result<Self, Error> {
        let template = Template {
            name: name.into(),
            source: source.into(),
        };
        // Compile once now, so a syntax error is reported before any rendering.
        template.environment()?;
        Ok(template)
    }

    /// A template read from a file; errors name the file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let source = std::fs::read_to_string(path).map_err(|error| Error::ReadTemplate {
            path: path.to_path_buf(),
            error,
        })?;
        Template::from_source(path.display().to_string(), source)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    fn environment(&self) -> Result<Environment<'_>, Error> {
        let mut env = Environment::new();
        // A script is not HTML: never escape anything.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.add_template(&self.name, &self.source)
            .map_err(|e| Error::from_minijinja(&self.name, &e))?;
        Ok(env)
    }

    /// Renders this template for `settings`.
    pub fn render(&self, settings: &BootSettings) -> Result<String, Error> {
        let ctx = context(settings)?;
        let env = self.environment()?;
        let template = env
            .get_template(&self.name)
            .map_err(|e| Error::from_minijinja(&self.name, &e))?;
        template
            .render(&ctx)
            .map_err(|e| Error::from_minijinja(&self.name, &e))
    }
}

/// Renders the built-in template.
pub fn render(settings: &BootSettings) -> Result<String, Error> {
    Template::builtin().render(settings)
}

/// Everything a template can use. Documented for template authors in
/// `templates/README.md`.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub generator: String,
    pub channel: &'static str,
    pub arch: &'static str,
    pub release: String,
    /// Directory URL ending in `/`.
    pub base_url: String,
    pub kernel_file: &'static str,
    pub initrd_file: &'static str,
    pub kernel_url: String,
    pub initrd_url: String,
    /// The kernel arguments joined by single spaces, safe to write after
    /// the kernel URL on a `kernel` line.
    pub kernel_args: String,
    pub kernel_arg_list: Vec<String>,
    pub ignition_url: String,
    pub hostname: Option<String>,
    pub on_failure: &'static str,
    /// The other of `reboot`/`poweroff`, tried if the first is missing.
    pub fallback: &'static str,
    pub dhcp_attempts: u32,
    pub download_attempts: u32,
    /// Pause after failed attempt n is `dhcp_pauses[n-1]`.
    pub dhcp_pauses: Vec<u32>,
    pub download_pauses: Vec<u32>,
    /// Pause before giving up, so the reason stays on screen.
    pub final_pause: u32,
    pub stall_timeout_ms: u32,
}

/// Checks `settings` and builds the template context.
pub fn context(settings: &BootSettings) -> Result<Context, Error> {
    for (what, n) in [
        ("number of DHCP attempts", settings.dhcp_attempts),
        ("number of download attempts", settings.download_attempts),
    ] {
        if !(1..=100).contains(&n) {
            return Err(Error::invalid(
                what,
                &n.to_string(),
                "must be between 1 and 100",
            ));
        }
    }
    let base_url = flatcar::base_url(settings)?;
    let args = kernel_args(settings)?;
    let fallback = match settings.on_failure {
        OnFailure::Reboot => OnFailure::Poweroff,
        OnFailure::Poweroff => OnFailure::Reboot,
    };
    Ok(Context {
        generator: format!("ephemeros {}", env!("CARGO_PKG_VERSION")),
        channel: settings.channel.as_str(),
        arch: settings.arch.as_str(),
        release: settings.release.clone(),
        kernel_file: KERNEL_FILE,
        initrd_file: INITRD_FILE,
        kernel_url: format!("{base_url}{KERNEL_FILE}"),
        initrd_url: format!("{base_url}{INITRD_FILE}"),
        base_url,
        kernel_args: args.join(" "),
        kernel_arg_list: args,
        ignition_url: settings.ignition_url.clone(),
        hostname: settings.hostname.as_ref().map(ToString::to_string),
        on_failure: settings.on_failure.as_str(),
        fallback: fallback.as_str(),
        dhcp_attempts: settings.dhcp_attempts,
        download_attempts: settings.download_attempts,
        dhcp_pauses: settings.pauses(settings.dhcp_attempts),
        download_pauses: settings.pauses(settings.download_attempts),
        final_pause: settings.retry_pause_secs.min(crate::MAX_RETRY_PAUSE_SECS),
        stall_timeout_ms: STALL_TIMEOUT_MS,
    })
}
