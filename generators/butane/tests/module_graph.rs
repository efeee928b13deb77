//! The crate's top-level modules import each other without cycles, so each
//! can be read (and changed) knowing only the modules below it.
//!
//! The graph is read from the source: every `crate::…` and `super::…` path
//! outside comments and literals (in `use` lines and inline alike, braces
//! of `use crate::{a, b::C}` included) is an edge from the file's top-level
//! module to the top-level module it names; a name that is no module is an
//! item of `lib.rs`, the facade (`crate`). `cargo test -p ephemeros-butane
//! --test module_graph -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module name -> the modules it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

const ROOT: &str = "crate";

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = graph(&crate_sources());
    println!("{}", show(&graph));
    // Guards against a parser that finds nothing: the facade drives the
    // pipeline, and decoding reads the YAML tree.
    assert!(graph[ROOT].contains("yaml"), "{}", show(&graph));
    assert!(graph["decode"].contains("yaml"), "{}", show(&graph));
    if let Some(cycle) = find_cycle(&graph) {
        panic!("module cycle: {}\n{}", cycle.join(" -> "), show(&graph));
    }
}

/// Ignition's side knows nothing of Butane's, and the neutral modules
/// nothing of either.
#[test]
fn layers_import_only_downwards() {
    let graph = graph(&crate_sources());
    let butane = ["decode", "schema", "translate", "validate", "yaml"];
    let neutral = ["diag", "json", "origin", "path", "span"];
    for m in butane.iter().chain(&neutral).chain(&["ignition"]) {
        assert!(graph.contains_key(*m), "no module {m}: update this test");
    }
    let below_ignition = reachable(&graph, "ignition");
    for m in butane {
        assert!(
            !below_ignition.contains(m),
            "ignition reaches {m}\n{}",
            show(&graph)
        );
    }
    for m in neutral {
        let below = reachable(&graph, m);
        assert!(
            below.iter().all(|b| neutral.contains(&b.as_str())),
            "{m} reaches {below:?}\n{}",
            show(&graph)
        );
    }
}

/// Every module `from` imports, directly or not.
fn reachable(g: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(m) = todo.pop() {
        for next in g.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

/// (module path, text) of every file under `src/`.
fn crate_sources() -> Vec<(Vec<String>, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(&src).unwrap();
            let text = std::fs::read_to_string(f).unwrap();
            (module_path(rel), text)
        })
        .collect()
}

#[test]
fn the_parser_sees_grouped_inline_and_super_paths_but_not_comments() {
    let sources = vec![
        (vec![], "mod a; mod b; mod c; pub use a::X;".to_string()),
        (
            vec!["a".to_string()],
            "use crate::{b::Y, c};\n// crate::d::Z\nconst S: &str = \"crate::e\";".to_string(),
        ),
        (
            vec!["b".to_string(), "inner".to_string()],
            "fn f() -> char { let _ = super::super::c::f(); '\"' }".to_string(),
        ),
        (
            vec!["c".to_string()],
            "pub(crate) fn f() { crate::a::g() }\nmod tests { use super::*; }".to_string(),
        ),
        (vec!["d".to_string()], "".to_string()),
        (
            vec!["e".to_string()],
            "fn g<'a>(_: &'a str) { crate::Options }".to_string(),
        ),
    ];
    let g = graph(&sources);
    assert_eq!(g["a"], BTreeSet::from(["b".into(), "c".into()]));
    assert_eq!(g["b"], BTreeSet::from(["c".into()]));
    assert_eq!(g["c"], BTreeSet::from(["a".into()]));
    assert!(g["d"].is_empty());
    assert_eq!(g["e"], BTreeSet::from([ROOT.into()]));
    let cycle = find_cycle(&g).expect("a -> c -> a");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.contains(&"a".to_string()) && cycle.contains(&"c".to_string()));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `lib.rs` -> [], `a.rs` and `a/mod.rs` -> [a], `a/b.rs` -> [a, b].
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.strip_suffix(".rs").unwrap();
    if !(stem == "mod" || (parts.is_empty() && stem == "lib")) {
        parts.push(stem.to_string());
    }
    parts
}

fn graph(sources: &[(Vec<String>, String)]) -> Graph {
    let modules: BTreeSet<String> = sources
        .iter()
        .filter_map(|(m, _)| m.first().cloned())
        .collect();
    let mut g = Graph::new();
    g.entry(ROOT.to_string()).or_default();
    for m in &modules {
        g.entry(m.clone()).or_default();
    }
    for (module, text) in sources {
        let from = module.first().cloned().unwrap_or_else(|| ROOT.to_string());
        for target in referenced(module, &tokens(text), &modules) {
            if target != from {
                g.get_mut(&from).unwrap().insert(target);
            }
        }
    }
    // The facade declares every module; `mod x;` lines are no paths.
    let root = g.get_mut(ROOT).unwrap();
    root.extend(modules.iter().cloned());
    g
}

/// Identifiers and the punctuation paths are made of; comments, strings
/// and character literals are dropped.
fn tokens(src: &str) -> Vec<String> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == 'r'
            && matches!(c.get(i + 1), Some('"' | '#'))
            && raw_string(&c, i).is_some()
        {
            i = raw_string(&c, i).unwrap();
        } else if ch == 'b' && c.get(i + 1) == Some(&'"') {
            i = string_end(&c, i + 1);
        } else if ch == '"' {
            i = string_end(&c, i);
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{1b}'); otherwise a lifetime.
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push("::".to_string());
            i += 2;
        } else {
            if !ch.is_whitespace() {
                out.push(ch.to_string());
            }
            i += 1;
        }
    }
    out
}

/// The index after a raw string starting at `i` (`r"…"`, `r#"…"#`).
fn raw_string(c: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(j)
}

/// The index after the string literal whose opening quote is at `i`.
fn string_end(c: &[char], i: usize) -> usize {
    let mut j = i + 1;
    while j < c.len() {
        match c[j] {
            '\\' => j += 2,
            '"' => return j + 1,
            _ => j += 1,
        }
    }
    j
}

/// Top-level modules (or `crate`) named by the `crate::`/`super::` paths
/// among `toks`, from a file of module `module`.
fn referenced(module: &[String], toks: &[String], modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    // Inline modules (`mod tests { use super::*; }`) and the brace depth
    // each opened at, so that `super` is resolved from where it stands.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < toks.len() {
        let starts_path = i == 0 || toks[i - 1] != "::";
        let base: Option<Vec<String>> = match toks[i].as_str() {
            "mod" if toks.get(i + 2).map(String::as_str) == Some("{") => {
                inline.push((toks[i + 1].clone(), depth));
                None
            }
            "{" => {
                depth += 1;
                None
            }
            "}" => {
                depth -= 1;
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                None
            }
            "crate" if starts_path && toks.get(i + 1).map(String::as_str) == Some("::") => {
                i += 2;
                Some(Vec::new())
            }
            "super" if starts_path && toks.get(i + 1).map(String::as_str) == Some("::") => {
                let mut base = module.to_vec();
                base.extend(inline.iter().map(|(name, _)| name.clone()));
                while toks.get(i).map(String::as_str) == Some("super")
                    && toks.get(i + 1).map(String::as_str) == Some("::")
                {
                    base.pop();
                    i += 2;
                }
                Some(base)
            }
            _ => None,
        };
        let Some(base) = base else {
            i += 1;
            continue;
        };
        let mut target = |name: &str| {
            out.insert(match base.first() {
                Some(top) => top.clone(),
                None if modules.contains(name) => name.to_string(),
                None => ROOT.to_string(),
            });
        };
        if toks.get(i).map(String::as_str) == Some("{") {
            // `{a::X, b, c::{D, E}}`: the first name of each element.
            let mut group_depth = 0;
            let mut element_start = true;
            while i < toks.len() {
                match toks[i].as_str() {
                    "{" => {
                        group_depth += 1;
                        element_start = group_depth == 1;
                    }
                    "}" => {
                        group_depth -= 1;
                        if group_depth == 0 {
                            break;
                        }
                    }
                    "," if group_depth == 1 => element_start = true,
                    name if element_start && group_depth == 1 => {
                        target(name);
                        element_start = false;
                    }
                    _ => {}
                }
                i += 1;
            }
        } else if let Some(name) = toks.get(i) {
            target(name);
        }
        i += 1;
    }
    out
}

/// A cycle as `a -> … -> a`, if there is one.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Open,
        Done,
    }
    fn visit(
        n: &str,
        g: &Graph,
        state: &mut BTreeMap<String, State>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(State::Done) => return None,
            Some(State::Open) => {
                let from = stack.iter().position(|s| s == n).unwrap();
                let mut cycle = stack[from..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            None => {}
        }
        state.insert(n.to_string(), State::Open);
        stack.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, g, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), State::Done);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn show(g: &Graph) -> String {
    g.iter()
        .map(|(m, deps)| {
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            format!("{m} -> {}", deps.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
