//! Git remote URLs, in the spellings git accepts, reduced to host + path.
//!
//! - `https://[user[:password]@]host[:port]/path` (and `http://`)
//! - `ssh://[user@]host[:port]/path`, `git+ssh://…`, `ssh+git://…`
//! - `git://host[:port]/path`
//! - scp-like `[user@]host:path` (git's rule: a `:` before the first `/`)
//!
//! Local paths and `file://` URLs have no public web address and are rejected.

use std::fmt;

/// A remote reduced to what a forge's web address needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// Lower-cased host name, without user or port.
    pub host: String,
    /// Port of an http(s) remote (the web server); `None` for ssh and git
    /// remotes, whose port says nothing about the web server.
    pub web_port: Option<u16>,
    /// `http` when the remote itself is plain http, else `https`.
    pub web_scheme: &'static str,
    /// Path segments, percent-decoded, with a trailing `.git` removed.
    pub segments: Vec<String>,
}

/// Why a remote URL cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseRemoteError(pub String);

impl fmt::Display for ParseRemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Remote {
    pub fn parse(url: &str) -> Result<Remote, ParseRemoteError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(ParseRemoteError("the remote URL is empty".into()));
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            let (web_scheme, keep_port) = match scheme.as_str() {
                "https" => ("https", true),
                "http" => ("http", true),
                "ssh" | "git+ssh" | "ssh+git" | "git" => ("https", false),
                "file" => {
                    return Err(ParseRemoteError(
                        "a file:// remote has no public web address".into(),
                    ))
                }
                other => {
                    return Err(ParseRemoteError(format!(
                        "unsupported remote URL scheme {other:?}"
                    )))
                }
            };
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let (host, port) = split_port(host_port)?;
            let web_port = if keep_port { port } else { None };
            // http(s) paths are URL-encoded already; ssh/git paths are raw.
            let decode = keep_port;
            return Remote::new(host, web_port, web_scheme, path, decode);
        }
        // scp-like syntax: git treats `host:path` as ssh only when the colon
        // comes before any slash; otherwise it is a local path.
        match url.find(':') {
            Some(colon) if !url[..colon].contains('/') && colon > 0 => {
                let (authority, path) = (&url[..colon], &url[colon + 1..]);
                let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                // A one-letter "host" is a Windows drive letter (C:\repo).
                if host.len() == 1 {
                    return Err(ParseRemoteError(format!(
                        "{url:?} is a local path, which has no public web address"
                    )));
                }
                Remote::new(host, None, "https", path, false)
            }
            _ => Err(ParseRemoteError(format!(
                "{url:?} is a local path, which has no public web address"
            ))),
        }
    }

    fn new(
        host: &str,
        web_port: Option<u16>,
        web_scheme: &'static str,
        path: &str,
        decode: bool,
    ) -> Result<Remote, ParseRemoteError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        {
            return Err(ParseRemoteError(format!(
                "the remote's host {host:?} is not a host name"
            )));
        }
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        let mut segments = Vec::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            let segment = if decode {
                percent_decode(segment)?
            } else {
                segment.to_string()
            };
            if segment == "." || segment == ".." {
                return Err(ParseRemoteError(format!(
                    "the remote path {path:?} has a `{segment}` segment"
                )));
            }
            segments.push(segment);
        }
        if segments.is_empty() {
            return Err(ParseRemoteError(
                "the remote URL names no repository".into(),
            ));
        }
        Ok(Remote {
            host: host.to_ascii_lowercase(),
            web_port,
            web_scheme,
            segments,
        })
    }

    /// `scheme://host[:port]` of the web server.
    pub fn origin(&self) -> String {
        // An IPv6 literal needs its brackets back in a URL.
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.web_port {
            Some(port) => format!("{}://{host}:{port}", self.web_scheme),
            None => format!("{}://{host}", self.web_scheme),
        }
    }
}

fn split_port(host_port: &str) -> Result<(&str, Option<u16>), ParseRemoteError> {
    // `[v6]:port` or `host:port`; a bare IPv6 literal has several colons.
    let (host, port) = if let Some(end) = host_port.find(']') {
        let rest = &host_port[end + 1..];
        (&host_port[..=end], rest.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (host_port, None),
        }
    };
    match port {
        None | Some("") => Ok((host, None)),
        Some(p) => p
            .parse::<u16>()
            .map(|p| (host, Some(p)))
            .map_err(|_| ParseRemoteError(format!("the remote's port {p:?} is not a number"))),
    }
}

fn percent_decode(segment: &str) -> Result<String, ParseRemoteError> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| ParseRemoteError(format!("bad percent escape in {segment:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ParseRemoteError(format!("{segment:?} is not UTF-8 once decoded")))
}

/// Percent-encodes one path segment (or, with `keep_slash`, a path): every
/// byte but RFC 3986's unreserved characters is encoded. That is more than
/// strictly needed, and it also keeps `$`, `{`, `}` and `#` out of the URL,
/// which the kernel command line could not carry.
pub fn percent_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The remote URL without a password (tokens in https remotes are common).
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest
            .split_once('/')
            .map_or((rest, None), |(a, p)| (a, Some(p)));
        if let Some((userinfo, host)) = authority.rsplit_once('@') {
            if let Some((user, _password)) = userinfo.split_once(':') {
                let path = path.map(|p| format!("/{p}")).unwrap_or_default();
                return format!("{scheme}://{user}:***@{host}{path}");
            }
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_paths() {
        let r = Remote::parse("ssh://git@[fd00::5]:2222/ops/fleet.git").unwrap();
        assert_eq!(r.host, "fd00::5");
        assert_eq!(r.web_port, None);
        assert_eq!(r.origin(), "https://[fd00::5]");
        assert_eq!(r.segments, ["ops", "fleet"]);

        let r = Remote::parse("http://[fd00::5]:3000/ops/fleet").unwrap();
        assert_eq!(r.origin(), "http://[fd00::5]:3000");

        let r = Remote::parse("https://host/a%2Fb/c%20d.git/").unwrap();
        assert_eq!(r.segments, ["a/b", "c d"]);

        let r = Remote::parse("  git@Host.Example:team/repo.git\n").unwrap();
        assert_eq!((r.host.as_str(), r.segments.len()), ("host.example", 2));
    }

    #[test]
    fn rejects_what_has_no_web_address() {
        for bad in [
            "C:\\repos\\fleet",
            "./fleet",
            "/srv/fleet.git",
            "https://host/a/../b",
            "https://host/%zz/b",
            "ssh://git@/a/b",
        ] {
            assert!(Remote::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact("https://u:tok@h/a/b.git"), "https://u:***@h/a/b.git");
        assert_eq!(redact("https://u@h/a/b.git"), "https://u@h/a/b.git");
        assert_eq!(redact("git@h:a/b.git"), "git@h:a/b.git");
    }

    #[test]
    fn percent_encoding_keeps_unreserved() {
        assert_eq!(percent_encode("a-b_c.d~e/f g", false), "a-b_c.d~e%2Ff%20g");
        assert_eq!(percent_encode("a/b${c}", true), "a/b%24%7Bc%7D");
        assert_eq!(percent_encode("\u{e9}", false), "%C3%A9");
    }
}
