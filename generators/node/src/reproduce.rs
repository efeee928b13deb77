//! `reproduce.sh`: a script on the secrets partition that rebuilds the same
//! stick. It holds every setting (so it is as secret as the rest of the
//! partition) and runs `ephemeros build-stick` with settings taken only
//! from the script, never from the caller's environment.

use crate::envfile;
use crate::error::Result;
use crate::manifest::ConfigRef;
use crate::node_password::NodePassword;
use crate::shell::quote;

/// Inputs of the script.
#[derive(Debug, Clone)]
pub struct Reproduce<'a> {
    pub tool_version: &'a str,
    pub built_at: &'a str,
    pub config: Option<&'a ConfigRef>,
    pub ignition_url: &'a str,
    /// Secrets-volume settings (`NODE_HOSTNAME`, `K3S_*`, …).
    pub settings: &'a [(String, String)],
    pub ssh_keys: &'a [String],
    /// The node's k3s password: a rebuilt stick must keep it, or the k3s
    /// server refuses the node.
    pub k3s_node_password: Option<&'a NodePassword>,
    /// Further `build-stick` arguments (boot script flags), already split
    /// into words; the script quotes them.
    pub args: &'a [String],
}

impl Reproduce<'_> {
    pub fn render(&self) -> Result<String> {
        let mut s = String::new();
        s.push_str("#!/bin/sh\n");
        s.push_str("# Rebuilds this ephemeros stick with the settings it was built with.\n");
        s.push_str(&format!(
            "# Built {} by ephemeros {}.\n",
            one_line(self.built_at),
            one_line(self.tool_version)
        ));
        match self.config {
            Some(c) => {
                s.push_str(&format!(
                    "# Config repository: {} ({} at commit {}{})\n",
                    one_line(&c.repository),
                    one_line(&c.git_ref),
                    one_line(&c.commit),
                    if c.dirty {
                        "; ignition.ign had uncommitted changes"
                    } else {
                        ""
                    }
                ));
            }
            None => s.push_str("# Config repository: none (the Ignition URL was given directly)\n"),
        }
        s.push_str(&format!(
            "# Ignition config: {}\n",
            one_line(self.ignition_url)
        ));
        s.push_str(
            "#\n\
             # Usage: sh reproduce.sh TARGET [more build-stick flags, e.g. --yes]\n\
             #   TARGET is a device (/dev/sdX, /dev/disk/by-id/...) or an image file.\n\
             #   Runs `ephemeros` from PATH, or the program named by $EPHEMEROS.\n\
             set -eu\n\
             if [ \"$#\" -lt 1 ]; then\n\
             \x20   echo \"usage: $0 TARGET [build-stick flags]\" >&2\n\
             \x20   exit 2\n\
             fi\n\
             ephemeros=${EPHEMEROS:-ephemeros}\n\
             dir=$(mktemp -d)\n\
             trap 'rm -rf \"$dir\"' EXIT\n\
             trap 'exit 130' INT TERM\n",
        );
        // Quoted here-documents are copied literally; no line of either
        // document can equal its terminator (keys lines start with a key
        // type, env lines with `NAME=`).
        s.push_str("cat > \"$dir/authorized_keys\" <<'EPHEMEROS_KEYS'\n");
        for key in self.ssh_keys {
            s.push_str(&one_line(key));
            s.push('\n');
        }
        s.push_str("EPHEMEROS_KEYS\n");
        s.push_str("cat > \"$dir/node.env\" <<'EPHEMEROS_ENV'\n");
        s.push_str(&envfile::render("", self.settings)?);
        s.push_str("EPHEMEROS_ENV\n");
        if let Some(p) = self.k3s_node_password {
            // A password is printable ASCII without spaces; quoted, it is one
            // word whatever it holds.
            s.push_str(&format!(
                "printf '%s\\n' {} > \"$dir/k3s_node_password\"\n",
                quote(p.as_str())
            ));
        }
        s.push_str("\"$ephemeros\" build-stick \\\n    --ignore-environment \\\n    --env-file \"$dir/node.env\" \\\n    --ssh-key \"$dir/authorized_keys\" \\\n");
        if self.k3s_node_password.is_some() {
            s.push_str("    --k3s-node-password-file \"$dir/k3s_node_password\" \\\n");
        }
        s.push_str(&format!(
            "    --ignition-url {} \\\n",
            quote(self.ignition_url)
        ));
        for arg in self.args {
            s.push_str(&format!("    {} \\\n", quote(arg)));
        }
        s.push_str("    \"$@\"\n");
        Ok(s)
    }
}

/// Comments and here-documents are line-based: a value can never break out
/// of its line.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}
