//! One module per subcommand: argument parsing and printing only; the work
//! is done by the generator libraries.

pub mod boot_args;
pub mod build_stick;
pub mod completions;
pub mod ignite;
pub mod inspect;
pub mod ipxe;
mod output;
pub mod qemu;
pub mod redact;

/// A path flag whose environment variable may be set but empty (as a failed
/// `VAR=$(command)` leaves it): clap's own path parser would refuse the
/// empty value with an error about a flag the user never typed; the
/// command treats it as unset instead.
pub(crate) fn path_or_empty(s: &str) -> Result<std::path::PathBuf, std::convert::Infallible> {
    Ok(std::path::PathBuf::from(s))
}
