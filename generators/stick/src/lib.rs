//! The boot stick image: GPT + FAT, the secrets volume, writing to a device.
//!
//! Data flows one way: typed inputs ([`secrets::Secrets`], [`manifest::Manifest`],
//! the boot script and the iPXE binary) -> [`image::build`] -> a [`sparse::SparseDisk`]
//! holding only the sectors that carry data -> [`target`] writes them to an
//! image file or a block device. [`inspect`] reads a stick back.
//!
//! Nothing here needs root, mounts anything or runs external tools; only
//! opening a block device for writing needs privileges.

pub mod device;
pub mod envfile;
pub mod error;
mod fatfix;
pub mod image;
pub mod image_file;
pub mod inputs;
pub mod inspect;
pub mod ipxe_efi;
pub mod k3s_vars;
pub mod layout;
pub mod manifest;
pub mod node_password;
pub mod reproduce;
pub mod secrets;
pub mod slice;
pub mod sparse;
pub mod target;
pub mod timestamp;
pub mod validate;

pub use error::Error;
pub use image::{build, build_over, StickSpec};
pub use layout::Layout;
