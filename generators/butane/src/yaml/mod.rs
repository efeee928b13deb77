//! A YAML document as a tree of nodes that remember where they came from.
//!
//! Butane decodes with go-yaml v3; this tree keeps what that decoder needs to
//! reach the same result (scalar style and tag, so that `"0644"` stays a
//! string while `0644` is an integer) plus the source span of every node, so
//! that every diagnostic can point at the text it is about.

pub mod context;
mod load;
pub mod reader;
pub mod scalar;

pub use context::Ctx;
pub use load::load;

use crate::path::{Path, Seg};
use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    /// Single- or double-quoted.
    Quoted,
    /// Literal (`|`) or folded (`>`) block.
    Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub value: String,
    pub style: Style,
    /// Short form of an explicit tag: `!!str`, `!!int`, or `!local`.
    pub tag: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in source order; keys are unique (the loader rejects
    /// duplicates as go-yaml v3 does).
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub span: Span,
}

impl Node {
    /// The go-yaml short tag of this node, used in type errors
    /// ("cannot unmarshal !!str `x` into int").
    pub fn short_tag(&self) -> &'static str {
        match &self.kind {
            Kind::Seq(_) => "!!seq",
            Kind::Map(_) => "!!map",
            Kind::Scalar(s) => scalar::resolve(s).tag_name(),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if matches!(scalar::resolve(s), scalar::Resolved::Null))
    }

    /// The key text of a mapping key (go-yaml decodes any scalar key into a
    /// string field name by its text).
    pub fn key_text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s) => Some(&s.value),
            _ => None,
        }
    }

    /// The child at `seg` of a config path, if this node has one.
    pub fn child(&self, seg: &Seg) -> Option<&Node> {
        match (&self.kind, seg) {
            (Kind::Map(entries), Seg::Key(k)) => entries
                .iter()
                .find(|(key, _)| key.key_text() == Some(k.as_str()))
                .map(|(_, v)| v),
            // Decoded lists drop null items (see `decode`), so index `i`
            // of a config path is the i-th non-null item.
            (Kind::Seq(items), Seg::Index(i)) => {
                items.iter().filter(|item| !item.is_null()).nth(*i)
            }
            _ => None,
        }
    }

    /// The span of the deepest node on `path` that exists below this one
    /// (the key itself for a path ending in a key of an entry).
    pub fn span_at(&self, path: &Path) -> Span {
        let mut node = self;
        let mut span = self.span;
        for seg in &path.0 {
            if let Seg::KeyOf(k) = seg {
                if let Some(key) = node.key_node(k) {
                    span = key.span;
                }
                break;
            }
            match node.child(seg) {
                Some(child) => {
                    node = child;
                    span = child.span;
                }
                None => break,
            }
        }
        span
    }

    /// The key node (not the value) of mapping entry `key`.
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.key_text() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }
}
