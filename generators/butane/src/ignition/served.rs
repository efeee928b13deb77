//! Checks an Ignition config the way a Flatcar node will take it: JSON that
//! fits the Ignition model (`ignition::Config`), of a spec version
//! every Flatcar channel accepts.
//!
//! Spec 3.4.0 is stable since Ignition 2.15 and 3.5.0 since 2.20; Flatcar's
//! LTS-2024 ships Ignition 2.19 while the other channels ship newer ones
//! (flatcar/scripts sdk_container/src/third_party/coreos-overlay/sys-apps/
//! ignition), so 3.4.0 is the newest version every channel takes. A config
//! of another version, or an experimental one, stops the boot of some nodes
//! in the initrd.

use super::Config;

/// Spec versions every Flatcar channel's Ignition accepts.
pub const ACCEPTED_VERSIONS: [&str; 5] = ["3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0"];

/// Why a config would not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServedError {
    #[error("is not valid UTF-8 JSON")]
    NotUtf8,
    #[error("is not JSON (line {line}, column {column}: {message})")]
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("is not an Ignition config (line {line}, column {column}: {message})")]
    NotIgnition {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("has no ignition.version, so it is not an Ignition config")]
    NoVersion,
    #[error("has Ignition spec version {version}, which not every Flatcar channel accepts (all accept {})", ACCEPTED_VERSIONS.join(", "))]
    Version { version: String },
}

/// The config's spec version, if the config is one a Flatcar node takes.
pub fn check(bytes: &[u8]) -> Result<String, ServedError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ServedError::NotUtf8)?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ServedError::NotJson {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    let config: Config = serde_json::from_value(value).map_err(|e| {
        // Positions are lost going through Value; parse again for them.
        let positioned = serde_json::from_str::<Config>(text).err();
        ServedError::NotIgnition {
            line: positioned.as_ref().map_or(0, |p| p.line()),
            column: positioned.as_ref().map_or(0, |p| p.column()),
            message: e.to_string(),
        }
    })?;
    let version = config.ignition.version;
    if version.is_empty() {
        return Err(ServedError::NoVersion);
    }
    if !ACCEPTED_VERSIONS.contains(&version.as_str()) {
        return Err(ServedError::Version { version });
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_every_channel_takes_pass() {
        assert_eq!(
            check(br#"{"ignition":{"version":"3.3.0"}}"#).unwrap(),
            "3.3.0"
        );
        assert_eq!(
            check(br#"{"ignition":{"version":"3.0.0"},"storage":{"files":[{"path":"/x","mode":420}]}}"#)
                .unwrap(),
            "3.0.0"
        );
        // The committed node config of this repository.
        let ours = include_bytes!("../../../../ignition.ign");
        assert_eq!(check(ours).unwrap(), "3.3.0");
    }

    #[test]
    fn anything_else_says_why() {
        for (bytes, want) in [
            (&b"not json"[..], "is not JSON (line 1, column 2"),
            (b"\xff", "UTF-8"),
            (b"[1]", "is not an Ignition config"),
            (br#"{"storage":{"files":[{"path":"/x","mode":"0644"}]},"ignition":{"version":"3.3.0"}}"#, "is not an Ignition config (line 1"),
            (b"{}", "no ignition.version"),
            (br#"{"ignition":{"version":"3.5.0"}}"#, "3.5.0, which not every Flatcar channel"),
            (br#"{"ignition":{"version":"3.6.0-experimental"}}"#, "3.6.0-experimental"),
            (br#"{"ignition":{"version":"2.3.0"}}"#, "2.3.0"),
        ] {
            let e = check(bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
