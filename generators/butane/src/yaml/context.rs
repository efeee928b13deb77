//! The document as butane's *context tree* sees it.
//!
//! Butane decodes a config twice: go-yaml fills its Go structs (aliases
//! expanded, `<<` merges applied), and vcontext's `yaml.UnmarshalToContext`
//! turns the raw `yaml.Node` tree into a tree of positions (coreos/vcontext
//! `yaml/yaml.go`, `fromYamlNode`). That second tree expands nothing: an
//! alias is a leaf, and `<<` is an ordinary key whose value nobody reads.
//! Butane's unused-key check (coreos/ignition `config/validate/validate.go`,
//! `ValidateUnusedKeys`) walks every decoded struct by its decoded path and
//! looks that path up here: the keys of the mapping found there that the
//! struct does not have are "unused", and a struct whose path leads to a
//! scalar, a sequence or an alias gets "context tree does not match content
//! tree". [`Ctx`] is that tree, so the decoder can ask the same question.

use std::collections::HashMap;

use crate::span::Span;

/// Mappings with this many keys get a hash index.
const INDEX_FROM: usize = 16;

#[derive(Clone, Debug, PartialEq)]
pub enum Ctx {
    /// A scalar (null included) or an alias.
    Leaf(Span),
    Seq(Vec<Ctx>, Span),
    Map(CtxMap),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CtxMap {
    /// Key text, key span, value; in source order.
    pub entries: Vec<(String, Span, Ctx)>,
    /// Entry by key text, built once a mapping is large enough for linear
    /// lookups to cost more than the index (so huge mappings stay linear).
    index: Option<HashMap<String, usize>>,
    pub span: Span,
}

impl CtxMap {
    pub fn new(span: Span) -> Self {
        CtxMap {
            span,
            ..Default::default()
        }
    }

    /// Adds an entry; a repeated key (an error reported elsewhere) keeps
    /// the last value, as the Go map in vcontext does.
    pub fn insert(&mut self, key: String, key_span: Span, value: Ctx) {
        if let Some(i) = self.position(&key) {
            self.entries[i] = (key, key_span, value);
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.entries.len());
        } else if self.entries.len() == INDEX_FROM {
            let index = self.entries.iter().enumerate();
            let mut index: HashMap<String, usize> =
                index.map(|(i, (k, _, _))| (k.clone(), i)).collect();
            index.insert(key.clone(), self.entries.len());
            self.index = Some(index);
        }
        self.entries.push((key, key_span, value));
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _, _)| k == key),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Ctx> {
        self.position(key).map(|i| &self.entries[i].2)
    }
}

impl Ctx {
    pub fn span(&self) -> Span {
        match self {
            Ctx::Leaf(s) | Ctx::Seq(_, s) => *s,
            Ctx::Map(m) => m.span,
        }
    }

    /// The value at mapping key `key`, if this is a mapping that has it.
    pub fn key(&self, key: &str) -> Option<&Ctx> {
        match self {
            Ctx::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// Item `i` (raw, null items counted), if this is a sequence that long.
    pub fn item(&self, i: usize) -> Option<&Ctx> {
        match self {
            Ctx::Seq(items, _) => items.get(i),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_agree_below_and_above_the_index_threshold() {
        let mut m = CtxMap::new(Span::default());
        for i in 0..40 {
            m.insert(
                format!("k{i}"),
                Span::default(),
                Ctx::Seq(Vec::new(), Span::default()),
            );
            // A repeated key replaces its entry, indexed or not.
            m.insert(format!("k{i}"), Span::default(), Ctx::Leaf(Span::default()));
            for j in 0..=i {
                assert!(
                    matches!(m.get(&format!("k{j}")), Some(Ctx::Leaf(_))),
                    "{i} {j}"
                );
            }
            assert!(m.get("missing").is_none());
        }
        assert_eq!(m.entries.len(), 40);
    }
}
