//! Where in the config tree: `$.storage.files.0.path`, as Butane (and
//! vcontext's `path`) addresses a value. Neutral ground for everything that
//! reports about the config (decoding, validation, translation), the YAML
//! tree (which finds the node a path names) and the diagnostics.

use std::fmt;

/// One step of a path into the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
    /// The key text of a mapping entry rather than its value (unused keys
    /// are reported at the key).
    KeyOf(String),
}

/// A path into the config, printed the way Butane prints it
/// (`$.storage.files.0.path`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn root() -> Self {
        Path(Vec::new())
    }
    pub fn key(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    pub fn index(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
    pub fn key_of(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::KeyOf(k.to_string()));
        p
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for s in &self.0 {
            match s {
                Seg::Key(k) | Seg::KeyOf(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, ".{i}")?,
            }
        }
        Ok(())
    }
}
