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
    /// Reads a remote URL. Userinfo (`user:password@`, `TOKEN@`) is dropped
    /// before anything is derived, and no error repeats it.
    pub fn parse(url: &str) -> Result<Remote, ParseRemoteError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(ParseRemoteError("the remote URL is empty".into()));
        }
        let shown = redact(url);
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
            let (authority, path) = split_authority(rest);
            // An `@` past the host is a password holding `/`, `?` or `#`
            // unencoded (git cannot use such a remote either): what comes
            // before it is a credential, not a host or a path.
            if path.contains('@') {
                return Err(ParseRemoteError(
                    "the remote URL has an `@` after its host (a password with an unencoded `/`, `?` or `#`?); percent-encode it or drop the credentials from the remote".into(),
                ));
            }
            let path = path.trim_start_matches('/');
            let host_port = strip_userinfo(authority);
            let (host, port) = split_port(host_port)?;
            let web_port = if keep_port { port } else { None };
            // http(s) paths are URL-encoded already; ssh/git paths are raw.
            let decode = keep_port;
            return Remote::new(host, web_port, web_scheme, path, decode);
        }
        // scp-like syntax: git treats `host:path` as ssh only when the colon
        // comes before any slash; otherwise it is a local path.
        let local = || {
            ParseRemoteError(format!(
                "{shown:?} is a local path, which has no public web address"
            ))
        };
        match url.find(':') {
            Some(colon) if !url[..colon].contains('/') && colon > 0 => {
                // `[user[:password]@]host:path`: the credentials end at the
                // last `@` before the path, so a `:` inside them is not
                // taken for the one that ends the host.
                let without_user = scp_strip_userinfo(url);
                let (host, path) = without_user.split_once(':').ok_or_else(local)?;
                // A one-letter "host" is a Windows drive letter (C:\repo).
                if host.len() == 1 {
                    return Err(local());
                }
                Remote::new(host, None, "https", path, false)
            }
            _ => Err(local()),
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
    let bytes = crate::percent::decode(segment)
        .map_err(|_| ParseRemoteError(format!("bad percent escape in {segment:?}")))?;
    String::from_utf8(bytes)
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

/// `rest` (what follows `scheme://`) split where the authority ends: at
/// the first `/`, `?` or `#`, as curl and RFC 3986 read it. The second part
/// keeps its leading delimiter.
fn split_authority(rest: &str) -> (&str, &str) {
    rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()))
}

/// `host[:port]` of an authority, without `userinfo@`.
fn strip_userinfo(authority: &str) -> &str {
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

/// An scp-like remote without its `user[:password]@`: everything up to the
/// last `@` before the first `/` goes.
fn scp_strip_userinfo(url: &str) -> &str {
    let head = &url[..url.find('/').unwrap_or(url.len())];
    match head.rfind('@') {
        Some(at) => &url[at + 1..],
        None => url,
    }
}

/// The remote URL without any userinfo: `https://TOKEN@host/…`,
/// `https://TOKEN:x-oauth-basic@host/…` and `https://user:password@host/…`
/// all become `https://host/…`, and `user@host:path` becomes `host:path`.
/// Tokens in remotes are common and usually can push to the repository
/// every node applies, so nothing the tool records or prints keeps them.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, tail) = split_authority(rest);
        // An `@` past the authority means the credentials hold a `/`, `?`
        // or `#`: all of it up to the last `@` is credentials.
        let (host, tail) = match tail.rfind('@') {
            Some(at) => split_authority(&tail[at + 1..]),
            None => (strip_userinfo(authority), tail),
        };
        return format!("{scheme}://{host}{tail}");
    }
    if url.find(':').is_some_and(|c| !url[..c].contains('/')) {
        return scp_strip_userinfo(url).to_string();
    }
    url.to_string()
}

/// `text` (a message, a script) with every `scheme://…` URL in it passed
/// through [`redact`]; a URL ends at whitespace or a quote.
pub fn redact_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters, digits and `+-.` just before `://`.
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
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
    fn redacts_every_kind_of_userinfo() {
        for (url, shown) in [
            ("https://u:tok@h/a/b.git", "https://h/a/b.git"),
            (
                "https://TOKEN@github.com/a/b.git",
                "https://github.com/a/b.git",
            ),
            (
                "https://TOKEN:x-oauth-basic@github.com/a/b",
                "https://github.com/a/b",
            ),
            ("https://u:p@ss@h:8443/a/b", "https://h:8443/a/b"),
            ("https://u:pa/ss@h/a/b", "https://h/a/b"),
            ("https://u:pa?ss@h/a/b", "https://h/a/b"),
            ("ssh://git@h:22/a/b", "ssh://h:22/a/b"),
            ("git@h:a/b.git", "h:a/b.git"),
            ("TOKEN:x@github.com:a/b", "github.com:a/b"),
            ("https://h/a/b.git", "https://h/a/b.git"),
            ("/srv/git/a.git", "/srv/git/a.git"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
        assert_eq!(
            redact_in_text("fatal: 'https://TOKEN@h/a' and \"ssh://u:PW@h/b\" failed"),
            "fatal: 'https://h/a' and \"ssh://h/b\" failed"
        );
    }

    #[test]
    fn credentials_never_become_the_host_or_path() {
        for (url, host) in [
            ("TOKEN:x@github.com:acme/fleet.git", "github.com"),
            ("https://TOKEN@github.com/acme/fleet", "github.com"),
            (
                "https://TOKEN:x-oauth-basic@github.com/acme/fleet",
                "github.com",
            ),
            ("https://u:p@ss@github.com/acme/fleet", "github.com"),
        ] {
            let r = Remote::parse(url).unwrap();
            assert_eq!(r.host, host, "{url}");
            assert_eq!(r.segments, ["acme", "fleet"], "{url}");
        }
        for url in [
            "https://user:SECRET/x@github.com/acme/fleet",
            "https://user:12345/SECRET@github.com/acme/fleet",
            "https://user:SE?CRET@github.com/acme/fleet",
            "ssh://SECRET@/acme/fleet",
            "https://SECRET@h/%zz/fleet",
            "https://SECRET@github.com",
        ] {
            let e = Remote::parse(url).unwrap_err().to_string();
            assert!(!e.contains("SECRET") && !e.contains("12345"), "{url}: {e}");
        }
    }

    #[test]
    fn percent_encoding_keeps_unreserved() {
        assert_eq!(percent_encode("a-b_c.d~e/f g", false), "a-b_c.d~e%2Ff%20g");
        assert_eq!(percent_encode("a/b${c}", true), "a/b%24%7Bc%7D");
        assert_eq!(percent_encode("\u{e9}", false), "%C3%A9");
    }
}
