//! Ignition's validation of a config (spec 3.3.0 / 3.4.0), reported at
//! the source location each output entry came from.

pub mod paths;
mod storage;
mod unit;
mod url;

use std::collections::HashSet;

use crate::diag::Report;
use crate::ignition::{self as ign, Spec};
use crate::origin::Origins;
use crate::path::Path;

const DUPLICATE: &str = "duplicate entry defined";

pub(super) struct V<'a> {
    pub(super) r: &'a mut Report,
    pub(super) spec: Spec,
}

/// Validates `c`; `origins` gives the source path of files, directories,
/// links and units (others map 1:1 onto the source).
pub fn config(c: &ign::Config, origins: &Origins, spec: Spec, r: &mut Report) {
    let mut v = V { r, spec };
    let root = Path::root();
    v.ignition(&c.ignition, &root.key("ignition"));
    v.dups_strings(
        [
            (&c.kernel_arguments.should_exist, "should_exist"),
            (&c.kernel_arguments.should_not_exist, "should_not_exist"),
        ],
        &root.key("kernel_arguments"),
    );
    v.passwd(&c.passwd, &root.key("passwd"));
    v.storage(c, origins, &root.key("storage"));
    v.systemd(c, origins);
    v.unit_path_conflicts(c, origins);
}

impl V<'_> {
    pub(super) fn err(&mut self, at: &Path, msg: &str) {
        self.r.error(at, msg);
    }

    /// Duplicate keys within one list (or a group of lists sharing keys).
    pub(super) fn dups(&mut self, lists: impl IntoIterator<Item = (Vec<String>, Vec<Path>)>) {
        let mut seen: HashSet<String> = HashSet::new();
        for (keys, at) in lists {
            for (k, p) in keys.into_iter().zip(at) {
                if !seen.insert(k) {
                    self.err(&p, DUPLICATE);
                }
            }
        }
    }

    pub(super) fn dups_strings<'a>(
        &mut self,
        lists: impl IntoIterator<Item = (&'a Vec<String>, &'a str)>,
        at: &Path,
    ) {
        let lists: Vec<_> = lists
            .into_iter()
            .map(|(l, name)| {
                (
                    l.clone(),
                    (0..l.len()).map(|i| at.key(name).index(i)).collect(),
                )
            })
            .collect();
        self.dups(lists);
    }

    pub(super) fn dups_by<T>(&mut self, items: &[T], at: &Path, key: impl Fn(&T) -> String) {
        let keys = items.iter().map(&key).collect();
        let paths = (0..items.len()).map(|i| at.index(i)).collect();
        self.dups([(keys, paths)]);
    }

    fn ignition(&mut self, i: &ign::Ignition, at: &Path) {
        let cfg = at.key("config");
        for (n, m) in i.config.merge.iter().enumerate() {
            let p = cfg.key("merge").index(n);
            self.required_source(m, &p);
            self.resource(m, &p);
        }
        self.dups_by(&i.config.merge, &cfg.key("merge"), res_key);
        self.resource(&i.config.replace, &cfg.key("replace"));
        let proxy = at.key("proxy");
        self.proxy(
            i.proxy.http_proxy.as_deref(),
            &proxy.key("http_proxy"),
            true,
        );
        self.proxy(
            i.proxy.https_proxy.as_deref(),
            &proxy.key("https_proxy"),
            false,
        );
        self.dups_strings([(&i.proxy.no_proxy, "no_proxy")], &proxy);
        let cas = at.key("security").key("tls").key("certificate_authorities");
        for (n, ca) in i.security.tls.certificate_authorities.iter().enumerate() {
            self.required_source(ca, &cas.index(n));
            self.resource(ca, &cas.index(n));
        }
        self.dups_by(&i.security.tls.certificate_authorities, &cas, res_key);
    }

    fn proxy(&mut self, s: Option<&str>, at: &Path, http_ok: bool) {
        let Some(s) = s else { return };
        match url::scheme(s) {
            Err(e) => self.err(at, e),
            Ok(sch) if sch != "http" && sch != "https" => self.err(at, "proxies must be http(s)"),
            Ok(sch) if sch == "http" && !http_ok => self.r.warn(
                at,
                "insecure plaintext HTTP proxy specified for HTTPS resources",
            ),
            Ok(_) => {}
        }
    }

    pub(super) fn url(&mut self, s: &str) -> Result<(), String> {
        if self.spec >= Spec::V3_4 && url::scheme(s).as_deref() == Ok("arn") {
            return arn(s);
        }
        url::validate(s)
    }

    fn required_source(&mut self, res: &ign::Resource, at: &Path) {
        match res.source.as_deref() {
            None | Some("") => self.err(at, "source is required"),
            Some(s) => {
                if let Err(e) = self.url(s) {
                    self.err(at, &e);
                }
            }
        }
    }

    pub(super) fn resource(&mut self, res: &ign::Resource, at: &Path) {
        if let Some(c) = &res.compression {
            if !c.is_empty() && c != "gzip" {
                self.err(&at.key("compression"), "invalid compression method");
            }
        }
        if res.verification.hash.is_some() && res.source.is_none() {
            self.err(
                &at.key("verification").key("hash"),
                "source must be specified if verification is specified",
            );
        }
        if let Some(s) = res.source.as_deref().filter(|s| !s.is_empty()) {
            if let Err(e) = self.url(s) {
                self.err(&at.key("source"), &e);
            }
        }
        if !res.http_headers.is_empty() {
            let hp = at.key("http_headers");
            match res
                .source
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(url::scheme)
            {
                None | Some(Err(_)) => self.err(&hp, url::INVALID_URL),
                Some(Ok(s)) if s != "http" && s != "https" => {
                    self.err(&hp, "cannot use HTTP headers with this source scheme")
                }
                _ => {}
            }
            for (i, h) in res.http_headers.iter().enumerate() {
                if h.name.is_empty() {
                    self.err(&hp.index(i).key("name"), "HTTP header name can't be empty");
                }
                if h.value.as_deref() == Some("") {
                    self.err(&hp.index(i).key("value"), "unable to parse HTTP header");
                }
            }
            self.dups_by(&res.http_headers, &hp, |h| h.name.clone());
        }
        if let Some(h) = &res.verification.hash {
            let at = at.key("verification").key("hash");
            match h.split_once('-') {
                None => self.err(&at, "malformed hash specifier"),
                Some((f, sum)) => {
                    let want = match f {
                        "sha512" => 128,
                        "sha256" => 64,
                        _ => {
                            self.err(&at, "unrecognized hash function");
                            return;
                        }
                    };
                    if sum.len() != want {
                        self.err(&at, "incorrect size for hash sum");
                    }
                }
            }
        }
    }

    fn passwd(&mut self, p: &ign::Passwd, at: &Path) {
        self.dups_by(&p.groups, &at.key("groups"), |g| g.name.clone());
        self.dups_by(&p.users, &at.key("users"), |u| u.name.clone());
        for (i, u) in p.users.iter().enumerate() {
            let up = at.key("users").index(i);
            self.dups_strings([(&u.groups, "groups")], &up);
            self.dups_strings([(&u.ssh_authorized_keys, "ssh_authorized_keys")], &up);
        }
    }

    pub(super) fn node(&mut self, n: &ign::Node, at: &Path) {
        if let Some(e) = paths::validate(&n.path) {
            self.err(&at.key("path"), e);
        }
        for (o, name) in [(&n.user, "user"), (&n.group, "group")] {
            if o.id.is_some() && o.name.as_deref().is_some_and(|s| !s.is_empty()) {
                self.err(&at.key(name), "cannot set both id and name");
            }
        }
    }

    pub(super) fn mode(&mut self, m: Option<i64>, at: &Path) {
        let Some(m) = m else { return };
        if !(0..=0o7777).contains(&m) {
            self.err(&at.key("mode"), "illegal file mode");
        }
        if (m as u32) & 0o7000 != 0 {
            self.r.warn(
                &at.key("mode"),
                "setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0",
            );
        }
    }
}

fn res_key(r: &ign::Resource) -> String {
    r.source.clone().unwrap_or_default()
}

/// Ignition 3.4's check of `arn:` (S3 access point / object) URLs.
fn arn(s: &str) -> Result<(), String> {
    const BAD: &str = "invalid S3 ARN format";
    let opaque = s.split(['?', '#']).next().unwrap_or("");
    let parts: Vec<&str> = opaque.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != "s3" {
        return Err(BAD.into());
    }
    let slashes = opaque.split('/').count();
    if (parts[5].starts_with("accesspoint/") && slashes < 3) || slashes < 2 {
        return Err(BAD.into());
    }
    Ok(())
}
