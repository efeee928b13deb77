//! Butane config -> Ignition config: field renames plus Butane's sugar
//! (inline/local contents as data URLs, `with_mount_unit`, trees,
//! `contents_local`, `ssh_authorized_keys_local`).

mod dataurl;
mod local;
mod mount;
mod tree;

use std::path::PathBuf;

use crate::diag::Report;
use crate::ignition as ign;
use crate::origin::Origins;
use crate::path::Path;
use crate::schema::{self as bu, Version};

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-d/--files-dir`: where `local` contents and trees are read from.
    pub files_dir: Option<PathBuf>,
}

pub struct Translator<'a> {
    pub version: Version,
    pub options: &'a Options,
    pub report: &'a mut Report,
}

pub fn translate(
    c: &bu::Config,
    version: Version,
    options: &Options,
    report: &mut Report,
) -> (ign::Config, Origins) {
    let mut t = Translator {
        version,
        options,
        report,
    };
    let root = Path::root();
    let mut out = ign::Config {
        ignition: t.ignition(&c.ignition, &root.key("ignition")),
        kernel_arguments: ign::KernelArguments {
            should_exist: c.kernel_arguments.should_exist.clone(),
            should_not_exist: c.kernel_arguments.should_not_exist.clone(),
        },
        passwd: ign::Passwd {
            groups: c.passwd.groups.iter().map(group).collect(),
            users: c
                .passwd
                .users
                .iter()
                .enumerate()
                .map(|(i, u)| t.user(u, &root.key("passwd").key("users").index(i)))
                .collect(),
        },
        storage: t.storage(&c.storage, &root.key("storage")),
        systemd: ign::Systemd {
            units: c
                .systemd
                .units
                .iter()
                .enumerate()
                .map(|(i, u)| t.unit(u, &root.key("systemd").key("units").index(i)))
                .collect(),
        },
    };
    out.ignition.version = version.ignition_version().to_string();

    let storage = root.key("storage");
    let mut origins = Origins {
        files: (0..out.storage.files.len())
            .map(|i| storage.key("files").index(i))
            .collect(),
        directories: (0..out.storage.directories.len())
            .map(|i| storage.key("directories").index(i))
            .collect(),
        links: (0..out.storage.links.len())
            .map(|i| storage.key("links").index(i))
            .collect(),
        units: (0..out.systemd.units.len())
            .map(|i| root.key("systemd").key("units").index(i))
            .collect(),
    };
    add_mount_units(c, &mut out, &mut origins);
    tree::process(&mut t, &c.storage.trees, &mut out, &mut origins);
    (out, origins)
}

/// Generated mount units act as a parent config that the user's config is
/// merged into (as Butane does it): they come first, and a user unit of the
/// same name overrides their fields.
fn add_mount_units(c: &bu::Config, out: &mut ign::Config, origins: &mut Origins) {
    let mut units = Vec::new();
    let mut unit_origins = Vec::new();
    for (i, fs) in c.storage.filesystems.iter().enumerate() {
        if fs.with_mount_unit != Some(true) {
            continue;
        }
        let (name, contents) = mount::unit_for(fs, &c.storage.luks);
        units.push(ign::Unit {
            contents: Some(contents),
            enabled: Some(true),
            name,
            ..Default::default()
        });
        unit_origins.push(
            Path::root()
                .key("storage")
                .key("filesystems")
                .index(i)
                .key("with_mount_unit"),
        );
    }
    if units.is_empty() {
        return;
    }
    let user_units = std::mem::take(&mut out.systemd.units);
    let user_origins = std::mem::take(&mut origins.units);
    for (u, o) in user_units.into_iter().zip(user_origins) {
        if let Some(j) = units.iter().position(|g| g.name == u.name) {
            let g = &mut units[j];
            if u.contents.is_some() {
                g.contents = u.contents;
            }
            if u.enabled.is_some() {
                g.enabled = u.enabled;
            }
            if u.mask.is_some() {
                g.mask = u.mask;
            }
            for d in u.dropins {
                match g.dropins.iter_mut().find(|x| x.name == d.name) {
                    Some(x) => {
                        if d.contents.is_some() {
                            x.contents = d.contents;
                        }
                    }
                    None => g.dropins.push(d),
                }
            }
            unit_origins[j] = o;
        } else {
            units.push(u);
            unit_origins.push(o);
        }
    }
    out.systemd.units = units;
    origins.units = unit_origins;
}

fn group(g: &bu::PasswdGroup) -> ign::PasswdGroup {
    ign::PasswdGroup {
        gid: g.gid,
        name: g.name.clone(),
        password_hash: g.password_hash.clone(),
        should_exist: g.should_exist,
        system: g.system,
    }
}

fn owner(o: &bu::NodeOwner) -> ign::NodeOwner {
    ign::NodeOwner {
        id: o.id,
        name: o.name.clone(),
    }
}

impl Translator<'_> {
    fn ignition(&mut self, i: &bu::Ignition, at: &Path) -> ign::Ignition {
        let cfg = at.key("config");
        ign::Ignition {
            config: ign::IgnitionConfig {
                merge: i
                    .config
                    .merge
                    .iter()
                    .enumerate()
                    .map(|(n, r)| self.resource(r, &cfg.key("merge").index(n)))
                    .collect(),
                replace: self.resource(&i.config.replace, &cfg.key("replace")),
            },
            proxy: ign::Proxy {
                http_proxy: i.proxy.http_proxy.clone(),
                https_proxy: i.proxy.https_proxy.clone(),
                no_proxy: i.proxy.no_proxy.clone(),
            },
            security: ign::Security {
                tls: ign::Tls {
                    certificate_authorities: i
                        .security
                        .tls
                        .certificate_authorities
                        .iter()
                        .enumerate()
                        .map(|(n, r)| {
                            self.resource(
                                r,
                                &at.key("security")
                                    .key("tls")
                                    .key("certificate_authorities")
                                    .index(n),
                            )
                        })
                        .collect(),
                },
            },
            timeouts: ign::Timeouts {
                http_response_headers: i.timeouts.http_response_headers,
                http_total: i.timeouts.http_total,
            },
            version: String::new(),
        }
    }

    /// A resource; `inline`/`local` become a data URL in `source`.
    pub fn resource(&mut self, r: &bu::Resource, at: &Path) -> ign::Resource {
        let mut out = ign::Resource {
            compression: r.compression.clone(),
            http_headers: r
                .http_headers
                .iter()
                .map(|h| ign::HttpHeader {
                    name: h.name.clone(),
                    value: h.value.clone(),
                })
                .collect(),
            source: r.source.clone(),
            verification: ign::Verification {
                hash: r.verification.hash.clone(),
            },
        };
        // Butane means to validate `local` merge/replace configs here, but
        // its check compares a path relative to the resource with
        // "$.ignition.config" and never matches; such configs are accepted
        // unvalidated, and so they are here (inline ones are validated).
        if let Some(local) = &r.local {
            match local::read(local, self.options.files_dir.as_deref()) {
                Ok(bytes) => self.set_data(&mut out, &bytes),
                Err(e) => {
                    self.report.error(&at.key("local"), e);
                    return out;
                }
            }
        }
        if let Some(inline) = &r.inline {
            self.set_data(&mut out, inline);
        }
        out
    }

    fn set_data(&mut self, out: &mut ign::Resource, bytes: &[u8]) {
        let d = dataurl::make(bytes, out.compression.as_deref(), true);
        out.source = Some(d.url);
        if d.compression.is_some() {
            out.compression = d.compression;
        }
    }

    fn user(&mut self, u: &bu::PasswdUser, at: &Path) -> ign::PasswdUser {
        let mut keys = u.ssh_authorized_keys.clone();
        if !u.ssh_authorized_keys_local.is_empty() {
            let p = at.key("ssh_authorized_keys_local");
            if self.options.files_dir.is_none() {
                self.report.error(&p, local::NO_FILES_DIR);
            } else {
                for (i, f) in u.ssh_authorized_keys_local.iter().enumerate() {
                    match local::read(f, self.options.files_dir.as_deref()) {
                        Ok(bytes) => {
                            let text = String::from_utf8_lossy(&bytes);
                            for line in text.split('\n') {
                                let line = line.strip_suffix('\r').unwrap_or(line);
                                if !line.is_empty() {
                                    keys.push(line.to_string());
                                }
                            }
                        }
                        Err(e) => self.report.error(&p.index(i), e),
                    }
                }
            }
        }
        ign::PasswdUser {
            gecos: u.gecos.clone(),
            groups: u.groups.clone(),
            home_dir: u.home_dir.clone(),
            name: u.name.clone(),
            no_create_home: u.no_create_home,
            no_log_init: u.no_log_init,
            no_user_group: u.no_user_group,
            password_hash: u.password_hash.clone(),
            primary_group: u.primary_group.clone(),
            ssh_authorized_keys: keys,
            shell: u.shell.clone(),
            should_exist: u.should_exist,
            system: u.system,
            uid: u.uid,
        }
    }

    fn contents_local(&mut self, name: &Option<String>, at: &Path) -> Option<String> {
        let rel = name.as_deref().filter(|s| !s.is_empty())?;
        match local::read(rel, self.options.files_dir.as_deref()) {
            Ok(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Err(e) => {
                self.report.error(&at.key("contents_local"), e);
                None
            }
        }
    }

    fn unit(&mut self, u: &bu::Unit, at: &Path) -> ign::Unit {
        let dropins = u
            .dropins
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let p = at.key("dropins").index(i);
                ign::Dropin {
                    contents: self
                        .contents_local(&d.contents_local, &p)
                        .or_else(|| d.contents.clone()),
                    name: d.name.clone(),
                }
            })
            .collect();
        ign::Unit {
            contents: self
                .contents_local(&u.contents_local, at)
                .or_else(|| u.contents.clone()),
            dropins,
            enabled: u.enabled,
            mask: u.mask,
            name: u.name.clone(),
        }
    }
}

mod storage;
