//! Path rules of Ignition: absolute and clean (Go's `path.Clean`).

pub const NO_PATH: &str = "path not specified";
pub const RELATIVE: &str = "path not absolute";
pub const DIRTY: &str = "path is not fully simplified";

/// Go's `path.Clean` for slash-separated paths.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (abs, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

pub fn validate(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        Some(NO_PATH)
    } else if !p.starts_with('/') {
        Some(RELATIVE)
    } else if clean(p) != p {
        Some(DIRTY)
    } else {
        None
    }
}

/// Go's `path.Join`.
pub fn join(base: &str, rel: &str) -> String {
    clean(&format!("{base}/{rel}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignition_path_rules() {
        assert_eq!(validate("/etc/x"), None);
        assert_eq!(validate("etc/x"), Some(RELATIVE));
        assert_eq!(validate("/etc//x"), Some(DIRTY));
        assert_eq!(validate("/etc/x/"), Some(DIRTY));
        assert_eq!(validate("/etc/../x"), Some(DIRTY));
        assert_eq!(validate(""), Some(NO_PATH));
        assert_eq!(clean("/a/b/../../.."), "/");
    }
}
