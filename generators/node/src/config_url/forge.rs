//! Forges and the address at which each serves a file's raw contents.

use std::fmt;
use std::str::FromStr;

use super::remote::{percent_encode, Remote};

/// A kind of git hosting, by the URL scheme of its raw files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    /// GitLab, including groups and subgroups.
    GitLab,
    /// Gitea, Forgejo and Codeberg (which runs Forgejo).
    Gitea,
    Bitbucket,
    SourceHut,
}

impl Forge {
    pub const ALL: [Forge; 5] = [
        Forge::GitHub,
        Forge::GitLab,
        Forge::Gitea,
        Forge::Bitbucket,
        Forge::SourceHut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
            Forge::Gitea => "gitea",
            Forge::Bitbucket => "bitbucket",
            Forge::SourceHut => "sourcehut",
        }
    }

    /// The forge of a well-known public host, with the host its web pages
    /// live on (ssh endpoints such as `ssh.github.com` differ from it).
    pub fn recognise(host: &str) -> Option<(Forge, &'static str)> {
        Some(match host {
            "github.com" | "www.github.com" | "ssh.github.com" => (Forge::GitHub, "github.com"),
            "gitlab.com" | "www.gitlab.com" | "altssh.gitlab.com" => (Forge::GitLab, "gitlab.com"),
            "codeberg.org" | "www.codeberg.org" => (Forge::Gitea, "codeberg.org"),
            "bitbucket.org" | "www.bitbucket.org" | "altssh.bitbucket.org" => {
                (Forge::Bitbucket, "bitbucket.org")
            }
            "git.sr.ht" => (Forge::SourceHut, "git.sr.ht"),
            _ => return None,
        })
    }
}

impl fmt::Display for Forge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--forge` value that names no forge this crate knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown forge {0:?}; expected one of: github, gitlab, gitea (also forgejo, codeberg), bitbucket, sourcehut")]
pub struct UnknownForge(pub String);

impl FromStr for Forge {
    type Err = UnknownForge;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "github" => Ok(Forge::GitHub),
            "gitlab" => Ok(Forge::GitLab),
            "gitea" | "forgejo" | "codeberg" => Ok(Forge::Gitea),
            "bitbucket" => Ok(Forge::Bitbucket),
            "sourcehut" | "srht" => Ok(Forge::SourceHut),
            _ => Err(UnknownForge(s.to_string())),
        }
    }
}

/// Where the file is wanted: a branch (follows pushes) or a commit (fixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ref<'a> {
    Branch(&'a str),
    Commit(&'a str),
}

impl Ref<'_> {
    fn name(&self) -> &str {
        match self {
            Ref::Branch(name) | Ref::Commit(name) => name,
        }
    }
}

/// The raw-file URL of `path` (inside the repository, `/`-separated) at
/// `git_ref` on `remote`, which is hosted on `forge`. Errors say what is
/// wrong with the remote's shape.
pub fn raw_url(
    forge: Forge,
    remote: &Remote,
    git_ref: Ref<'_>,
    path: &str,
) -> Result<String, String> {
    let web_host = Forge::recognise(&remote.host)
        .filter(|(known, _)| *known == forge)
        .map(|(_, host)| host);
    let origin = match web_host {
        Some(host) => format!("https://{host}"),
        None => remote.origin(),
    };
    let segs = &remote.segments;
    let repo_path = |n: usize| -> Result<String, String> {
        if segs.len() == n {
            Ok(segs
                .iter()
                .map(|s| percent_encode(s, false))
                .collect::<Vec<_>>()
                .join("/"))
        } else {
            Err(format!(
                "a {forge} remote names OWNER/REPO, but this one has the path {:?}",
                segs.join("/")
            ))
        }
    };
    // Branch names may hold `/`; forges resolve `main/dir/file` vs
    // `feature/x/file` by matching known refs, so slashes stay as they are.
    let r = percent_encode(git_ref.name(), true);
    let path = percent_encode(path, true);
    Ok(match forge {
        Forge::GitHub if web_host.is_some() => {
            format!(
                "https://raw.githubusercontent.com/{}/{r}/{path}",
                repo_path(2)?
            )
        }
        // GitHub Enterprise serves raw files under the repository.
        Forge::GitHub => format!("{origin}/{}/raw/{r}/{path}", repo_path(2)?),
        Forge::GitLab => {
            if segs.len() < 2 {
                return Err(format!(
                    "a gitlab remote names GROUP[/SUBGROUP…]/REPO, but this one has the path {:?}",
                    segs.join("/")
                ));
            }
            let repo = segs
                .iter()
                .map(|s| percent_encode(s, false))
                .collect::<Vec<_>>()
                .join("/");
            format!("{origin}/{repo}/-/raw/{r}/{path}")
        }
        Forge::Gitea => {
            let kind = match git_ref {
                Ref::Branch(_) => "branch",
                Ref::Commit(_) => "commit",
            };
            format!("{origin}/{}/raw/{kind}/{r}/{path}", repo_path(2)?)
        }
        Forge::Bitbucket => format!("{origin}/{}/raw/{r}/{path}", repo_path(2)?),
        Forge::SourceHut => {
            if !segs.first().is_some_and(|owner| owner.starts_with('~')) {
                return Err(format!(
                    "a sourcehut remote names ~OWNER/REPO, but this one has the path {:?}",
                    segs.join("/")
                ));
            }
            format!("{origin}/{}/blob/{r}/{path}", repo_path(2)?)
        }
    })
}
