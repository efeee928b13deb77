//! `storage.trees`: a directory under `--files-dir` expanded into files
//! (mode 0644, or 0755 when any execute bit is set) and symlinks, walked in
//! lexical order as Go's `filepath.Walk` does.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path as FsPath;

use super::{dataurl, local, Origins, Translator};
use crate::ignition as ign;
use crate::ignition::validate::paths;
use crate::path::Path;
use crate::schema as bu;

const NODE_EXISTS: &str = "matching filesystem node has existing contents or different type";
const NOT_DIR: &str = "root of tree must be a directory";
const FILE_TYPE: &str = "trees may only contain files, directories, and symlinks";

struct Tracker {
    files: HashMap<String, usize>,
    dirs: HashMap<String, usize>,
    links: HashMap<String, usize>,
}

impl Tracker {
    fn new(c: &ign::Config) -> Self {
        let index = |paths: Vec<&String>| {
            paths
                .into_iter()
                .enumerate()
                .map(|(i, p)| (p.clone(), i))
                .collect()
        };
        Tracker {
            files: index(c.storage.files.iter().map(|f| &f.node.path).collect()),
            dirs: index(c.storage.directories.iter().map(|f| &f.node.path).collect()),
            links: index(c.storage.links.iter().map(|f| &f.node.path).collect()),
        }
    }
    fn exists(&self, p: &str) -> bool {
        self.files.contains_key(p) || self.dirs.contains_key(p) || self.links.contains_key(p)
    }
}

/// Go's `path.Join` + `Clean` for slash paths.
fn slash_join(base: &str, rel: &str) -> String {
    if rel.is_empty() || rel == "." {
        paths::clean(base)
    } else {
        paths::clean(&format!("{base}/{rel}"))
    }
}

pub(super) fn process(
    t: &mut Translator<'_>,
    trees: &[bu::Tree],
    out: &mut ign::Config,
    origins: &mut Origins,
) {
    if trees.is_empty() {
        return;
    }
    let mut tracker = Tracker::new(out);
    for (i, tree) in trees.iter().enumerate() {
        let at = Path::root().key("storage").key("trees").index(i);
        let Some(dir) = t.options.files_dir.clone() else {
            t.report.error(&at, local::NO_FILES_DIR);
            return;
        };
        let src = local::join(&dir, &tree.local);
        if let Err(e) = local::ensure_within(&src, &dir) {
            t.report.error(&at, e);
            continue;
        }
        match std::fs::metadata(&src) {
            Err(e) => {
                t.report.error(&at, local::io_message("stat", &src, &e));
                continue;
            }
            Ok(m) if !m.is_dir() => {
                t.report.error(&at, NOT_DIR);
                continue;
            }
            Ok(_) => {}
        }
        let dest = tree
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("/")
            .to_string();
        let mut w = Walk {
            t: &mut *t,
            tracker: &mut tracker,
            out: &mut *out,
            origins: &mut *origins,
            at: &at,
        };
        w.walk(&src, "", &dest);
    }
}

struct Walk<'w, 'a> {
    t: &'w mut Translator<'a>,
    tracker: &'w mut Tracker,
    out: &'w mut ign::Config,
    origins: &'w mut Origins,
    at: &'w Path,
}

impl Walk<'_, '_> {
    fn walk(&mut self, fs_path: &FsPath, rel: &str, dest_base: &str) {
        let meta = match std::fs::symlink_metadata(fs_path) {
            Ok(m) => m,
            Err(e) => {
                return self
                    .t
                    .report
                    .error(self.at, local::io_message("lstat", fs_path, &e))
            }
        };
        let dest = slash_join(dest_base, rel);
        let ft = meta.file_type();
        if ft.is_dir() {
            let mut names: Vec<_> = match std::fs::read_dir(fs_path) {
                Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
                Err(e) => {
                    return self
                        .t
                        .report
                        .error(self.at, local::io_message("open", fs_path, &e))
                }
            };
            names.sort();
            for name in names {
                let Some(n) = name.to_str() else {
                    self.t.report.error(
                        self.at,
                        format!("{}: file name is not UTF-8", fs_path.display()),
                    );
                    continue;
                };
                let child_rel = if rel.is_empty() {
                    n.to_string()
                } else {
                    format!("{rel}/{n}")
                };
                self.walk(&fs_path.join(&name), &child_rel, dest_base);
            }
        } else if ft.is_file() {
            self.file(fs_path, &dest, meta.permissions().mode());
        } else if ft.is_symlink() {
            self.link(fs_path, &dest);
        } else {
            self.t.report.error(self.at, FILE_TYPE);
        }
    }

    fn file(&mut self, fs_path: &FsPath, dest: &str, perm: u32) {
        let files = &mut self.out.storage.files;
        let idx = match self.tracker.files.get(dest) {
            Some(&i) => {
                if files[i]
                    .contents
                    .source
                    .as_deref()
                    .is_some_and(|s| !s.is_empty())
                {
                    return self.t.report.error(self.at, NODE_EXISTS);
                }
                i
            }
            None => {
                if self.tracker.exists(dest) {
                    return self.t.report.error(self.at, NODE_EXISTS);
                }
                files.push(ign::File {
                    node: ign::Node {
                        path: dest.to_string(),
                        ..Default::default()
                    },
                    ..Default::default()
                });
                self.origins.files.push(self.at.clone());
                self.tracker.files.insert(dest.to_string(), files.len() - 1);
                files.len() - 1
            }
        };
        let bytes = match std::fs::read(fs_path) {
            Ok(b) => b,
            Err(e) => {
                return self
                    .t
                    .report
                    .error(self.at, local::io_message("open", fs_path, &e))
            }
        };
        let file = &mut self.out.storage.files[idx];
        let d = dataurl::make(&bytes, file.contents.compression.as_deref(), true);
        file.contents.source = Some(d.url);
        if d.compression.is_some() {
            file.contents.compression = d.compression;
        }
        if file.mode.is_none() {
            file.mode = Some(if perm & 0o111 != 0 { 0o755 } else { 0o644 });
        }
    }

    fn link(&mut self, fs_path: &FsPath, dest: &str) {
        let links = &mut self.out.storage.links;
        let idx = match self.tracker.links.get(dest) {
            Some(&i) => {
                if links[i].target.as_deref().is_some_and(|s| !s.is_empty()) {
                    return self.t.report.error(self.at, NODE_EXISTS);
                }
                i
            }
            None => {
                if self.tracker.exists(dest) {
                    return self.t.report.error(self.at, NODE_EXISTS);
                }
                links.push(ign::Link {
                    node: ign::Node {
                        path: dest.to_string(),
                        ..Default::default()
                    },
                    ..Default::default()
                });
                self.origins.links.push(self.at.clone());
                self.tracker.links.insert(dest.to_string(), links.len() - 1);
                links.len() - 1
            }
        };
        match std::fs::read_link(fs_path) {
            Ok(target) => {
                self.out.storage.links[idx].target = Some(target.to_string_lossy().into_owned())
            }
            Err(e) => self
                .t
                .report
                .error(self.at, local::io_message("readlink", fs_path, &e)),
        }
    }
}
