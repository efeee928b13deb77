//! Inline and local configs under `ignition.config` (merge/replace) are
//! Ignition JSON themselves; Butane validates them when they declare the
//! target spec version, and warns and skips them otherwise.

use crate::diag::{Report, Severity};
use crate::ignition as ign;
use crate::origin::Origins;
use crate::path::Path;
use crate::schema::Version;

const UNKNOWN_VERSION: &str =
    "skipping validation for the merge/replace ignition config due to an unkown version";

pub fn validate_child(bytes: &[u8], at: &Path, version: Version, report: &mut Report) {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        report.error(at, "not a config (empty)");
        return;
    }
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            report.error(at, format!("config is not valid: {e}"));
            return;
        }
    };
    let declared = value
        .pointer("/ignition/version")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if declared != version.ignition_version() {
        let parses = {
            let parts: Vec<&str> = declared.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        if parses {
            report.warn(&at.key("version"), UNKNOWN_VERSION);
        } else {
            report.error(at, "invalid config version (couldn't parse)");
        }
        return;
    }
    let config: ign::Config = match serde_json::from_value(value.clone()) {
        Ok(c) => c,
        Err(e) => {
            report.error(at, format!("config is not valid: {e}"));
            return;
        }
    };
    let origins = Origins {
        files: (0..config.storage.files.len())
            .map(|i| Path::root().key("storage").key("files").index(i))
            .collect(),
        directories: (0..config.storage.directories.len())
            .map(|i| Path::root().key("storage").key("directories").index(i))
            .collect(),
        links: (0..config.storage.links.len())
            .map(|i| Path::root().key("storage").key("links").index(i))
            .collect(),
        units: (0..config.systemd.units.len())
            .map(|i| Path::root().key("systemd").key("units").index(i))
            .collect(),
    };
    let mut inner = Report::default();
    // Keys the Ignition types do not know: they vanish in a round trip.
    if let Ok(round) = serde_json::to_value(&config) {
        unused_keys(&value, &round, &Path::root(), &mut inner);
    }
    ign::validate::config(&config, &origins, version.ignition_spec(), &mut inner);
    for d in inner.entries {
        let where_ = d.path.map(|p| p.to_string()).unwrap_or_default();
        let msg = format!("in the embedded config at {where_}: {}", d.message);
        match d.severity {
            Severity::Error => report.error(at, msg),
            Severity::Warning => report.warn(at, msg),
        }
    }
}

/// Warns about keys of `orig` that the typed round trip `round` dropped.
/// Known keys whose value is empty are dropped too, so those are skipped.
fn unused_keys(orig: &serde_json::Value, round: &serde_json::Value, at: &Path, r: &mut Report) {
    use serde_json::Value;
    match (orig, round) {
        (Value::Object(o), Value::Object(t)) => {
            for (k, v) in o {
                match t.get(k) {
                    Some(tv) => unused_keys(v, tv, &at.key(k), r),
                    None if !is_empty(v) => r.warn(&at.key(k), format!("unused key {k}")),
                    None => {}
                }
            }
        }
        (Value::Array(o), Value::Array(t)) => {
            for (i, (ov, tv)) in o.iter().zip(t).enumerate() {
                unused_keys(ov, tv, &at.index(i), r);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
    }
}
