//! Checks with real external tools, one module per area.

mod butane;
mod nix;
mod nix_modern;
mod node;
mod stick;

use anyhow::Result;
use xshell::Shell;

use crate::ci::step;

pub fn run_all(sh: &Shell) -> Result<()> {
    step("checks: butane");
    butane::run(sh)?;
    step("checks: stick");
    stick::run(sh)?;
    step("checks: node config");
    node::run(sh)?;
    step("checks: nix");
    nix::run(sh)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every helper script the tests install (fakes, stand-ins, the e2e's
    /// init) lives in a `.sh` file under some crate's `src/`, and passes
    /// shellcheck at its strictest.
    #[test]
    fn helper_scripts_pass_shellcheck() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "sh") {
                    out.push(path);
                }
            }
        }
        let root = crate::workspace_root();
        let mut scripts = Vec::new();
        for krate in std::fs::read_dir(root.join("generators"))
            .unwrap()
            .flatten()
        {
            walk(&krate.path().join("src"), &mut scripts);
        }
        assert!(scripts.len() >= 10, "found only {scripts:?}");
        let out = std::process::Command::new("shellcheck")
            .args(["-S", "style"])
            .args(&scripts)
            .output()
            .expect("shellcheck (Debian package shellcheck) on PATH");
        assert!(
            out.status.success(),
            "shellcheck:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
