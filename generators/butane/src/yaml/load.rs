//! Builds a [`Node`] tree from saphyr's span-carrying event stream.
//!
//! Follows go-yaml v3 where YAML leaves room: only the first document is
//! read; aliases are expanded (with a budget, so that an alias bomb is an
//! error instead of an out-of-memory); `<<` merge keys are applied, explicit
//! keys winning over merged ones; a key repeated in one mapping is an error.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as PSpan};

use super::scalar::short_tag;
use super::{Kind, Node, Pos, Scalar, Span, Style};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub message: String,
    pub pos: Pos,
}

fn pos(m: &saphyr_parser::Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
        offset: m.index(),
    }
}

fn span(s: &PSpan) -> Span {
    Span {
        start: pos(&s.start),
        end: pos(&s.end),
    }
}

/// A mapping being built: entries in order plus an index by key text, so
/// that duplicate detection stays linear in huge mappings.
#[derive(Default)]
struct MapBuild {
    entries: Vec<(Node, Node)>,
    merged: Vec<bool>,
    index: HashMap<String, usize>,
}

enum Frame {
    Seq(Vec<Node>, Span, usize),
    /// Entries so far, which of them came from a `<<` merge, a pending
    /// key, the start span, the anchor id.
    Map(MapBuild, Option<Node>, Span, usize),
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    /// Nodes created so far, alias copies included.
    nodes: usize,
    budget: usize,
    errors: Vec<LoadError>,
}

fn count(n: &Node) -> usize {
    match &n.kind {
        Kind::Scalar(_) => 1,
        Kind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Kind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count(k) + count(v))
                .sum::<usize>()
        }
    }
}

/// Parses `source` and returns its first document (None when empty), plus
/// the non-fatal errors (duplicate keys) found along the way.
pub fn load(source: &str) -> Result<(Option<Node>, Vec<LoadError>), LoadError> {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
        budget: source.len().saturating_mul(8).max(100_000),
        errors: Vec::new(),
    };
    let mut in_doc = false;
    for ev in Parser::new_from_str(source) {
        let (ev, sp) = ev.map_err(|e| LoadError {
            message: e.info().to_string(),
            pos: pos(e.marker()),
        })?;
        match ev {
            Event::DocumentStart(_) => in_doc = true,
            Event::DocumentEnd => {
                if in_doc {
                    break;
                }
            }
            Event::StreamEnd => break,
            Event::Scalar(value, style, anchor, tag) => {
                let node = Node {
                    kind: Kind::Scalar(Scalar {
                        value: value.into_owned(),
                        style: match style {
                            ScalarStyle::Plain => Style::Plain,
                            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
                            ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
                        },
                        tag: tag.map(|t| short_tag(&t.handle, &t.suffix)),
                    }),
                    span: span(&sp),
                };
                b.push(node, anchor, sp)?;
            }
            Event::SequenceStart(anchor, _) => {
                b.stack.push(Frame::Seq(Vec::new(), span(&sp), anchor))
            }
            Event::MappingStart(anchor, _) => {
                b.stack
                    .push(Frame::Map(MapBuild::default(), None, span(&sp), anchor))
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, mut s, anchor)) = b.stack.pop() {
                    s.end = pos(&sp.end).max_by_offset(s.end);
                    let node = Node {
                        kind: Kind::Seq(items),
                        span: s,
                    };
                    b.push(node, anchor, sp)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(map, _, mut s, anchor)) = b.stack.pop() {
                    s.end = pos(&sp.end).max_by_offset(s.end);
                    let node = Node {
                        kind: Kind::Map(map.entries),
                        span: s,
                    };
                    b.push(node, anchor, sp)?;
                }
            }
            Event::Alias(id) => {
                let Some((target, size)) = b.anchors.get(&id) else {
                    return Err(LoadError {
                        message: "unknown anchor referenced".into(),
                        pos: pos(&sp.start),
                    });
                };
                b.nodes = b.nodes.saturating_add(*size);
                if b.nodes > b.budget {
                    return Err(LoadError {
                        message: "document contains excessive aliasing".into(),
                        pos: pos(&sp.start),
                    });
                }
                let mut node = target.clone();
                node.span = span(&sp);
                b.push(node, 0, sp)?;
            }
            Event::StreamStart | Event::Nothing => {}
        }
    }
    Ok((b.root, b.errors))
}

impl Pos {
    fn max_by_offset(self, other: Pos) -> Pos {
        if self.offset >= other.offset {
            self
        } else {
            other
        }
    }
}

impl Builder {
    fn push(&mut self, node: Node, anchor: usize, _sp: PSpan) -> Result<(), LoadError> {
        self.nodes += 1;
        if anchor != 0 {
            let size = count(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq(items, _, _)) => items.push(node),
            Some(Frame::Map(map, pending, _, _)) => match pending.take() {
                None => {
                    if !matches!(node.kind, Kind::Scalar(_)) {
                        // go-yaml cannot decode a collection key into a
                        // struct field name.
                        self.errors.push(LoadError {
                            message: format!(
                                "cannot unmarshal {} into a field name",
                                node.short_tag()
                            ),
                            pos: node.span.start,
                        });
                    }
                    *pending = Some(node);
                }
                Some(key) => insert(map, key, node, &mut self.errors),
            },
        }
        Ok(())
    }
}

fn is_merge_key(k: &Node) -> bool {
    matches!(&k.kind, Kind::Scalar(s) if s.value == "<<" && s.style == Style::Plain && s.tag.is_none())
}

fn insert(map: &mut MapBuild, key: Node, value: Node, errors: &mut Vec<LoadError>) {
    if is_merge_key(&key) {
        let sources: Vec<Node> = match value.kind {
            Kind::Map(_) => vec![value],
            Kind::Seq(items) => items,
            _ => {
                errors.push(LoadError {
                    message: "map merge requires map or sequence of maps as the value".into(),
                    pos: value.span.start,
                });
                return;
            }
        };
        for src in sources {
            match src.kind {
                Kind::Map(source_entries) => {
                    for (k, v) in source_entries {
                        let text = k.key_text().unwrap_or("").to_string();
                        if !map.index.contains_key(&text) {
                            map.index.insert(text, map.entries.len());
                            map.entries.push((k, v));
                            map.merged.push(true);
                        }
                    }
                }
                _ => errors.push(LoadError {
                    message: "map merge requires map or sequence of maps as the value".into(),
                    pos: src.span.start,
                }),
            }
        }
        return;
    }
    let text = key.key_text().unwrap_or("").to_string();
    // Collection keys were reported already; keep them out of the index.
    if !matches!(key.kind, Kind::Scalar(_)) {
        map.entries.push((key, value));
        map.merged.push(false);
        return;
    }
    if let Some(&i) = map.index.get(&text) {
        if !map.merged[i] {
            errors.push(LoadError {
                message: format!(
                    "mapping key {:?} already defined at line {}",
                    text, map.entries[i].0.span.start.line
                ),
                pos: key.span.start,
            });
        }
        // An explicit key overrides a merged one; go-yaml keeps the last
        // value of a duplicate.
        map.entries[i] = (key, value);
        map.merged[i] = false;
        return;
    }
    map.index.insert(text, map.entries.len());
    map.entries.push((key, value));
    map.merged.push(false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let (root, errs) = load("a:\n  b: 'x'\n").unwrap();
        assert!(errs.is_empty());
        let root = root.unwrap();
        let Kind::Map(e) = &root.kind else { panic!() };
        let Kind::Map(inner) = &e[0].1.kind else {
            panic!()
        };
        assert_eq!(
            (inner[0].1.span.start.line, inner[0].1.span.start.col),
            (2, 6)
        );
    }

    #[test]
    fn duplicate_keys_and_alias_bombs_are_errors() {
        let (_, errs) = load("a: 1\na: 2\n").unwrap();
        assert_eq!(
            errs[0].message,
            "mapping key \"a\" already defined at line 1"
        );
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            bomb += &format!(
                "{}: &{} [*{}, *{}, *{}, *{}, *{}, *{}, *{}, *{}, *{}, *{}]\n",
                (b'a' + i) as char,
                (b'a' + i) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char
            );
        }
        assert_eq!(
            load(&bomb).unwrap_err().message,
            "document contains excessive aliasing"
        );
    }

    #[test]
    fn merge_keys_fill_in_missing_fields() {
        let (root, errs) = load("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n").unwrap();
        assert!(errs.is_empty(), "{errs:?}");
        let root = root.unwrap();
        let Kind::Map(e) = &root.kind else { panic!() };
        let Kind::Map(m) = &e[1].1.kind else { panic!() };
        let keys: Vec<_> = m.iter().map(|(k, _)| k.key_text().unwrap()).collect();
        assert_eq!(keys, ["x", "y"]);
    }
}
