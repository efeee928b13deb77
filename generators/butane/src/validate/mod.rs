//! Butane's validation, split as Butane splits it: the document header
//! (variant/version), the Butane source ([`source`]) and the fields the
//! flatcar variant forbids ([`field_filters`]). Ignition's own rules on
//! the generated config are [`crate::ignition::validate`].

mod child;

use crate::diag::Report;
use crate::ignition as ign;
use crate::origin::Origins;
use crate::path::{Path, Seg};
use crate::schema::{self as bu, Version};
use crate::yaml::{Kind, Node};

pub const NO_VARIANT: &str = "error parsing variant; must be specified";
pub const BAD_VERSION: &str = "error parsing version; must be a valid semver";
pub const EXPERIMENTAL_VERSION: &str = "flatcar 1.2.0-experimental is not supported: butane \
translates it to Ignition's experimental spec 3.7.0-experimental, which no released Flatcar \
accepts; supported versions: 1.0.0 (Ignition 3.3.0) and 1.1.0 (Ignition 3.4.0), which every \
Flatcar channel accepts";

/// Reads `variant` and `version` (as Butane does before anything else) and
/// picks the spec.
pub fn variant_and_version(root: Option<&Node>, report: &mut Report) -> Option<Version> {
    let root_path = Path::root();
    let Some(root) = root else {
        report.error(&root_path, NO_VARIANT);
        return None;
    };
    let Kind::Map(_) = &root.kind else {
        if root.is_null() {
            report.error(&root_path, NO_VARIANT);
        } else {
            report.error_at(
                root.span,
                format!("cannot unmarshal {} into Config", root.short_tag()),
            );
        }
        return None;
    };
    let text = |key: &str| -> Option<String> {
        match root.child(&Seg::Key(key.into())).map(|n| &n.kind) {
            Some(Kind::Scalar(s)) if !root.child(&Seg::Key(key.into()))?.is_null() => {
                Some(s.value.clone())
            }
            _ => None,
        }
    };
    let variant = text("variant").unwrap_or_default();
    if variant.is_empty() {
        report.error(&root_path.key("variant"), NO_VARIANT);
        return None;
    }
    let version = text("version").unwrap_or_default();
    let Some(normalized) = semver(&version) else {
        report.error(&root_path.key("version"), BAD_VERSION);
        return None;
    };
    match (variant.as_str(), normalized.as_str()) {
        ("flatcar", "1.0.0") => Some(Version::V1_0),
        ("flatcar", "1.1.0") => Some(Version::V1_1),
        ("flatcar", "1.2.0-experimental") => {
            // Butane accepts it, but only to make Ignition's experimental
            // spec (coreos/butane config/config.go: flatcar
            // 1.2.0-experimental -> ToIgn3_7Bytes), and an Ignition accepts
            // only the experimental spec of its own release: 3.7.0-experimental
            // arrived in Ignition 2.26.0 (coreos/ignition
            // docs/release-notes.md), while Flatcar's stable, beta and alpha
            // ship 2.24 (flatcar/scripts
            // sdk_container/src/third_party/coreos-overlay/sys-apps/ignition,
            // ignition-2.24.0.ebuild). A config that cannot boot is
            // refused here rather than passed on.
            report.error(&root_path.key("version"), EXPERIMENTAL_VERSION);
            None
        }
        _ => {
            let at = if variant == "flatcar" {
                "version"
            } else {
                "variant"
            };
            report.error(
                &root_path.key(at),
                format!("No translator exists for variant {variant} with version {normalized}"),
            );
            None
        }
    }
}

/// A semantic version as go-semver accepts it, normalized for messages.
fn semver(v: &str) -> Option<String> {
    let (core, _meta) = v.split_once('+').unwrap_or((v, ""));
    let (core, pre) = core
        .split_once('-')
        .map(|(c, p)| (c, Some(p)))
        .unwrap_or((core, None));
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let nums: Vec<u64> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let mut s = format!("{}.{}.{}", nums[0], nums[1], nums[2]);
    if let Some(p) = pre {
        if p.is_empty() {
            return None;
        }
        s = format!("{s}-{p}");
    }
    Some(s)
}

const TOO_MANY_SOURCES: &str = "only one of the following can be set: inline, local, source";
const TOO_MANY_SYSTEMD_SOURCES: &str =
    "only one of the following can be set: contents, contents_local";
const DECIMAL_MODE: &str =
    "unreasonable mode would be reasonable if specified in octal; remember to add a leading zero";

/// Butane's own checks on the source config.
pub fn source(c: &bu::Config, version: Version, r: &mut Report) {
    let root = Path::root();
    let ign = root.key("ignition").key("config");
    for (i, m) in c.ignition.config.merge.iter().enumerate() {
        resource(m, &ign.key("merge").index(i), true, version, r);
    }
    resource(
        &c.ignition.config.replace,
        &ign.key("replace"),
        true,
        version,
        r,
    );
    let cas = root
        .key("ignition")
        .key("security")
        .key("tls")
        .key("certificate_authorities");
    for (i, ca) in c
        .ignition
        .security
        .tls
        .certificate_authorities
        .iter()
        .enumerate()
    {
        resource(ca, &cas.index(i), false, version, r);
    }
    let st = root.key("storage");
    for (i, d) in c.storage.directories.iter().enumerate() {
        if let Some(m) = d.mode {
            if decimal_mode(m, true) {
                r.warn(&st.key("directories").index(i).key("mode"), DECIMAL_MODE);
            }
        }
    }
    for (i, f) in c.storage.files.iter().enumerate() {
        let p = st.key("files").index(i);
        for (j, a) in f.append.iter().enumerate() {
            resource(a, &p.key("append").index(j), false, version, r);
        }
        resource(&f.contents, &p.key("contents"), false, version, r);
        if let Some(m) = f.mode {
            if decimal_mode(m, false) {
                r.warn(&p.key("mode"), DECIMAL_MODE);
            }
        }
    }
    for (i, fs) in c.storage.filesystems.iter().enumerate() {
        if fs.with_mount_unit != Some(true) {
            continue;
        }
        let p = st.key("filesystems").index(i);
        match fs.format.as_deref() {
            None | Some("") => r.error(
                &p.key("format"),
                "format is required if with_mount_unit is true",
            ),
            Some(f) if f != "swap" && fs.path.as_deref().unwrap_or("").is_empty() => r.error(
                &p.key("path"),
                "path is required if with_mount_unit is true and format is not swap",
            ),
            _ => {}
        }
    }
    for (i, l) in c.storage.luks.iter().enumerate() {
        resource(
            &l.key_file,
            &st.key("luks").index(i).key("key_file"),
            false,
            version,
            r,
        );
    }
    for (i, t) in c.storage.trees.iter().enumerate() {
        if t.local.is_empty() {
            r.error(&st.key("trees").index(i), "local is required");
        }
    }
    if version >= Version::V1_1 {
        for (i, u) in c.systemd.units.iter().enumerate() {
            let p = root.key("systemd").key("units").index(i);
            if u.contents.is_some() && u.contents_local.is_some() {
                r.error(&p.key("contents_local"), TOO_MANY_SYSTEMD_SOURCES);
            }
            for (j, d) in u.dropins.iter().enumerate() {
                if d.contents.is_some() && d.contents_local.is_some() {
                    r.error(
                        &p.key("dropins").index(j).key("contents_local"),
                        TOO_MANY_SYSTEMD_SOURCES,
                    );
                }
            }
        }
    }
}

fn resource(res: &bu::Resource, at: &Path, is_config: bool, version: Version, r: &mut Report) {
    let mut field = "";
    let mut n = 0;
    for (set, name) in [
        (res.local.is_some(), "local"),
        (res.inline.is_some(), "inline"),
        (res.source.is_some(), "source"),
    ] {
        if set {
            n += 1;
            field = name;
        }
    }
    if n > 1 {
        r.error(&at.key(field), TOO_MANY_SOURCES);
        return;
    }
    if is_config {
        if let Some(inline) = &res.inline {
            child::validate_child(inline, &at.key("inline"), version, r);
        }
    }
}

/// Butane's "decimal mode" heuristic: a mode that is odd as written but
/// typical when read as octal digits (e.g. 644 instead of 0644).
fn decimal_mode(mode: i64, dir: bool) -> bool {
    if !(0..=7777).contains(&mode) {
        return false;
    }
    let mut octal = 0;
    let mut div = 1000;
    while div > 0 {
        let digit = (mode / div) % 10;
        if digit > 7 {
            return false;
        }
        octal = (octal << 3) | digit;
        div /= 10;
    }
    !typical_mode(mode, dir) && typical_mode(octal, dir)
}

fn typical_mode(mode: i64, dir: bool) -> bool {
    if mode == 0 {
        return true;
    }
    let (mut had_r, mut had_w, mut had_x) = (false, false, false);
    for perm in [mode & 7, (mode >> 3) & 7, (mode >> 6) & 7] {
        let (rd, w, x) = (perm & 4 != 0, perm & 2 != 0, perm & 1 != 0);
        if (!rd && had_r) || (!w && had_w) || (!x && had_x) {
            return false;
        }
        if x && had_r && !had_x {
            return false;
        }
        if (w || x) && !rd {
            return false;
        }
        had_r |= rd;
        had_w |= w;
        had_x |= x;
    }
    if !had_r {
        return false;
    }
    if dir {
        if !had_x || mode & 0o4000 != 0 || (mode & 0o3000 != 0 && !had_w) {
            return false;
        }
    } else {
        if mode & 0o6000 != 0 && (!had_x || mode & 2 != 0) {
            return false;
        }
        if mode & 0o1000 != 0 {
            return false;
        }
    }
    true
}

/// The flatcar variant forbids Clevis (no Clevis in Flatcar's initramfs).
/// Returns true when something was rejected.
pub fn field_filters(out: &ign::Config, _origins: &Origins, r: &mut Report) -> bool {
    let mut bad = false;
    for (i, l) in out.storage.luks.iter().enumerate() {
        if l.clevis != ign::Clevis::default() {
            r.error(
                &Path::root()
                    .key("storage")
                    .key("luks")
                    .index(i)
                    .key("clevis"),
                "clevis is not supported in this spec version",
            );
            bad = true;
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_modes_are_spotted() {
        assert!(decimal_mode(644, false));
        assert!(decimal_mode(755, true));
        assert!(!decimal_mode(0o644, false));
        assert!(!decimal_mode(420, false));
        assert!(!decimal_mode(0, false));
    }

    #[test]
    fn semver_forms() {
        assert_eq!(semver("1.0.0").as_deref(), Some("1.0.0"));
        assert_eq!(semver("01.0.0").as_deref(), Some("1.0.0"));
        assert_eq!(semver("1.0"), None);
        assert_eq!(
            semver("1.2.0-experimental").as_deref(),
            Some("1.2.0-experimental")
        );
    }
}
