//! The boot stick image: GPT + FAT, the secrets volume, writing to a device.
//!
//! Data flows one way: typed inputs (the node's [`ephemeros_node::secrets::Secrets`]
//! and [`ephemeros_node::manifest::Manifest`],
//! the boot script and the iPXE binary) -> [`image::build`] -> a [`sparse::SparseDisk`]
//! holding only the sectors that carry data -> [`target`] writes them to an
//! image file or a block device. [`inspect`] reads a stick back.
//!
//! Nothing here needs root, mounts anything or runs external tools; only
//! opening a block device for writing needs privileges.

pub mod atomic_file;
pub mod device;
pub mod error;
mod fatfix;
pub mod image;
pub mod inspect;
pub mod ipxe_efi;
pub mod layout;
pub mod slice;
pub mod sparse;
pub mod target;
pub mod timestamp;

pub use error::Error;
pub use image::{build, build_over, StickSpec};
pub use layout::Layout;
