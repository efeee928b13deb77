//! The names git is kept from seeing (ephemeros-ipxe) cover every setting
//! build-stick reads from the environment (ephemeros-stick): the two lists
//! live in different crates and must not drift apart.

use std::ffi::OsString;

use ephemeros_node::config_url::is_node_setting;
use ephemeros_node::inputs::{self, IGN_PATH, SSH_KEY_PATH};
use ephemeros_node::secrets;

#[test]
fn every_setting_build_stick_reads_is_kept_from_child_processes() {
    let mut names = vec![
        secrets::HOSTNAME,
        secrets::LOGEXPORT_HOST,
        secrets::LOGEXPORT_PORT,
        secrets::HEARTBEAT_URL,
        secrets::K3S_URL,
        secrets::K3S_TOKEN,
        secrets::K3S_TOKEN_FILE,
        secrets::K3S_DATASTORE_ENDPOINT,
        "K3S_AGENT_TOKEN",
        "K3S_NODE_PASSWORD",
        SSH_KEY_PATH,
        IGN_PATH,
    ];
    names.sort();
    for name in &names {
        // build-stick reads it from the environment …
        let src = inputs::from_environment([(OsString::from(name), OsString::from("x"))]).unwrap();
        let read = src.settings.contains_key(*name)
            || src.ssh_key_path.is_some()
            || src.ign_path.is_some();
        assert!(read, "{name} is not a build-stick setting");
        // … so git must not see it.
        assert!(is_node_setting(name), "{name} reaches child processes");
    }
    for other in ["PATH", "HOME", "GIT_DIR", "LANG", "SSH_AUTH_SOCK"] {
        assert!(!is_node_setting(other), "{other}");
    }
}
