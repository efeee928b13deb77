//! Builds a [`Node`] tree from saphyr's span-carrying event stream.
//!
//! Follows go-yaml v3 where YAML leaves room: only the first document is
//! read; aliases are expanded (with a budget, so that an alias bomb is an
//! error instead of an out-of-memory); `<<` merge keys are applied, explicit
//! keys winning over merged ones; a key repeated in one mapping is an error.
//! Alongside, from the same events, butane's context tree ([`Ctx`]), which
//! expands and merges nothing.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as PSpan};

use super::context::{Ctx, CtxMap};
use super::scalar::short_tag;
use super::{Kind, Node, Scalar, Style};
use crate::span::{Pos, Span};

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
    /// Line of this mapping's `<<` key, if it had one.
    merge_line: Option<usize>,
}

enum Frame {
    /// Items, their context leaves, the start span, the anchor id.
    Seq(Vec<Node>, Vec<Ctx>, Span, usize),
    /// Entries so far (with which of them came from a `<<` merge), their
    /// context, a pending key, the start span, the anchor id.
    Map(MapBuild, Box<CtxMap>, Option<Node>, Span, usize),
}

/// A loaded document: the content (aliases expanded, merges applied) and
/// butane's context tree of the same text (see [`super::context`]).
#[derive(Debug)]
pub struct Loaded {
    pub root: Option<Node>,
    pub context: Option<Ctx>,
    /// Non-fatal errors (duplicate keys, bad merges) found on the way.
    pub errors: Vec<LoadError>,
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    context: Option<Ctx>,
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

/// Parses `source` and returns its first document (None when empty).
pub fn load(source: &str) -> Result<Loaded, LoadError> {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        context: None,
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
                let empty_value = value.is_empty()
                    && style == ScalarStyle::Plain
                    && tag.is_none()
                    && anchor == 0
                    && matches!(b.stack.last(), Some(Frame::Map(_, _, Some(_), _, _)));
                let mut node_span = span(&sp);
                if empty_value {
                    // An empty mapping value (`key:`) has no text: saphyr
                    // places it at the `:`, go-yaml (libyaml's parser) just
                    // after it, which is where butane reports it. (After a
                    // bare `-` both use the position after the dash.)
                    node_span.start.col += 1;
                    node_span.start.offset += 1;
                    node_span.end = node_span.start;
                }
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
                    span: node_span,
                };
                let ctx = Ctx::Leaf(node.span);
                b.push(node, ctx, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                b.stack
                    .push(Frame::Seq(Vec::new(), Vec::new(), span(&sp), anchor))
            }
            Event::MappingStart(anchor, _) => b.stack.push(Frame::Map(
                MapBuild::default(),
                Box::new(CtxMap::new(span(&sp))),
                None,
                span(&sp),
                anchor,
            )),
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, ctx_items, mut s, anchor)) = b.stack.pop() {
                    s.end = pos(&sp.end).max_by_offset(s.end);
                    let node = Node {
                        kind: Kind::Seq(items),
                        span: s,
                    };
                    b.push(node, Ctx::Seq(ctx_items, s), anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(map, mut ctx, _, mut s, anchor)) = b.stack.pop() {
                    s.end = pos(&sp.end).max_by_offset(s.end);
                    ctx.span = s;
                    let node = Node {
                        kind: Kind::Map(map.entries),
                        span: s,
                    };
                    b.push(node, Ctx::Map(*ctx), anchor);
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
                // vcontext keeps an alias as a leaf: nothing behind it is
                // in the context tree.
                b.push(node, Ctx::Leaf(span(&sp)), 0);
            }
            Event::StreamStart | Event::Nothing => {}
        }
    }
    Ok(Loaded {
        root: b.root,
        context: b.context,
        errors: b.errors,
    })
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
    fn push(&mut self, node: Node, ctx: Ctx, anchor: usize) {
        self.nodes += 1;
        if anchor != 0 {
            let size = count(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                    self.context = Some(ctx);
                }
            }
            Some(Frame::Seq(items, ctx_items, _, _)) => {
                items.push(node);
                ctx_items.push(ctx);
            }
            Some(Frame::Map(map, ctx_map, pending, _, _)) => match pending.take() {
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
                Some(key) => {
                    // go-yaml names a collection key by its (empty) value.
                    let text = key.key_text().unwrap_or("").to_string();
                    ctx_map.insert(text, key.span, ctx);
                    insert(map, key, node, &mut self.errors);
                }
            },
        }
    }
}

/// go-yaml's `isMerge`: a `<<` key whose tag is, or resolves to, `!!merge`:
/// plain and untagged (or tagged `!`), or explicitly tagged `!!merge`; a
/// quoted `"<<"` is an ordinary key (butane's vendored gopkg.in/yaml.v3
/// decode.go, `parser.scalar` and `isMerge`).
fn is_merge_key(k: &Node) -> bool {
    matches!(&k.kind, Kind::Scalar(s) if s.value == "<<" && match s.tag.as_deref() {
        None | Some("!") => s.style == Style::Plain,
        Some(t) => t == "!!merge" || t == "tag:yaml.org,2002:merge",
    })
}

fn insert(map: &mut MapBuild, key: Node, value: Node, errors: &mut Vec<LoadError>) {
    if key.key_text() == Some("<<") {
        // go-yaml's duplicate check compares key text, so a second `<<`
        // (merge or quoted) is a duplicate like any other key.
        let earlier = map.merge_line.or_else(|| {
            let i = *map.index.get("<<")?;
            (!map.merged[i]).then(|| map.entries[i].0.span.start.line)
        });
        if let Some(line) = earlier {
            errors.push(LoadError {
                message: format!("mapping key \"<<\" already defined at line {line}"),
                pos: key.span.start,
            });
            return;
        }
    }
    if is_merge_key(&key) {
        map.merge_line = Some(key.span.start.line);
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
        let loaded = load("a:\n  b: 'x'\n").unwrap();
        assert!(loaded.errors.is_empty());
        let root = loaded.root.unwrap();
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
        let errs = load("a: 1\na: 2\n").unwrap().errors;
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
        let loaded = load("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n").unwrap();
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let root = loaded.root.unwrap();
        let Kind::Map(e) = &root.kind else { panic!() };
        let Kind::Map(m) = &e[1].1.kind else { panic!() };
        let keys: Vec<_> = m.iter().map(|(k, _)| k.key_text().unwrap()).collect();
        assert_eq!(keys, ["x", "y"]);
    }

    #[test]
    fn context_tree_keeps_aliases_as_leaves_and_merge_keys_as_keys() {
        let loaded = load("b: &b {x: 1}\nm:\n  <<: *b\n  y:\n").unwrap();
        let ctx = loaded.context.unwrap();
        let m = ctx.key("m").unwrap();
        let Ctx::Map(map) = m else { panic!("{m:?}") };
        let keys: Vec<&str> = map.entries.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["<<", "y"]);
        assert!(matches!(m.key("<<"), Some(Ctx::Leaf(_))));
        assert!(
            m.key("x").is_none(),
            "merged keys are not in the context tree"
        );
        // The null after `y:` sits just after the colon, as in go-yaml.
        let y = m.key("y").unwrap().span().start;
        assert_eq!((y.line, y.col), (4, 5));
    }
}
