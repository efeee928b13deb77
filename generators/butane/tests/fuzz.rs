//! Fuzzing the whole translator (YAML -> decode -> validate -> translate ->
//! JSON -> diagnostics rendering) on stable Rust: a seeded PRNG mutates the
//! golden fixtures (byte, token, line and splice mutations) and generates
//! configs from the Butane grammar with random scalars. Every input must
//! come back as output or as positioned diagnostics, never as a panic.
//!
//! `cargo test` runs a short bounded round; `cargo xtask ci` runs the
//! ignored long round in release mode for EPHEMEROS_FUZZ_SECONDS seconds.
//! A crashing input is written to target/fuzz-crash-<seed>.bu; rerun it
//! with EPHEMEROS_FUZZ_SEED=<seed>.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ephemeros_butane::{render, source_text, translate, Format, Options};

/// xorshift64*: small, fast, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const TOKENS: &[&str] = &[
    ": ",
    "- ",
    "\n",
    "\n  ",
    "  ",
    "\t",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "#",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!int ",
    "!!str ",
    "!!bool ",
    "!!binary ",
    "!!float ",
    "!local ",
    "~",
    "null",
    "yes",
    "off",
    "0x",
    "0o",
    "0b",
    "-0b1",
    "0_7_7_7",
    "1e308",
    ".inf",
    "-.inf",
    ".nan",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "|",
    ">-",
    "|+",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "? ",
    "\u{2028}",
    "\u{feff}",
    "é",
    "\\x",
    "%",
    "%zz",
    "../",
    "/",
    "//",
    "data:",
    "data:;base64,",
    "https://",
    "s3://",
    "arn:aws:s3:::b/k",
    "gzip",
    "sha512-",
    "sha256-",
    ".service",
    "@.service",
    "[Install]\n",
    "[Unit",
    "=",
    "\\\n",
    "/dev/mapper/",
    "swap",
    "with_mount_unit: true",
    "contents_local: local.service",
    "local: hello.txt",
    "local: tree",
    "inline: x",
    "source: ",
];

const KEYS: &[&str] = &[
    "path",
    "mode",
    "contents",
    "append",
    "inline",
    "local",
    "source",
    "compression",
    "verification",
    "hash",
    "http_headers",
    "name",
    "value",
    "overwrite",
    "user",
    "group",
    "id",
    "target",
    "hard",
    "device",
    "format",
    "label",
    "uuid",
    "options",
    "mount_options",
    "with_mount_unit",
    "wipe_filesystem",
    "partitions",
    "number",
    "size_mib",
    "start_mib",
    "type_guid",
    "guid",
    "should_exist",
    "wipe_table",
    "level",
    "devices",
    "spares",
    "clevis",
    "tpm2",
    "tang",
    "url",
    "thumbprint",
    "advertisement",
    "key_file",
    "discard",
    "open_options",
    "units",
    "enabled",
    "mask",
    "dropins",
    "contents_local",
    "users",
    "groups",
    "ssh_authorized_keys",
    "ssh_authorized_keys_local",
    "uid",
    "gid",
    "shell",
    "home_dir",
    "system",
    "password_hash",
    "files",
    "directories",
    "links",
    "filesystems",
    "disks",
    "raid",
    "luks",
    "trees",
    "merge",
    "replace",
    "proxy",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "tls",
    "certificate_authorities",
    "timeouts",
    "http_total",
    "should_not_exist",
];

const SCALARS: &[&str] = &[
    "/etc/x",
    "/etc/x/",
    "etc/x",
    "/",
    "",
    "''",
    "\"\"",
    "0644",
    "0o755",
    "0x1ff",
    "420",
    "-1",
    "99999999999",
    "true",
    "no",
    "on",
    "~",
    "x.service",
    "a@b.service",
    "10.conf",
    "ext4",
    "swap",
    "vfat",
    "raid1",
    "gzip",
    "https://e/x",
    "data:,x",
    "data:;base64,eA==",
    "tftp://h/x",
    "local.service",
    "hello.txt",
    "../x",
    "tree",
    "sha512-00",
    "[]",
    "{}",
    "[a, b]",
    "{a: 1}",
    "|\n  [Unit]\n  A=b\n",
    "&x 1",
    "*x",
    "!!int 5",
    "!!binary eA==",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in ["ok", "err"] {
        let mut paths: Vec<_> = std::fs::read_dir(fixtures().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "bu"))
            .collect();
        paths.sort();
        out.extend(paths.iter().map(|p| std::fs::read(p).unwrap()));
    }
    out
}

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut data = rng.pick(corpus).clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = rng.pick(TOKENS).as_bytes().to_vec();
                data.splice(at..at, t);
            }
            2 if !data.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            3 => {
                // Splice a line range from another corpus file.
                let other = rng.pick(corpus);
                let lines: Vec<&[u8]> = other.split(|&b| b == b'\n').collect();
                let start = rng.below(lines.len());
                let n = 1 + rng.below(4);
                let mut chunk = Vec::new();
                for l in lines.iter().skip(start).take(n) {
                    chunk.extend_from_slice(l);
                    chunk.push(b'\n');
                }
                let line_start = data[..at]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                data.splice(line_start..line_start, chunk);
            }
            4 => {
                // Re-indent a line.
                let line_start = data[..at]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let spaces = vec![b' '; rng.below(5)];
                data.splice(line_start..line_start, spaces);
            }
            5 => data.splice(at..at, [rng.next() as u8]).for_each(drop),
            _ => {
                let t = rng.pick(SCALARS).as_bytes().to_vec();
                data.splice(at..at, t);
            }
        }
    }
    data
}

/// A config from the Butane grammar with random structure and scalars.
fn generate(rng: &mut Rng) -> Vec<u8> {
    fn value(rng: &mut Rng, depth: usize, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match if depth > 4 { 0 } else { rng.below(4) } {
            0 | 1 => {
                out.push(' ');
                let scalar: &&str = rng.pick(SCALARS);
                out.push_str(scalar);
                out.push('\n');
            }
            2 => {
                out.push('\n');
                for _ in 0..1 + rng.below(3) {
                    out.push_str(&format!("{pad}- {}:", rng.pick(KEYS)));
                    value(rng, depth + 1, indent + 4, out);
                    for _ in 0..rng.below(3) {
                        out.push_str(&format!("{pad}  {}:", rng.pick(KEYS)));
                        value(rng, depth + 1, indent + 4, out);
                    }
                }
            }
            _ => {
                out.push('\n');
                for _ in 0..1 + rng.below(4) {
                    out.push_str(&format!("{pad}{}:", rng.pick(KEYS)));
                    value(rng, depth + 1, indent + 2, out);
                }
            }
        }
    }
    let mut s = format!(
        "variant: flatcar\nversion: {}\n",
        if rng.chance(50) { "1.0.0" } else { "1.1.0" }
    );
    for section in [
        "ignition",
        "storage",
        "systemd",
        "passwd",
        "kernel_arguments",
    ] {
        if rng.chance(60) {
            s.push_str(section);
            s.push(':');
            value(rng, 0, 2, &mut s);
        }
    }
    s.into_bytes()
}

/// Returns whether the input was accepted.
fn check_one(input: &[u8], seed: u64) -> bool {
    let options = Options {
        files_dir: Some(fixtures().join("files")),
        pretty: seed.is_multiple_of(2),
    };
    let run = || {
        let text = source_text(input);
        match translate(input, &options) {
            Ok(t) => {
                let v: serde_json::Value = serde_json::from_str(&t.json).expect("output is JSON");
                assert!(v["ignition"]["version"].is_string());
                render(&t.report, "f.bu", &text, Format::Human { color: true });
                render(&t.report, "f.bu", &text, Format::Short);
                true
            }
            Err(e) => {
                assert!(
                    !e.report().entries.is_empty(),
                    "rejected without a diagnostic"
                );
                assert!(
                    e.report().entries.iter().all(|d| d.span.is_some()),
                    "diagnostic without position"
                );
                let human = render(e.report(), "f.bu", &text, Format::Human { color: false });
                let short = render(e.report(), "f.bu", &text, Format::Short);
                // Input bytes must never reach the terminal as controls.
                for out in [human, short] {
                    assert!(
                        !out.chars().any(|c| c.is_control() && c != '\n'),
                        "raw control character in diagnostics:\n{out}"
                    );
                }
                false
            }
        }
    };
    let result = std::panic::catch_unwind(run);
    if result.is_err() {
        let crash = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../target/fuzz-crash-{seed}.bu"));
        let _ = std::fs::write(&crash, input);
        panic!(
            "translator panicked on input from seed {seed}, saved to {}",
            crash.display()
        );
    }
    result.unwrap_or(false)
}

/// Runs until `iterations` or `budget`; returns (inputs, accepted).
fn fuzz_for(iterations: Option<u64>, budget: Duration) -> (u64, u64) {
    let corpus = corpus();
    let base: u64 = std::env::var("EPHEMEROS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED);
    let single = std::env::var("EPHEMEROS_FUZZ_SEED").is_ok();
    let start = Instant::now();
    let mut n = 0;
    let mut accepted = 0;
    loop {
        if iterations.is_some_and(|max| n >= max) || start.elapsed() > budget || (single && n == 1)
        {
            break;
        }
        let seed = base.wrapping_add(n);
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let input = if rng.chance(70) {
            mutate(&mut rng, &corpus)
        } else {
            generate(&mut rng)
        };
        accepted += u64::from(check_one(&input, seed));
        n += 1;
    }
    (n, accepted)
}

#[test]
fn short_fuzz_round_never_panics() {
    let (n, accepted) = fuzz_for(Some(400), Duration::from_secs(60));
    // Both paths must be exercised, or the round proves little.
    assert!(
        n > 0 && accepted > 0 && accepted < n,
        "{accepted} of {n} accepted"
    );
}

#[test]
#[ignore = "long round, run by `cargo xtask ci` in release mode"]
fn long_fuzz_round_never_panics() {
    let secs = std::env::var("EPHEMEROS_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let (n, accepted) = fuzz_for(None, Duration::from_secs(secs));
    eprintln!("fuzz: {n} inputs ({accepted} accepted) in {secs} s without a panic");
}
