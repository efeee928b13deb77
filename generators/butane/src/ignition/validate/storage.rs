//! Ignition's rules for `storage` and `systemd` of the generated config.

use std::collections::HashMap;

use super::{paths, unit, V};
use crate::ignition as ign;
use crate::origin::Origins;
use crate::path::Path;

impl V<'_> {
    pub(super) fn storage(&mut self, c: &ign::Config, o: &Origins, at: &Path) {
        let s = &c.storage;
        for (d, p) in s.directories.iter().zip(&o.directories) {
            self.node(&d.node, p);
            self.mode(d.mode, p);
        }
        for (f, p) in s.files.iter().zip(&o.files) {
            self.node(&f.node, p);
            self.mode(f.mode, p);
            if f.node.overwrite == Some(true) && f.contents.source.is_none() {
                self.err(
                    &p.key("overwrite"),
                    "overwrite must be false if source is unspecified",
                );
            }
            for (j, a) in f.append.iter().enumerate() {
                self.resource(a, &p.key("append").index(j));
            }
            self.resource(&f.contents, &p.key("contents"));
        }
        for (l, p) in s.links.iter().zip(&o.links) {
            self.node(&l.node, p);
        }
        // Files, directories and links share one namespace of paths.
        let key = |n: &ign::Node| n.path.clone();
        self.dups([
            (
                s.directories.iter().map(|d| key(&d.node)).collect(),
                o.directories.clone(),
            ),
            (
                s.files.iter().map(|f| key(&f.node)).collect(),
                o.files.clone(),
            ),
            (
                s.links.iter().map(|l| key(&l.node)).collect(),
                o.links.clone(),
            ),
        ]);
        let under_link = |p: &str| {
            s.links
                .iter()
                .any(|l| p.starts_with(&format!("{}/", l.node.path)))
        };
        for (d, p) in s.directories.iter().zip(&o.directories) {
            if under_link(&d.node.path) {
                self.err(p, "directory path includes link in config");
            }
        }
        for (f, p) in s.files.iter().zip(&o.files) {
            if under_link(&f.node.path) {
                self.err(p, "file path includes link in config");
            }
        }
        for (l, p) in s.links.iter().zip(&o.links) {
            if under_link(&l.node.path) {
                self.err(p, "link path includes link in config");
            }
            let Some(target) = l.target.as_deref().filter(|t| !t.is_empty()) else {
                self.err(&p.key("target"), "link target is required");
                continue;
            };
            if l.hard != Some(true) {
                continue;
            }
            let mut t = paths::clean(target);
            if !t.starts_with('/') {
                t = paths::join(&l.node.path, target);
            }
            if s.directories.iter().any(|d| d.node.path == t) {
                self.err(p, "hard link target is a directory");
            }
            let owners = [
                (l.node.user.id.is_some(), p.key("user").key("id")),
                (l.node.user.name.is_some(), p.key("user").key("name")),
                (l.node.group.id.is_some(), p.key("group").key("id")),
                (l.node.group.name.is_some(), p.key("group").key("name")),
            ];
            for (set, at) in owners {
                if set {
                    self.r.warn(&at, "user/group ignored for hard link");
                }
            }
        }
        self.disks(s, at);
        self.filesystems(s, at);
        self.luks(s, at);
        self.raid(s, at);
    }

    fn disks(&mut self, s: &ign::Storage, at: &Path) {
        let at = at.key("disks");
        self.dups_by(&s.disks, &at, |d| d.device.clone());
        for (i, d) in s.disks.iter().enumerate() {
            let p = at.index(i);
            if d.device.is_empty() {
                self.err(&p.key("device"), "disk device is required");
                continue;
            }
            if let Some(e) = paths::validate(&d.device) {
                self.err(&p.key("device"), e);
            }
            let parts = &d.partitions;
            let mut by_number: HashMap<i64, Vec<usize>> = HashMap::new();
            for (j, part) in parts.iter().enumerate() {
                if part.number != 0 {
                    by_number.entry(part.number).or_default().push(j);
                }
            }
            let mut colliding: Vec<_> = by_number
                .values()
                .filter(|v| v.len() > 1)
                .map(|v| v[1])
                .collect();
            colliding.sort();
            if let Some(&j) = colliding.first() {
                self.err(&p.key("partitions").index(j), "partition numbers collide");
            }
            if let Some(j) = overlap(parts) {
                self.err(&p.key("partitions").index(j), "partitions overlap");
            }
            let mut labels = std::collections::HashSet::new();
            if let Some(j) = parts
                .iter()
                .position(|x| x.label.as_ref().is_some_and(|l| !labels.insert(l.clone())))
            {
                self.err(
                    &p.key("partitions").index(j),
                    "cannot use the same partition label twice",
                );
            }
            for (j, part) in parts.iter().enumerate() {
                self.partition(part, &p.key("partitions").index(j));
            }
            self.dups_by(parts, &p.key("partitions"), |x| {
                if x.number != 0 {
                    format!("number:{}", x.number)
                } else if let Some(l) = &x.label {
                    format!("label:{l}")
                } else {
                    String::new()
                }
            });
        }
    }

    fn partition(&mut self, x: &ign::Partition, p: &Path) {
        if x.should_exist == Some(false)
            && (x.label.is_some()
                || x.type_guid.as_deref().is_some_and(|s| !s.is_empty())
                || x.guid.as_deref().is_some_and(|s| !s.is_empty())
                || x.start_mib.is_some()
                || x.size_mib.is_some())
        {
            self.err(
                p,
                "shouldExist specified false with other options also specified",
            );
        }
        if x.number == 0 && x.label.is_none() {
            self.err(p, "a partition number >= 1 or a label must be specified");
        }
        if let Some(l) = &x.label {
            if l.len() > 36 {
                self.err(
                    &p.key("label"),
                    "partition labels may not exceed 36 characters",
                );
            } else if l.contains(':') {
                self.err(
                    &p.key("label"),
                    "partition label will be truncated to text before the colon",
                );
            }
        }
        for (g, name) in [(&x.guid, "guid"), (&x.type_guid, "type_guid")] {
            if let Some(g) = g {
                if !is_guid(g) {
                    self.err(
                        &p.key(name),
                        "doesn't match the form \"01234567-89AB-CDEF-EDCB-A98765432101\"",
                    );
                }
            }
        }
    }

    fn filesystems(&mut self, s: &ign::Storage, at: &Path) {
        let at = at.key("filesystems");
        self.dups_by(&s.filesystems, &at, |f| f.device.clone());
        let disks: HashMap<&str, &ign::Disk> =
            s.disks.iter().map(|d| (d.device.as_str(), d)).collect();
        for (i, f) in s.filesystems.iter().enumerate() {
            let p = at.index(i);
            if let Some(e) = f
                .path
                .as_deref()
                .filter(|x| !x.is_empty())
                .and_then(paths::validate)
            {
                self.err(&p.key("path"), e);
            }
            if let Some(e) = paths::validate(&f.device) {
                self.err(&p.key("device"), e);
            }
            let nonempty = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
            match f.format.as_deref().filter(|x| !x.is_empty()) {
                None => {
                    if nonempty(&f.path)
                        || nonempty(&f.label)
                        || nonempty(&f.uuid)
                        || f.wipe_filesystem == Some(true)
                        || !f.mount_options.is_empty()
                        || !f.options.is_empty()
                    {
                        self.err(
                            &p.key("format"),
                            "format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified",
                        );
                    }
                }
                Some("ext4" | "btrfs" | "xfs" | "swap" | "vfat" | "none") => {}
                Some(_) => self.err(&p.key("format"), "invalid filesystem format"),
            }
            if let Some(label) = f.label.as_deref().filter(|x| !x.is_empty()) {
                let limit = match f.format.as_deref().filter(|x| !x.is_empty()) {
                    None => {
                        self.err(
                            &p.key("label"),
                            "filesystem must specify format if label is specified",
                        );
                        None
                    }
                    Some("ext4") => Some(16),
                    Some("btrfs") => Some(256),
                    Some("xfs") => Some(12),
                    Some("swap") => Some(15),
                    Some("vfat") => Some(11),
                    Some(_) => None,
                };
                if let Some(n) = limit.filter(|&n| label.len() > n) {
                    let fmt = f.format.as_deref().unwrap_or_default();
                    self.err(
                        &p.key("label"),
                        &format!("filesystem labels cannot be longer than {n} characters when using {fmt}"),
                    );
                }
            }
            if let Some(d) = disks.get(f.device.as_str()) {
                if !d.partitions.is_empty() {
                    self.r
                        .warn(&p.key("device"), "filesystem overwrites partitioned device");
                } else if f.wipe_filesystem != Some(true) && d.wipe_table == Some(true) {
                    self.r.warn(
                        &p.key("device"),
                        "device matches disk with wipeTable enabled; filesystem will be wiped",
                    );
                }
            }
        }
    }

    fn luks(&mut self, s: &ign::Storage, at: &Path) {
        let at = at.key("luks");
        self.dups_by(&s.luks, &at, |l| l.name.clone());
        for (i, l) in s.luks.iter().enumerate() {
            let p = at.index(i);
            if l.name.contains('/') {
                self.err(&p.key("name"), "device names cannot contain slashes");
            }
            if l.label.as_deref().is_some_and(|x| x.len() > 47) {
                self.err(
                    &p.key("label"),
                    "luks device labels cannot be longer than 47 characters",
                );
            }
            match l.device.as_deref().filter(|x| !x.is_empty()) {
                None => self.err(&p.key("device"), "disk device is required"),
                Some(d) => {
                    if let Some(e) = paths::validate(d) {
                        self.err(&p.key("device"), e);
                    }
                }
            }
            if let Some(src) = l.key_file.source.as_deref().filter(|x| !x.is_empty()) {
                if self.url(src).is_err() {
                    self.err(&p.key("keys"), "invalid key-file source");
                }
            }
            self.resource(&l.key_file, &p.key("key_file"));
            self.dups_strings([(&l.open_options, "open_options")], &p);
        }
    }

    fn raid(&mut self, s: &ign::Storage, at: &Path) {
        let at = at.key("raid");
        self.dups_by(&s.raid, &at, |r| r.name.clone());
        for (i, r) in s.raid.iter().enumerate() {
            let p = at.index(i);
            match r.level.as_deref().filter(|x| !x.is_empty()) {
                None => self.err(&p.key("level"), "raid level is required"),
                Some("linear" | "raid0" | "0" | "stripe") => {
                    if r.spares.is_some_and(|n| n != 0) {
                        self.err(
                            &p.key("level"),
                            "spares unsupported for linear and raid0 arrays",
                        );
                    }
                }
                Some(
                    "raid1" | "1" | "mirror" | "raid4" | "4" | "raid5" | "5" | "raid6" | "6"
                    | "raid10" | "10",
                ) => {}
                Some(_) => self.err(&p.key("level"), "unrecognized raid level"),
            }
            if r.devices.is_empty() {
                self.err(&p.key("devices"), "raid devices required");
            }
            for (j, d) in r.devices.iter().enumerate() {
                if let Some(e) = paths::validate(d) {
                    self.err(&p.key("devices").index(j), e);
                }
            }
            self.dups_strings([(&r.devices, "devices")], &p);
        }
    }

    pub(super) fn systemd(&mut self, c: &ign::Config, o: &Origins) {
        let units = &c.systemd.units;
        self.dups([(
            units.iter().map(|u| u.name.clone()).collect(),
            o.units.clone(),
        )]);
        let by_name: HashMap<&str, &ign::Unit> =
            units.iter().map(|u| (u.name.as_str(), u)).collect();
        for (u, p) in units.iter().zip(&o.units) {
            if !matches!(
                ext(&u.name),
                ".service"
                    | ".socket"
                    | ".device"
                    | ".mount"
                    | ".automount"
                    | ".swap"
                    | ".target"
                    | ".path"
                    | ".timer"
                    | ".snapshot"
                    | ".slice"
                    | ".scope"
            ) {
                self.err(&p.key("name"), "invalid systemd unit extension");
            }
            let cp = p.key("contents");
            match u.contents.as_deref().map(unit::parse) {
                Some(Err(e)) => self.err(&cp, &e),
                Some(Ok(opts)) => {
                    let empty = u.contents.as_deref() == Some("");
                    if u.enabled == Some(true) && !empty && !unit::has_install(&opts) {
                        self.r.warn(
                            &cp,
                            format!("unit {:?} is enabled, but has no install section so enable does nothing", u.name),
                        );
                    }
                }
                None => {}
            }
            for (j, d) in u.dropins.iter().enumerate() {
                let dp = p.key("dropins").index(j);
                if let Some(Err(e)) = d.contents.as_deref().map(unit::parse) {
                    self.err(&dp.key("contents"), &e);
                }
                if ext(&d.name) != ".conf" {
                    self.err(&dp.key("name"), "invalid systemd drop-in extension");
                }
            }
            self.dups_by(&u.dropins, &p.key("dropins"), |d| d.name.clone());
            // An enabled template instance whose template has no [Install].
            if u.enabled == Some(true) {
                if let Some(template) = template_of(&u.name) {
                    if let Some(t) = by_name.get(template.as_str()) {
                        if let Some(Ok(opts)) = t
                            .contents
                            .as_deref()
                            .filter(|s| !s.is_empty())
                            .map(unit::parse)
                        {
                            if !unit::has_install(&opts) {
                                self.r.warn(
                                    &cp,
                                    format!(
                                        "template unit {template:?} for {:?} doesn't have Install section",
                                        u.name
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// A file, directory or link where a unit or dropin with contents will
    /// be written.
    pub(super) fn unit_path_conflicts(&mut self, c: &ign::Config, o: &Origins) {
        let mut unit_paths = std::collections::HashSet::new();
        for u in &c.systemd.units {
            if u.contents.as_deref().is_some_and(|s| !s.is_empty()) {
                unit_paths.insert(format!("/etc/systemd/system/{}", u.name));
            }
            for d in &u.dropins {
                if d.contents.as_deref().is_some_and(|s| !s.is_empty()) {
                    unit_paths.insert(format!("/etc/systemd/system/{}.d/{}", u.name, d.name));
                }
            }
        }
        const MSG: &str = "path conflicts with systemd unit or dropin";
        let s = &c.storage;
        for (f, p) in s.files.iter().zip(&o.files) {
            if unit_paths.contains(&f.node.path) {
                self.err(&p.key("path"), MSG);
            }
        }
        for (d, p) in s.directories.iter().zip(&o.directories) {
            if unit_paths.contains(&d.node.path) {
                self.err(&p.key("path"), MSG);
            }
        }
        for (l, p) in s.links.iter().zip(&o.links) {
            if unit_paths.contains(&l.node.path) {
                self.err(&p.key("path"), MSG);
            }
        }
    }
}

/// Go's `path.Ext`: from the last dot of the last element.
fn ext(name: &str) -> &str {
    let base_start = name.rfind('/').map_or(0, |i| i + 1);
    match name[base_start..].rfind('.') {
        Some(i) => &name[base_start + i..],
        None => "",
    }
}

/// `foo@bar.service` -> `foo@.service` (Ignition's `^(.+?)@(.+?)\.service$`).
fn template_of(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".service")?;
    let at = stem.find('@')?;
    if at == 0 || at + 1 >= stem.len() {
        return None;
    }
    Some(format!("{}@.service", &stem[..at]))
}

fn is_guid(g: &str) -> bool {
    if g.is_empty() {
        return true;
    }
    let groups: Vec<&str> = g.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(s, n)| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Ignition's overlap check; returns the index of the overlapped partition.
fn overlap(parts: &[ign::Partition]) -> Option<usize> {
    let end = |p: &ign::Partition| -> i64 {
        let (s, z) = (p.start_mib.unwrap_or(0), p.size_mib.unwrap_or(0));
        if z == 0 {
            s
        } else {
            s.saturating_add(z).saturating_sub(1)
        }
    };
    for p in parts {
        let (Some(ps), Some(_)) = (p.start_mib, p.size_mib) else {
            continue;
        };
        if ps == 0 {
            continue;
        }
        for (i, o) in parts.iter().enumerate() {
            let (Some(os), Some(_)) = (o.start_mib, o.size_mib) else {
                continue;
            };
            if std::ptr::eq(p, o) || p == o || os == 0 {
                continue;
            }
            if (ps >= os && ps <= end(o))
                || (end(p) >= os && end(p) <= end(o))
                || (ps < os && end(p) > end(o))
            {
                return Some(i);
            }
        }
    }
    None
}
