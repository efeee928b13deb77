//! Reading `local` files and trees from `--files-dir`, refusing paths that
//! escape it (checked lexically, as Butane does).

use std::path::{Component, Path, PathBuf};

pub const NO_FILES_DIR: &str =
    "local file paths are relative to a files directory that must be specified with -d/--files-dir";
pub const ESCAPES: &str = "local file path traverses outside the files directory";

/// Lexical cleaning like Go's `filepath.Clean`.
pub fn clean(p: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        clean(p)
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        clean(&cwd.join(p))
    }
}

/// `files_dir` joined with a config-relative path (a leading `/` does not
/// make it absolute: Go's `filepath.Join` semantics).
pub fn join(files_dir: &Path, rel: &str) -> PathBuf {
    let rel = rel.trim_start_matches('/');
    clean(&files_dir.join(rel))
}

pub fn ensure_within(path: &Path, files_dir: &Path) -> Result<(), String> {
    let base = absolute(files_dir);
    let abs = absolute(path);
    if abs == base || abs.starts_with(&base) {
        Ok(())
    } else {
        Err(ESCAPES.into())
    }
}

/// An I/O error spelled the way Go spells it ("open PATH: no such file or
/// directory"), since users may grep for butane's wording.
pub fn io_message(op: &str, path: &Path, e: &std::io::Error) -> String {
    let text = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    };
    format!("{op} {}: {text}", path.display())
}

pub fn read(rel: &str, files_dir: Option<&Path>) -> Result<Vec<u8>, String> {
    let dir = files_dir.ok_or_else(|| NO_FILES_DIR.to_string())?;
    let path = join(dir, rel);
    ensure_within(&path, dir)?;
    match std::fs::read(&path) {
        Ok(b) => Ok(b),
        // Reading a directory fails at read(2) in Go, not at open(2).
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            Err(io_message("read", &path, &e))
        }
        Err(e) => Err(io_message("open", &path, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_refused_lexically() {
        let d = Path::new("/srv/files");
        assert!(ensure_within(&join(d, "a/../b"), d).is_ok());
        assert!(ensure_within(&join(d, "/etc/x"), d).is_ok());
        assert_eq!(ensure_within(&join(d, "../x"), d).unwrap_err(), ESCAPES);
        assert_eq!(
            ensure_within(&join(d, "a/../../files2/x"), d).unwrap_err(),
            ESCAPES
        );
        assert_eq!(read("x", None).unwrap_err(), NO_FILES_DIR);
    }
}
