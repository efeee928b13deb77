//! YAML tree -> [`schema`](crate::schema) types, the way go-yaml v3 decodes
//! into Butane's Go structs: null leaves a field at its zero value, a scalar
//! of the wrong kind is a type error ("cannot unmarshal !!str `x` into int"),
//! and a key the spec version does not know is reported as an unused key
//! (a warning, as in Butane; `--strict` turns it into a failure).
//!
//! Unused keys are looked up the way butane does it: each struct's decoded
//! path is followed in the context tree ([`Ctx`]: aliases not expanded, `<<`
//! a plain key), and every key of the mapping found there that the struct
//! does not know is unused; a struct whose path leads to a null, a scalar,
//! a sequence or an alias gets butane's "context tree does not match"
//! warning. So `<<` is an unused key, content reached through an alias or a
//! merge is not checked for unused keys, and after a dropped null list item
//! the check looks at the raw item with the decoded index, all as in butane.

use crate::diag::{Diagnostic, Report, Severity};
use crate::path::{Path, Seg};
use crate::schema::*;
use crate::span::Span;
use crate::yaml::scalar::{bool_word, resolve, Resolved};
use crate::yaml::{Ctx, Kind, Node, Scalar, Style};

pub struct Decoder<'r, 'c> {
    version: Version,
    report: &'r mut Report,
    path: Path,
    /// The context-tree node at each prefix of `path` (None where the
    /// context tree has nothing there).
    ctx: Vec<Option<&'c Ctx>>,
    /// Set while asking a struct's decoder whether it knows a key: nothing
    /// is decoded or reported then.
    probing: bool,
}

pub fn decode(root: &Node, context: Option<&Ctx>, version: Version, report: &mut Report) -> Config {
    let mut d = Decoder {
        version,
        report,
        path: Path::root(),
        ctx: vec![context],
        probing: false,
    };
    d.config(root)
}

/// The value a key is probed with: null decodes into every field without
/// a report.
fn null_node() -> Node {
    Node {
        kind: Kind::Scalar(Scalar {
            value: String::new(),
            style: Style::Plain,
            tag: None,
        }),
        span: Default::default(),
    }
}

impl<'c> Decoder<'_, 'c> {
    fn v11(&self) -> bool {
        self.version >= Version::V1_1
    }

    fn type_error(&mut self, n: &Node, into: &str) {
        debug_assert!(!self.probing, "a probe decodes only nulls");
        let tag = match &n.kind {
            Kind::Scalar(s) => s.tag.clone().unwrap_or_else(|| n.short_tag().to_string()),
            _ => n.short_tag().to_string(),
        };
        let value = match &n.kind {
            Kind::Scalar(s) => {
                // go-yaml shortens long values to 7 bytes and "...".
                let v = &s.value;
                if v.len() > 10 {
                    let mut cut = 7;
                    while !v.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    format!(" `{}...`", &v[..cut])
                } else {
                    format!(" `{v}`")
                }
            }
            _ => String::new(),
        };
        self.report.entries.push(Diagnostic {
            severity: Severity::Error,
            message: format!("cannot unmarshal {tag}{value} into {into}"),
            path: Some(self.path.clone()),
            span: Some(n.span),
        });
    }

    fn invalid(&mut self, n: &Node, msg: String) {
        debug_assert!(!self.probing, "a probe decodes only nulls");
        self.report.entries.push(Diagnostic {
            severity: Severity::Error,
            message: msg,
            path: Some(self.path.clone()),
            span: Some(n.span),
        });
    }

    fn here(&self) -> Option<&'c Ctx> {
        self.ctx.last().copied().flatten()
    }

    fn enter(&mut self, seg: Seg, ctx: Option<&'c Ctx>) {
        self.path.0.push(seg);
        self.ctx.push(ctx);
    }

    fn leave(&mut self) {
        self.path.0.pop();
        self.ctx.pop();
    }

    fn warn_at(&mut self, span: Span, path: Path, message: String) {
        self.report.entries.push(Diagnostic {
            severity: Severity::Warning,
            message,
            path: Some(path),
            span: Some(span),
        });
    }

    /// Walks a mapping that decodes into a struct; `f` decodes a known key
    /// and returns false for an unknown one.
    fn fields(&mut self, n: &Node, ty: &str, mut f: impl FnMut(&mut Self, &str, &Node) -> bool) {
        if self.probing {
            return;
        }
        self.unused_keys(&mut f);
        match &n.kind {
            Kind::Map(entries) => {
                for (k, v) in entries {
                    let Some(key) = k.key_text() else { continue };
                    let ctx = self.here().and_then(|c| c.key(key));
                    self.enter(Seg::Key(key.to_string()), ctx);
                    f(self, key, v);
                    self.leave();
                }
            }
            _ if n.is_null() => {}
            _ => self.type_error(n, ty),
        }
    }

    /// Butane's `ValidateUnusedKeys` for the struct at `path`, run before
    /// the struct is decoded (a probe resets the fields it asks about).
    fn unused_keys(&mut self, f: &mut impl FnMut(&mut Self, &str, &Node) -> bool) {
        match self.here() {
            None => {}
            Some(Ctx::Map(m)) => {
                let null = null_node();
                for (key, span, _) in &m.entries {
                    // No path or context is pushed: a probe reports
                    // nothing that would need them.
                    self.probing = true;
                    let known = f(self, key, &null);
                    self.probing = false;
                    if !known {
                        let path = self.path.key_of(key);
                        self.warn_at(*span, path, format!("unused key {key}"));
                    }
                }
            }
            Some(other) => {
                let message = format!(
                    "context tree does not match content tree at {}. Line and column \
                     reporting may be inconsistent. Unused keys may not be reported",
                    self.path
                );
                self.warn_at(other.span(), self.path.clone(), message);
            }
        }
    }

    fn list<T>(&mut self, n: &Node, ty: &str, mut f: impl FnMut(&mut Self, &Node) -> T) -> Vec<T> {
        match &n.kind {
            Kind::Seq(items) => {
                // go-yaml's sequence decoder keeps an item only when it
                // decoded; a null item into a string or struct element does
                // not (`decoder.null` sets only pointers, maps, slices and
                // interfaces; butane's vendored gopkg.in/yaml.v3 decode.go,
                // `sequence` and `null`). Every butane list has string or
                // struct elements, so a bare `-`, `- ~` or `- null` is
                // dropped, and later items move up: paths count decoded
                // items, as butane's do ([`Node::child`] counts the same way).
                let mut out = Vec::with_capacity(items.len());
                for item in items.iter().filter(|item| !item.is_null()) {
                    let i = out.len();
                    let ctx = self.here().and_then(|c| c.item(i));
                    self.enter(Seg::Index(i), ctx);
                    out.push(f(self, item));
                    self.leave();
                }
                out
            }
            _ if n.is_null() => Vec::new(),
            _ => {
                self.type_error(n, ty);
                Vec::new()
            }
        }
    }

    fn string(&mut self, n: &Node) -> String {
        self.opt_string(n).unwrap_or_default()
    }

    fn opt_string(&mut self, n: &Node) -> Option<String> {
        match &n.kind {
            Kind::Scalar(s) => match resolve(s) {
                Resolved::Null => None,
                Resolved::Binary(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                Resolved::Invalid(msg) => {
                    self.invalid(n, msg);
                    None
                }
                // go-yaml stores the scalar's text, whatever it resolved to.
                _ => Some(s.value.clone()),
            },
            _ => {
                self.type_error(n, "string");
                None
            }
        }
    }

    /// Like [`Self::opt_string`], but keeps `!!binary` contents as bytes.
    fn opt_bytes(&mut self, n: &Node) -> Option<Vec<u8>> {
        if let Kind::Scalar(s) = &n.kind {
            if let Resolved::Binary(b) = resolve(s) {
                return Some(b);
            }
        }
        self.opt_string(n).map(String::into_bytes)
    }

    fn strings(&mut self, n: &Node, ty: &str) -> Vec<String> {
        self.list(n, ty, |d, item| d.string(item))
    }

    fn opt_int(&mut self, n: &Node) -> Option<i64> {
        let Kind::Scalar(s) = &n.kind else {
            self.type_error(n, "int");
            return None;
        };
        match resolve(s) {
            Resolved::Null => None,
            Resolved::Int(i) if i64::try_from(i).is_ok() => Some(i as i64),
            // go-yaml converts floats (truncating) when they fit.
            Resolved::Float(f) if f <= i64::MAX as f64 => Some(f as i64),
            Resolved::Invalid(msg) => {
                self.invalid(n, msg);
                None
            }
            _ => {
                self.type_error(n, "int");
                None
            }
        }
    }

    fn int(&mut self, n: &Node) -> i64 {
        self.opt_int(n).unwrap_or(0)
    }

    fn opt_bool(&mut self, n: &Node) -> Option<bool> {
        let Kind::Scalar(s) = &n.kind else {
            self.type_error(n, "bool");
            return None;
        };
        match resolve(s) {
            Resolved::Null => None,
            Resolved::Bool(b) => Some(b),
            Resolved::Str(t) if bool_word(t).is_some() => bool_word(t),
            Resolved::Invalid(msg) => {
                self.invalid(n, msg);
                None
            }
            _ => {
                self.type_error(n, "bool");
                None
            }
        }
    }

    fn config(&mut self, n: &Node) -> Config {
        let mut c = Config::default();
        self.fields(n, "Config", |d, k, v| {
            match k {
                "version" => c.version = d.string(v),
                "variant" => c.variant = d.string(v),
                "ignition" => c.ignition = d.ignition(v),
                "kernel_arguments" => {
                    d.fields(v, "KernelArguments", |d, k, v| {
                        match k {
                            "should_exist" => {
                                c.kernel_arguments.should_exist = d.strings(v, "[]KernelArgument")
                            }
                            "should_not_exist" => {
                                c.kernel_arguments.should_not_exist =
                                    d.strings(v, "[]KernelArgument")
                            }
                            _ => return false,
                        }
                        true
                    });
                }
                "passwd" => c.passwd = d.passwd(v),
                "storage" => c.storage = d.storage(v),
                "systemd" => c.systemd = d.systemd(v),
                _ => return false,
            }
            true
        });
        c
    }

    fn ignition(&mut self, n: &Node) -> Ignition {
        let mut ign = Ignition::default();
        self.fields(n, "Ignition", |d, k, v| {
            match k {
                "config" => d.fields(v, "IgnitionConfig", |d, k, v| {
                    match k {
                        "merge" => ign.config.merge = d.list(v, "[]Resource", Self::resource),
                        "replace" => ign.config.replace = d.resource(v),
                        _ => return false,
                    }
                    true
                }),
                "proxy" => d.fields(v, "Proxy", |d, k, v| {
                    match k {
                        "http_proxy" => ign.proxy.http_proxy = d.opt_string(v),
                        "https_proxy" => ign.proxy.https_proxy = d.opt_string(v),
                        "no_proxy" => ign.proxy.no_proxy = d.strings(v, "[]string"),
                        _ => return false,
                    }
                    true
                }),
                "security" => d.fields(v, "Security", |d, k, v| {
                    match k {
                        "tls" => d.fields(v, "TLS", |d, k, v| {
                            match k {
                                "certificate_authorities" => {
                                    ign.security.tls.certificate_authorities =
                                        d.list(v, "[]Resource", Self::resource)
                                }
                                _ => return false,
                            }
                            true
                        }),
                        _ => return false,
                    }
                    true
                }),
                "timeouts" => d.fields(v, "Timeouts", |d, k, v| {
                    match k {
                        "http_response_headers" => {
                            ign.timeouts.http_response_headers = d.opt_int(v)
                        }
                        "http_total" => ign.timeouts.http_total = d.opt_int(v),
                        _ => return false,
                    }
                    true
                }),
                _ => return false,
            }
            true
        });
        ign
    }

    fn resource(&mut self, n: &Node) -> Resource {
        let mut r = Resource::default();
        self.fields(n, "Resource", |d, k, v| {
            match k {
                "compression" => r.compression = d.opt_string(v),
                "http_headers" => {
                    r.http_headers = d.list(v, "HTTPHeaders", |d, n| {
                        let mut h = HttpHeader::default();
                        d.fields(n, "HTTPHeader", |d, k, v| {
                            match k {
                                "name" => h.name = d.string(v),
                                "value" => h.value = d.opt_string(v),
                                _ => return false,
                            }
                            true
                        });
                        h
                    })
                }
                "source" => r.source = d.opt_string(v),
                "inline" => r.inline = d.opt_bytes(v),
                "local" => r.local = d.opt_string(v),
                "verification" => d.fields(v, "Verification", |d, k, v| {
                    match k {
                        "hash" => r.verification.hash = d.opt_string(v),
                        _ => return false,
                    }
                    true
                }),
                _ => return false,
            }
            true
        });
        r
    }

    fn owner(&mut self, n: &Node, ty: &str) -> NodeOwner {
        let mut o = NodeOwner::default();
        self.fields(n, ty, |d, k, v| {
            match k {
                "id" => o.id = d.opt_int(v),
                "name" => o.name = d.opt_string(v),
                _ => return false,
            }
            true
        });
        o
    }

    fn passwd(&mut self, n: &Node) -> Passwd {
        let mut p = Passwd::default();
        self.fields(n, "Passwd", |d, k, v| {
            match k {
                "groups" => p.groups = d.list(v, "[]PasswdGroup", Self::group),
                "users" => p.users = d.list(v, "[]PasswdUser", Self::user),
                _ => return false,
            }
            true
        });
        p
    }

    fn group(&mut self, n: &Node) -> PasswdGroup {
        let mut g = PasswdGroup::default();
        self.fields(n, "PasswdGroup", |d, k, v| {
            match k {
                "gid" => g.gid = d.opt_int(v),
                "name" => g.name = d.string(v),
                "password_hash" => g.password_hash = d.opt_string(v),
                "should_exist" => g.should_exist = d.opt_bool(v),
                "system" => g.system = d.opt_bool(v),
                _ => return false,
            }
            true
        });
        g
    }

    fn user(&mut self, n: &Node) -> PasswdUser {
        let mut u = PasswdUser::default();
        let v11 = self.v11();
        self.fields(n, "PasswdUser", |d, k, v| {
            match k {
                "gecos" => u.gecos = d.opt_string(v),
                "groups" => u.groups = d.strings(v, "[]Group"),
                "home_dir" => u.home_dir = d.opt_string(v),
                "name" => u.name = d.string(v),
                "no_create_home" => u.no_create_home = d.opt_bool(v),
                "no_log_init" => u.no_log_init = d.opt_bool(v),
                "no_user_group" => u.no_user_group = d.opt_bool(v),
                "password_hash" => u.password_hash = d.opt_string(v),
                "primary_group" => u.primary_group = d.opt_string(v),
                "should_exist" => u.should_exist = d.opt_bool(v),
                "ssh_authorized_keys" => u.ssh_authorized_keys = d.strings(v, "[]SSHAuthorizedKey"),
                "ssh_authorized_keys_local" if v11 => {
                    u.ssh_authorized_keys_local = d.strings(v, "[]string")
                }
                "shell" => u.shell = d.opt_string(v),
                "system" => u.system = d.opt_bool(v),
                "uid" => u.uid = d.opt_int(v),
                _ => return false,
            }
            true
        });
        u
    }

    fn systemd(&mut self, n: &Node) -> Systemd {
        let mut s = Systemd::default();
        let v11 = self.v11();
        self.fields(n, "Systemd", |d, k, v| {
            match k {
                "units" => {
                    s.units = d.list(v, "[]Unit", |d, n| {
                        let mut u = Unit::default();
                        d.fields(n, "Unit", |d, k, v| {
                            match k {
                                "contents" => u.contents = d.opt_string(v),
                                "contents_local" if v11 => u.contents_local = d.opt_string(v),
                                "dropins" => {
                                    u.dropins = d.list(v, "[]Dropin", |d, n| {
                                        let mut dr = Dropin::default();
                                        d.fields(n, "Dropin", |d, k, v| {
                                            match k {
                                                "contents" => dr.contents = d.opt_string(v),
                                                "contents_local" if v11 => {
                                                    dr.contents_local = d.opt_string(v)
                                                }
                                                "name" => dr.name = d.string(v),
                                                _ => return false,
                                            }
                                            true
                                        });
                                        dr
                                    })
                                }
                                "enabled" => u.enabled = d.opt_bool(v),
                                "mask" => u.mask = d.opt_bool(v),
                                "name" => u.name = d.string(v),
                                _ => return false,
                            }
                            true
                        });
                        u
                    })
                }
                _ => return false,
            }
            true
        });
        s
    }
}

mod storage;
