//! The `K3S_*` environment variables k3s reads.
//!
//! k3s reads only the variables bound to its command-line flags (urfave/cli
//! `EnvVar`s in k3s-io/k3s pkg/cli/cmds: server.go `ServerFlags`, agent.go
//! `NewAgentCommand`, and the flags both share from agent.go, config.go and
//! root.go). Any other `K3S_*` name is ignored without a word, so a typo
//! such as `K3S_TOKN` makes a node without a token. The lists were read from
//! the stored k3s sources (2024-2025 layout of those files); a variable a
//! newer release adds is warned about until it is added here.

use crate::secrets::K3sRole;

/// Read by both `k3s server` and `k3s agent`.
const BOTH: &[&str] = &[
    "K3S_CONFIG_FILE",
    "K3S_DATA_DIR",
    "K3S_DEBUG",
    "K3S_LB_SERVER_PORT",
    "K3S_NODE_NAME",
    "K3S_RESOLV_CONF",
    "K3S_SELINUX",
    "K3S_TOKEN",
    "K3S_TOKEN_FILE",
    "K3S_URL",
    "K3S_VPN_AUTH",
    "K3S_VPN_AUTH_FILE",
];

/// Read by `k3s server` only.
const SERVER_ONLY: &[&str] = &[
    "K3S_AGENT_TOKEN",
    "K3S_AGENT_TOKEN_FILE",
    "K3S_CLUSTER_INIT",
    "K3S_CLUSTER_RESET",
    "K3S_DATASTORE_CAFILE",
    "K3S_DATASTORE_CERTFILE",
    "K3S_DATASTORE_ENDPOINT",
    "K3S_DATASTORE_KEYFILE",
    "K3S_KUBECONFIG_GROUP",
    "K3S_KUBECONFIG_MODE",
    "K3S_KUBECONFIG_OUTPUT",
    "K3S_SYSTEM_DEFAULT_REGISTRY",
];

/// Every name k3s reads in some role, sorted.
pub fn known() -> Vec<&'static str> {
    let mut all: Vec<&str> = BOTH.iter().chain(SERVER_ONLY).copied().collect();
    all.sort_unstable();
    all
}

/// Whether k3s in `role` reads `name`.
pub fn is_read(name: &str, role: K3sRole) -> bool {
    BOTH.contains(&name) || (role == K3sRole::Server && SERVER_ONLY.contains(&name))
}

/// One line per `K3S_*` name k3s in `role` will not read, naming the
/// closest name it does read where one is close. Never shows a value.
pub fn unread(names: &[&str], role: K3sRole) -> Vec<String> {
    let mut out = Vec::new();
    for &name in names {
        if is_read(name, role) {
            continue;
        }
        if role == K3sRole::Agent && SERVER_ONLY.contains(&name) {
            out.push(format!(
                "{name}: k3s agent does not read it (only k3s server does), and this node is an agent because K3S_URL is set"
            ));
            continue;
        }
        let candidates: Vec<&str> = BOTH
            .iter()
            .chain(if role == K3sRole::Server {
                SERVER_ONLY
            } else {
                &[]
            })
            .copied()
            .collect();
        let closest = candidates
            .iter()
            .map(|k| (distance(name, k), *k))
            .min()
            .filter(|(d, _)| *d <= 3)
            .map(|(_, k)| k);
        out.push(match closest {
            Some(k) => format!("{name}: k3s does not read this variable; did you mean {k}?"),
            None => format!(
                "{name}: k3s does not read this variable (the README lists the K3S_* names it reads)"
            ),
        });
    }
    out
}

/// Levenshtein distance over bytes (names are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_name_the_closest_known_variable() {
        let w = unread(
            &["K3S_TOKN", "K3S_DATASTORE_ENDPIONT", "K3S_TOKEN"],
            K3sRole::Server,
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("K3S_TOKN:") && w[0].ends_with("did you mean K3S_TOKEN?"),
            "{w:?}"
        );
        assert!(
            w[1].ends_with("did you mean K3S_DATASTORE_ENDPOINT?"),
            "{w:?}"
        );
        let w = unread(&["K3S_SOMETHING_ELSE_ENTIRELY"], K3sRole::Server);
        assert!(w[0].contains("README"), "{w:?}");
    }

    #[test]
    fn server_only_variables_are_unread_on_an_agent() {
        assert!(unread(
            &["K3S_DATASTORE_ENDPOINT", "K3S_URL", "K3S_TOKEN"],
            K3sRole::Server
        )
        .is_empty());
        let w = unread(
            &["K3S_DATASTORE_ENDPOINT", "K3S_URL", "K3S_TOKEN"],
            K3sRole::Agent,
        );
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("only k3s server"), "{w:?}");
        assert!(known().windows(2).all(|p| p[0] < p[1]));
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("K3S_TOKN", "K3S_TOKEN"), 1);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(distance("K3S_URL", "K3S_LRU"), 2);
    }
}
