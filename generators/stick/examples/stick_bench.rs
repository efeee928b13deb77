//! Measures building a complete default stick image file in-process, as
//! `build-stick` does after parsing its inputs. Run by `cargo xtask bench`;
//! prints `name value` lines.
//!
//! Usage: stick_bench RUNS IPXE_EFI OUT_DIR

use std::collections::BTreeMap;
use std::time::Instant;

use ephemeros_node::envfile;
use ephemeros_node::manifest::{self, Flatcar, Manifest};
use ephemeros_node::secrets::Secrets;
use ephemeros_stick::image::EfiArch;
use ephemeros_stick::layout::Layout;
use ephemeros_stick::{target, StickSpec};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: stick_bench RUNS IPXE_EFI OUT_DIR");
        std::process::exit(2);
    }
    let runs: usize = args[1].parse().expect("RUNS is a number");
    let ipxe = std::fs::read(&args[2]).expect("reading the iPXE binary");
    let out = std::path::Path::new(&args[3]).join("bench.img");

    let mut times = Vec::new();
    let mut planned = 0;
    for _ in 0..runs {
        let start = Instant::now();
        planned = build_once(&ipxe, None, Some(&out));
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    // The same without the file: the build alone (the rest is writing
    // and fsync-ing the image).
    let mut build_times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        build_once(&ipxe, None, None);
        build_times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    build_times.sort_by(f64::total_cmp);
    println!("build_only_median_ms {:.2}", build_times[runs / 2]);
    println!("runs {runs}");
    println!("median_ms {:.2}", times[runs / 2]);
    println!("min_ms {:.2}", times[0]);
    println!("max_ms {:.2}", times[runs - 1]);
    println!("image_bytes_written {planned}");
    // What a default stick costs on a real device: an 8 GiB and a 64 GiB one.
    for gib in [8u64, 64] {
        println!(
            "device_{gib}g_bytes_written {}",
            build_once(&ipxe, Some(gib << 30), None)
        );
    }
}

/// Builds one stick from inputs like a user's; writes it to `out` when
/// given. Returns the bytes the write plan covers.
fn build_once(ipxe: &[u8], disk_size: Option<u64>, out: Option<&std::path::Path>) -> u64 {
    let settings: BTreeMap<String, String> = [
        ("NODE_HOSTNAME", "node1"),
        ("LOGEXPORT_HOST", "logs.example.com"),
        ("LOGEXPORT_PORT", "6514"),
        (
            "HEARTBEAT_URL",
            "https://hc-ping.com/5e1f0c7a-1111-2222-3333-444455556666",
        ),
        (
            "K3S_TOKEN",
            "K10d5a4f0e0c9b8a7f6e5d4c3b2a1908f7e6d5c4b3a2918::server:0123456789abcdef",
        ),
        ("K3S_DATASTORE_ENDPOINT", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let keys = vec![
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkVb9xQ8eph3m3r0s7u6v5w4x3y2z1 me@laptop".to_owned(),
    ];
    let (secrets, _) = Secrets::from_settings(&settings, keys).unwrap();
    let manifest = Manifest {
        format: manifest::FORMAT,
        tool: "ephemeros".into(),
        tool_version: "bench".into(),
        built_at: "2026-01-01T00:00:00Z".into(),
        config: None,
        ignition_url: "https://raw.githubusercontent.com/example/cluster/main/ignition.ign".into(),
        flatcar: Flatcar {
            channel: "stable".into(),
            release: "current".into(),
            arch: "amd64".into(),
            base_url: None,
        },
        components: manifest::components(&secrets),
    };
    let mut files = secrets.files().unwrap();
    files.push((
        "reproduce.sh".into(),
        envfile::render("stand-in", &secrets.settings())
            .unwrap()
            .into_bytes(),
    ));
    let script = "#!ipxe\n".to_owned() + &"echo a boot script line of typical length\n".repeat(150);
    let json = manifest.to_json();
    let layout = Layout::default();
    let spec = StickSpec {
        layout,
        arch: EfiArch::X64,
        ipxe_efi: ipxe,
        boot_script: &script,
        manifest_json: &json,
        secret_files: &files,
        build_time: 1_767_225_600,
    };
    let disk = ephemeros_stick::build(&spec, disk_size.unwrap_or(layout.min_disk_size())).unwrap();
    if let Some(out) = out {
        let _ = std::fs::remove_file(out);
        target::write_image_file(out, &disk).unwrap();
    }
    disk.planned_bytes()
}
