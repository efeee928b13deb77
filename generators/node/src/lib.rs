//! The node layer's ground floor: the values that describe a node and the
//! rules for them, written once. The boot script (`ephemeros-ipxe`), the
//! stick (`ephemeros-stick`), the qemu runner and the tests all take these
//! types, so a value one of them accepts is a value all of them accept.

pub mod data_url;
pub mod hostname;
pub mod percent;
pub mod shell;
pub mod ssh_key;

pub use hostname::{Hostname, HostnameError};
pub use ssh_key::{SshKey, SshKeyError};
