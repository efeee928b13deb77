//! One module per subcommand: argument parsing and printing only; the work
//! is done by the generator libraries.

pub mod build_stick;
pub mod completions;
pub mod ignite;
pub mod inspect;
pub mod ipxe;
mod output;
pub mod qemu;
pub mod redact;
