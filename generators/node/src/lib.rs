//! The node layer: what a node is made of and the rules for it, written
//! once, between the CLI and the format crates (as coreos-installer splits
//! its library from its binary).
//!
//! - Identity: [`Hostname`], [`SshKey`].
//! - The node's settings from flags, `--env-file` and the environment
//!   ([`inputs`], [`envfile`]) become its [`secrets::Secrets`]: the files of
//!   the stick's `secrets` partition, checked by [`validate`] and
//!   [`k3s_vars`]; [`node_password`] keeps k3s's node password.
//! - What a stick records about itself: [`manifest`], [`reproduce`].
//! - The public config URL, derived from the git remote: [`config_url`].
//! - Small shared rules: [`shell`] quoting, [`percent`] and [`data_url`]
//!   decoding.
//!
//! The boot script (`ephemeros-ipxe`) and the stick (`ephemeros-stick`)
//! both take these types, so a value one accepts the other accepts too.

pub mod config_url;
pub mod data_url;
pub mod envfile;
pub mod error;
pub mod hostname;
pub mod inputs;
pub mod k3s_vars;
pub mod manifest;
pub mod node_password;
pub mod percent;
pub mod reproduce;
pub mod secrets;
pub mod shell;
pub mod ssh_key;
pub mod validate;

pub use error::Error;
pub use hostname::{Hostname, HostnameError};
pub use ssh_key::{SshKey, SshKeyError};
