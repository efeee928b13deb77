//! The origin map: for output lists whose entries do not map 1:1 onto
//! source entries, the source path each output entry came from (as
//! Butane's translation set records it). The translation writes it,
//! Ignition's validation reads it to place its diagnostics at the source.

use crate::path::Path;

#[derive(Clone, Debug, Default)]
pub struct Origins {
    pub files: Vec<Path>,
    pub directories: Vec<Path>,
    pub links: Vec<Path>,
    pub units: Vec<Path>,
}
