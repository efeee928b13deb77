//! The `k3s` the test's release mirror serves in place of the real one
//! (there is no k3s binary on these machines): it records how it was
//! started, does what the node's units rely on k3s doing, signals readiness
//! the way `Type=notify` needs, and stays running.

/// Where the stand-in writes its records (root-only, RAM).
pub const RECORD_DIR: &str = "/run/k3s-standin";
/// Created by [`WRONG`] if it is ever run.
pub const WRONG_RAN: &str = "/run/k3s-standin-wrong-binary-ran";

/// The stand-in. Each start as `server`/`agent` leaves `<pid>.argv`
/// (NUL-separated), `<pid>.environ` (its environment as exec'd, from
/// /proc) and `<pid>.hostname` (the kernel's hostname at start).
pub const STANDIN: &str = include_str!("scripts/k3s-standin.sh");

/// Served with the pinned hash of [`STANDIN`] still in the config: k3s-fetch
/// must refuse it, so it must never run.
pub const WRONG: &str = include_str!("scripts/k3s-wrong.sh");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_and_name_the_paths_the_checks_read() {
        for text in [STANDIN, WRONG] {
            let out = std::process::Command::new("bash")
                .args(["-n", "-c", text])
                .output()
                .expect("bash");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(STANDIN.contains(&format!("dir={RECORD_DIR}\n")));
        assert!(WRONG.contains(WRONG_RAN));
    }
}
