//! Ignition's side, apart from Butane's (as coreos/butane takes Ignition's
//! `config/v3_x/types` and `config/validate` from coreos/ignition): the
//! config types that serialize to the output JSON ([`types`]), Ignition's
//! rules on a config ([`validate`]), and the check of a served config
//! ([`served`]). Nothing here knows the Butane schema.

pub mod served;
mod types;
pub mod validate;

pub use types::*;

/// The Ignition spec a config is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Spec {
    V3_3,
    V3_4,
}

impl Spec {
    /// The `ignition.version` of a config of this spec.
    pub fn version(self) -> &'static str {
        match self {
            Spec::V3_3 => "3.3.0",
            Spec::V3_4 => "3.4.0",
        }
    }
}
