//! The stand-in's `/init` (busybox sh) and its DHCP hook.
//!
//! It does what Flatcar's initrd does that the test cares about, and reports
//! each result as a marker line on the serial console:
//! `E2E <key> <value…>`, with anything user-given base64-encoded so the log
//! stays unambiguous. The harness parses them (see `markers.rs`).

/// PID 1 of the stand-in.
pub const INIT: &str = include_str!("scripts/init.sh");

/// udhcpc calls this with the lease in the environment.
pub const UDHCPC_SCRIPT: &str = include_str!("scripts/udhcpc.sh");

#[cfg(test)]
mod tests {
    use super::*;

    /// busybox sh parses both scripts (`sh -n`: syntax only, runs nothing).
    #[test]
    fn scripts_parse() {
        for (name, text) in [("init", INIT), ("udhcpc", UDHCPC_SCRIPT)] {
            let out = std::process::Command::new("busybox")
                .args(["sh", "-n", "-c", text])
                .output()
                .expect("busybox (Debian package busybox-static) on PATH");
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
