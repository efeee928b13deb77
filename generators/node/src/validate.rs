//! Checks for user-supplied settings. Errors name the setting; values that
//! may be secret (URLs with tokens, hosts) are not repeated in messages.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};

/// A node hostname ([`crate::Hostname`]'s one rule).
pub fn node_hostname(name: &str, value: &str) -> Result<crate::Hostname> {
    crate::Hostname::parse(value).map_err(|why| Error::invalid(name, format!("`{value}` {why}")))
}

/// An RFC 1123 host name (any case), or the reason it is not one.
fn dns_name(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("it is empty".into());
    }
    if value.len() > 253 {
        return Err("it is longer than 253 characters".into());
    }
    for label in value.trim_end_matches('.').split('.') {
        if label.is_empty() {
            return Err("it has an empty label (`..` or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters".into());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "`{c}` is not allowed (letters, digits and `-` only)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with `-`".into());
        }
    }
    Ok(())
}

/// A host to connect to: a DNS name, an IPv4 address or an IPv6 address.
/// The value is not repeated in the error (it may identify a private
/// endpoint).
pub fn host(name: &str, value: &str) -> Result<()> {
    if value.parse::<Ipv4Addr>().is_ok() || value.parse::<Ipv6Addr>().is_ok() {
        return Ok(());
    }
    let bad = |why: String| Error::invalid(name, format!("not a host name or IP address: {why}"));
    dns_name(value).map_err(bad)?;
    // A name whose last label is a number is read as an IPv4 address by
    // the resolver (inet_aton: `1.2.3` is 1.2.0.3, `0x7f.1` is 127.0.0.1)
    // and by the WHATWG URL rules, so it never means the name it looks
    // like: a certificate for it can never match what is connected to.
    let last = value.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    if hex || last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "its last label is a number, yet it is not an IPv4 address a.b.c.d".into(),
        ));
    }
    Ok(())
}

/// The TLS syslog host: a [`host`], and also no trailing dot. `openssl
/// s_client -verify_hostname` compares the name as given with the
/// certificate's, and no certificate names `host.` with the dot, so such a
/// name could never verify.
pub fn tls_host(name: &str, value: &str) -> Result<()> {
    // `logs.example.com:12345`, as Papertrail shows a destination: say
    // where the port goes instead of only that `:` is not allowed.
    if let Some((h, p)) = value.rsplit_once(':') {
        let ipv6 = value.parse::<Ipv6Addr>().is_ok();
        if !ipv6 && !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                name,
                "holds a port after `:`; give the host alone here and the port as LOGEXPORT_PORT (--logexport-port)",
            ));
        }
    }
    host(name, value)?;
    if value.ends_with('.') {
        return Err(Error::invalid(
            name,
            "ends with `.`; certificates name hosts without the trailing dot, so give the name without it",
        ));
    }
    Ok(())
}

/// A TCP port, 1–65535.
pub fn port(name: &str, value: &str) -> Result<u16> {
    match value.parse::<u16>() {
        Ok(p) if p > 0 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(Error::invalid(name, "not a port number (1-65535)")),
    }
}

/// An absolute `http://` or `https://` URL with a valid host and optional
/// port. Only the scheme is checked against `schemes`.
pub fn url(name: &str, value: &str, schemes: &[&str]) -> Result<()> {
    let wanted = schemes
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(" or ");
    let bad = |why: &str| Error::invalid(name, format!("not a valid {wanted} URL: {why}"));
    let (scheme, rest) = value.split_once("://").ok_or_else(|| bad("no scheme"))?;
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(bad("wrong scheme"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains whitespace or control characters"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host_part, port_part) = if let Some(v6) = host_port.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        addr.parse::<Ipv6Addr>()
            .map_err(|_| bad("bad IPv6 address"))?;
        match after {
            "" => (None, None),
            p => (
                None,
                Some(p.strip_prefix(':').ok_or_else(|| bad("junk after `]`"))?),
            ),
        }
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(host_port), None),
        }
    };
    if let Some(h) = host_part {
        if h.is_empty() {
            return Err(bad("no host"));
        }
        host(name, h).map_err(|_| bad("bad host"))?;
    }
    if let Some(p) = port_part {
        port(name, p).map_err(|_| bad("bad port"))?;
    }
    Ok(())
}

/// A URL the node hands to `curl`: a [`url`] with one of `schemes`, and no
/// `[`, `]`, `{` or `}` outside an IPv6 host literal. curl expands those as
/// globs (`[1-100000]` is a hundred thousand requests) unless told not to,
/// and a capability URL must mean exactly one request wherever it is used.
pub fn curl_url(name: &str, value: &str, schemes: &[&str]) -> Result<()> {
    url(name, value, schemes)?;
    let rest = value.split_once("://").map_or(value, |(_, r)| r);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // `url` has checked that a `[` in the authority opens an IPv6 literal.
    let authority = match (authority.find('['), authority.find(']')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}{}", &authority[..open], &authority[close + 1..])
        }
        _ => authority.to_owned(),
    };
    if authority.contains(['[', ']', '{', '}']) || tail.contains(['[', ']', '{', '}']) {
        return Err(Error::invalid(
            name,
            "has `[`, `]`, `{` or `}`, which curl reads as a URL glob (many requests); percent-encode them as %5B, %5D, %7B, %7D",
        ));
    }
    Ok(())
}

/// OpenSSH public key lines for `authorized_keys` ([`crate::SshKey`]'s
/// one rule); errors name `source`, and `source:line` for a bad line.
pub fn ssh_public_keys(source: &str, text: &str) -> Result<Vec<String>> {
    use crate::{SshKey, SshKeyError};
    match SshKey::parse_all(text) {
        Ok(keys) => Ok(keys.into_iter().map(|k| k.as_str().to_owned()).collect()),
        Err(e @ SshKeyError::NotAKeyLine(line)) => {
            Err(Error::invalid(&format!("{source}:{line}"), e.to_string()))
        }
        Err(e) => Err(Error::invalid(source, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_with_its_port_says_where_the_port_goes() {
        let err = tls_host("LOGEXPORT_HOST", "logs5.papertrailapp.com:12345")
            .unwrap_err()
            .to_string();
        assert!(err.contains("LOGEXPORT_PORT"), "{err}");
        assert!(!err.contains("12345"), "{err}");
        assert!(tls_host("LOGEXPORT_HOST", "2001:db8::1").is_ok());
    }

    #[test]
    fn hostnames() {
        for good in ["node1", "k3s-a.lan", "a", "x1.example.com", "0node"] {
            node_hostname("NODE_HOSTNAME", good).unwrap();
        }
        for (bad, why) in [
            ("", "empty"),
            ("-node", "starts or ends"),
            ("node_1", "'_'"),
            ("Node1", "lowercase"),
            ("node1.", "trailing dot"),
            ("a..b", "empty label"),
            ("n\u{e9}", "only letters"),
            (&"a".repeat(65), "64"),
        ] {
            let e = node_hostname("NODE_HOSTNAME", bad).unwrap_err().to_string();
            assert!(
                e.starts_with("NODE_HOSTNAME:") && e.contains(why),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn ports_and_hosts() {
        assert_eq!(port("P", "514").unwrap(), 514);
        assert_eq!(port("P", "65535").unwrap(), 65535);
        for bad in ["0", "65536", "-1", "+5", " 5", "x", ""] {
            assert!(port("P", bad).is_err(), "{bad}");
        }
        for good in ["logs.example.com", "10.0.0.1", "::1", "fe80::1"] {
            host("H", good).unwrap();
        }
        assert!(host("H", "bad host").is_err());
    }

    #[test]
    fn numeric_names_and_trailing_dots_are_refused_for_tls() {
        for good in [
            "logs.example.com",
            "logs4.example.com",
            "10.0.0.1",
            "fd00::1",
            "1a.b",
        ] {
            tls_host("LOGEXPORT_HOST", good).unwrap();
        }
        for (bad, why) in [
            ("1.2.3", "last label is a number"),
            ("1.2.3.4.5", "last label is a number"),
            ("010.0.0.1", "last label is a number"),
            ("0x7f.1", "last label is a number"),
            ("host.0x1F", "last label is a number"),
            ("4294967295", "last label is a number"),
            ("logs.example.com.", "ends with `.`"),
            ("logs.", "ends with `.`"),
        ] {
            let e = tls_host("LOGEXPORT_HOST", bad).unwrap_err().to_string();
            assert!(
                e.starts_with("LOGEXPORT_HOST:") && e.contains(why),
                "{bad}: {e}"
            );
            assert!(!e.contains(bad), "the error repeats the value: {e}");
        }
    }

    #[test]
    fn urls() {
        let hs = ["http", "https"];
        for good in [
            "https://hc-ping.com/0b1c2d3e-aaaa-bbbb",
            "http://10.0.2.2:8080/x?y=z#f",
            "HTTPS://user:pw@example.com/",
            "https://[::1]:443/",
        ] {
            url("HEARTBEAT_URL", good, &hs).unwrap();
        }
        for bad in [
            "ftp://example.com/",
            "example.com/ping",
            "https://",
            "https://exa mple.com/secretpart",
            "https://example.com:99999/secretpart",
            "https://[::1/",
        ] {
            let e = url("HEARTBEAT_URL", bad, &hs).unwrap_err().to_string();
            assert!(e.starts_with("HEARTBEAT_URL:"), "{e}");
            assert!(!e.contains("secretpart"), "error leaks the value: {e}");
        }
        assert!(url("K3S_URL", "http://x:6443", &["https"]).is_err());
    }

    #[test]
    fn curl_urls_have_no_globs() {
        let hs = ["http", "https"];
        for good in [
            "https://hc-ping.com/0b1c2d3e",
            "https://[fd00::1]:8443/ping?x=%5B1-9%5D",
            "http://[::1]/",
        ] {
            curl_url("HEARTBEAT_URL", good, &hs).unwrap();
        }
        for bad in [
            "https://hc.example/secretpart[1-100000]",
            "https://hc.example/{secretpart,b}",
            "https://hc.example/p?secretpart=]",
            "https://{a,b}.example/secretpart",
            "https://[::1]{1,2}/secretpart",
            "file:///etc/secretpart",
            "gopher://hc.example/secretpart",
        ] {
            let e = curl_url("HEARTBEAT_URL", bad, &hs).unwrap_err().to_string();
            assert!(e.starts_with("HEARTBEAT_URL:"), "{bad}: {e}");
            assert!(!e.contains("secretpart"), "error leaks the value: {e}");
        }
    }

    #[test]
    fn ssh_keys() {
        let text = "# mine\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0vJ1 me@host\n\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ you\n";
        assert_eq!(ssh_public_keys("k.pub", text).unwrap().len(), 2);
        let e = ssh_public_keys("id", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("PRIVATE"), "{e}");
        let e = ssh_public_keys("k.pub", "ssh-ed25519\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("k.pub:1:"), "{e}");
        assert!(ssh_public_keys("k.pub", "\n# nothing\n").is_err());
    }
}
