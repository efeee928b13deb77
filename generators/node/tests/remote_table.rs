//! Remote spellings -> raw-file URLs of ignition.ign, for every forge.

use ephemeros_node::config_url::{derive_url, DeriveError, Forge, Ref};

const GH: &str = "https://raw.githubusercontent.com/acme/fleet/main/ignition.ign";
const GL: &str = "https://gitlab.com/acme/infra/k3s/fleet/-/raw/main/ignition.ign";
const CB: &str = "https://codeberg.org/acme/fleet/raw/branch/main/ignition.ign";
const BB: &str = "https://bitbucket.org/acme/fleet/raw/main/ignition.ign";
const SH: &str = "https://git.sr.ht/~acme/fleet/blob/main/ignition.ign";

/// (remote as git spells it, forge named by the user, expected URL) at branch main.
const TABLE: &[(&str, Option<Forge>, &str)] = &[
    // GitHub: scp-like, ssh://, https with and without .git, credentials, ports.
    ("git@github.com:acme/fleet.git", None, GH),
    ("git@github.com:acme/fleet", None, GH),
    ("github.com:acme/fleet.git", None, GH),
    ("ssh://git@github.com/acme/fleet.git", None, GH),
    ("ssh://git@ssh.github.com:443/acme/fleet.git", None, GH),
    ("git+ssh://git@github.com/acme/fleet.git", None, GH),
    ("https://github.com/acme/fleet.git", None, GH),
    ("https://github.com/acme/fleet", None, GH),
    ("https://github.com/acme/fleet/", None, GH),
    (
        "https://x-access-token:ghp_secret@github.com/acme/fleet.git",
        None,
        GH,
    ),
    ("https://GitHub.com/acme/fleet.git", None, GH),
    ("git://github.com/acme/fleet.git", None, GH),
    // GitLab with subgroups.
    ("git@gitlab.com:acme/infra/k3s/fleet.git", None, GL),
    ("ssh://git@gitlab.com/acme/infra/k3s/fleet.git", None, GL),
    ("https://gitlab.com/acme/infra/k3s/fleet.git", None, GL),
    (
        "https://oauth2:glpat-x@gitlab.com/acme/infra/k3s/fleet",
        None,
        GL,
    ),
    (
        "ssh://git@altssh.gitlab.com:443/acme/infra/k3s/fleet.git",
        None,
        GL,
    ),
    // Self-hosted GitLab: the web port of an https remote is kept, an ssh port is not.
    (
        "https://git.example.com:8443/ops/fleet.git",
        Some(Forge::GitLab),
        "https://git.example.com:8443/ops/fleet/-/raw/main/ignition.ign",
    ),
    (
        "ssh://git@git.example.com:2222/ops/fleet.git",
        Some(Forge::GitLab),
        "https://git.example.com/ops/fleet/-/raw/main/ignition.ign",
    ),
    // Codeberg (recognised) and a self-hosted Forgejo/Gitea (declared).
    ("git@codeberg.org:acme/fleet.git", None, CB),
    ("https://codeberg.org/acme/fleet.git", None, CB),
    ("ssh://git@codeberg.org/acme/fleet.git", None, CB),
    (
        "gitea@forge.lan:acme/fleet.git",
        Some(Forge::Gitea),
        "https://forge.lan/acme/fleet/raw/branch/main/ignition.ign",
    ),
    (
        "http://10.0.0.5:3000/acme/fleet.git",
        Some(Forge::Gitea),
        "http://10.0.0.5:3000/acme/fleet/raw/branch/main/ignition.ign",
    ),
    // Bitbucket.
    ("git@bitbucket.org:acme/fleet.git", None, BB),
    ("https://alice@bitbucket.org/acme/fleet.git", None, BB),
    (
        "ssh://git@altssh.bitbucket.org:443/acme/fleet.git",
        None,
        BB,
    ),
    // sourcehut.
    ("git@git.sr.ht:~acme/fleet", None, SH),
    ("https://git.sr.ht/~acme/fleet", None, SH),
    // GitHub Enterprise, declared.
    (
        "git@ghe.corp.example:acme/fleet.git",
        Some(Forge::GitHub),
        "https://ghe.corp.example/acme/fleet/raw/main/ignition.ign",
    ),
    // Names that need percent-encoding.
    (
        "https://github.com/acme/fleet%20two.git",
        None,
        "https://raw.githubusercontent.com/acme/fleet%20two/main/ignition.ign",
    ),
];

#[test]
fn remote_spellings_map_to_raw_urls() {
    assert!(TABLE.len() >= 20);
    let mut failures = Vec::new();
    for (remote, forge, expected) in TABLE {
        match derive_url(remote, *forge, Ref::Branch("main"), "ignition.ign") {
            Ok(url) if url == *expected => {}
            other => failures.push(format!("{remote}: got {other:?}, expected {expected}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn pinned_commits_and_paths() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let cases: &[(&str, Option<Forge>, &str)] = &[
        (
            "git@github.com:acme/fleet.git",
            None,
            "https://raw.githubusercontent.com/acme/fleet/0123456789abcdef0123456789abcdef01234567/nodes/ignition.ign",
        ),
        (
            "git@gitlab.com:acme/sub/fleet.git",
            None,
            "https://gitlab.com/acme/sub/fleet/-/raw/0123456789abcdef0123456789abcdef01234567/nodes/ignition.ign",
        ),
        (
            "git@codeberg.org:acme/fleet.git",
            None,
            "https://codeberg.org/acme/fleet/raw/commit/0123456789abcdef0123456789abcdef01234567/nodes/ignition.ign",
        ),
        (
            "git@bitbucket.org:acme/fleet.git",
            None,
            "https://bitbucket.org/acme/fleet/raw/0123456789abcdef0123456789abcdef01234567/nodes/ignition.ign",
        ),
        (
            "https://git.sr.ht/~acme/fleet",
            None,
            "https://git.sr.ht/~acme/fleet/blob/0123456789abcdef0123456789abcdef01234567/nodes/ignition.ign",
        ),
    ];
    for (remote, forge, expected) in cases {
        let url = derive_url(remote, *forge, Ref::Commit(sha), "nodes/ignition.ign").unwrap();
        assert_eq!(&url, expected, "{remote}");
    }
}

#[test]
fn branch_names_and_paths_are_percent_encoded() {
    let url = derive_url(
        "git@github.com:acme/fleet.git",
        None,
        Ref::Branch("feature/new nodes#2"),
        "cluster a/ignition${x}.ign",
    )
    .unwrap();
    assert_eq!(
        url,
        "https://raw.githubusercontent.com/acme/fleet/feature/new%20nodes%232/cluster%20a/ignition%24%7Bx%7D.ign"
    );
}

#[test]
fn unusable_remotes_are_explained() {
    let bad = |remote: &str, forge: Option<Forge>| {
        derive_url(remote, forge, Ref::Branch("main"), "ignition.ign")
    };
    assert_eq!(
        bad("git@git.example.com:acme/fleet.git", None),
        Err(DeriveError::UnknownForge {
            host: "git.example.com".into()
        })
    );
    for (remote, forge, expected) in [
        ("/srv/git/fleet.git", None, "local path"),
        ("../fleet", None, "local path"),
        ("file:///srv/git/fleet.git", None, "file://"),
        ("", None, "empty"),
        ("https://github.com/acme", None, "OWNER/REPO"),
        ("https://github.com/acme/fleet/extra", None, "OWNER/REPO"),
        ("https://git.sr.ht/acme/fleet", None, "~OWNER/REPO"),
        ("https://gitlab.com/fleet", None, "GROUP"),
        ("ftp://github.com/acme/fleet", None, "scheme"),
        ("https://github.com:x/acme/fleet", None, "port"),
    ] {
        match bad(remote, forge) {
            Err(DeriveError::BadRemote(problem)) => {
                assert!(problem.contains(expected), "{remote}: {problem}")
            }
            other => panic!("{remote}: {other:?}"),
        }
    }
}
