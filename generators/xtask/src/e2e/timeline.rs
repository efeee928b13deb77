//! When each stage of a boot first showed up in the serial log, measured
//! by watching the log grow while qemu runs. Reported, never asserted
//! (speed is a benchmark, not a test).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// (stage, text whose first appearance marks it).
pub const MILESTONES: &[(&str, &str)] = &[
    ("iPXE", "iPXE initialising devices"),
    ("boot script", "ephemeros: booting Flatcar"),
    ("download", "ephemeros: downloading Flatcar"),
    ("kernel", "Linux version"),
    ("/init", "E2E init-start"),
    ("secrets", "E2E secrets-mount"),
    ("Ignition done", "E2E ignition-files"),
    ("udev in initrd", "E2E udev-done"),
    ("switch root", "E2E switch-root"),
    ("systemd", "Welcome to"),
    ("give up", "ephemeros: giving up"),
];

pub struct Timeline {
    path: PathBuf,
    start: Instant,
    seen: Vec<Option<Duration>>,
    /// Bytes read so far, and the tail kept so a marker split across two
    /// reads is still found.
    offset: u64,
    tail: Vec<u8>,
}

impl Timeline {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            start: Instant::now(),
            seen: vec![None; MILESTONES.len()],
            offset: 0,
            tail: Vec::new(),
        }
    }

    /// Reads what the log gained since the last call.
    pub fn poll(&mut self) {
        let Ok(mut f) = File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut new = Vec::new();
        if f.read_to_end(&mut new).is_err() || new.is_empty() {
            return;
        }
        self.offset += new.len() as u64;
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(&new);
        let now = self.start.elapsed();
        for (i, (_, text)) in MILESTONES.iter().enumerate() {
            if self.seen[i].is_none() && contains(&window, text.as_bytes()) {
                self.seen[i] = Some(now);
            }
        }
        let keep = window.len().saturating_sub(64);
        self.tail = window.split_off(keep);
    }

    /// `iPXE 4.1s, boot script 8.2s, …` for the stages that happened.
    pub fn summary(&self) -> String {
        MILESTONES
            .iter()
            .zip(&self.seen)
            .filter_map(|((name, _), t)| t.map(|t| format!("{name} {:.1}s", t.as_secs_f64())))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn milestones_are_found_across_reads() {
        let path = std::env::temp_dir().join(format!("e2e-timeline-{}", std::process::id()));
        let mut f = File::create(&path).unwrap();
        let mut t = Timeline::new(path.clone());
        f.write_all(b"\x1b[0miPXE initialising dev").unwrap();
        t.poll();
        assert_eq!(t.summary(), "");
        f.write_all(b"ices...\nLinux version 6.1\n").unwrap();
        t.poll();
        let s = t.summary();
        assert!(s.starts_with("iPXE ") && s.contains(", kernel "), "{s}");
        std::fs::remove_file(path).unwrap();
    }
}
