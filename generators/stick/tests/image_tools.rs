//! The built image checked by real tools: sgdisk, fsck.fat, mtools.

mod common;

use common::*;
use ephemeros_stick::layout::{Extent, MIB};

/// Where the library's default layout puts the ESP and the secrets (on any
/// disk at least its minimum size: both sit at the start).
fn default_extents() -> (Extent, Extent) {
    let layout = ephemeros_stick::Layout::default();
    let placed = layout.place(layout.min_disk_size()).unwrap();
    (placed.esp, placed.secrets)
}

/// Copies a byte range of the image to its own file (fsck.fat works on a
/// whole file).
fn extract(image: &std::path::Path, start: u64, len: u64, out: &std::path::Path) {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(image).unwrap();
    f.seek(SeekFrom::Start(start)).unwrap();
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).unwrap();
    std::fs::write(out, buf).unwrap();
}

#[test]
fn sgdisk_verifies_the_partition_table() {
    let dir = tempfile::tempdir().unwrap();
    let img = build_image(&dir.path().join("stick.img"), None);
    let Some(out) = run_tool("sgdisk", &["-v", img.to_str().unwrap()]) else {
        return;
    };
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("No problems found"), "{t}");
    let out = run_tool("sgdisk", &["-p", img.to_str().unwrap()]).unwrap();
    let t = text(&out);
    // number, start, end, size, code, name
    let rows: Vec<Vec<&str>> = t
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{t}");
    let lbas = |e: Extent| [e.first_lba(), e.first_lba() + e.sectors() - 1].map(|n| n.to_string());
    let (e, s) = default_extents();
    let [esp_first, esp_last] = lbas(e);
    let [secrets_first, secrets_last] = lbas(s);
    assert_eq!(
        &rows[0][..3],
        ["1", esp_first.as_str(), esp_last.as_str()],
        "{t}"
    );
    assert_eq!(rows[0][5], "EF00", "{t}");
    assert_eq!(rows[0][6], "EFI", "{t}");
    assert_eq!(
        &rows[1][..3],
        ["2", secrets_first.as_str(), secrets_last.as_str()],
        "{t}"
    );
    assert_eq!(rows[1][5], "8300", "{t}");
    assert_eq!(rows[1][6], "secrets", "{t}");
    // The protective MBR: one 0xEE entry from LBA 1 covering the disk.
    let out = run_tool("sgdisk", &["-O", img.to_str().unwrap()]).unwrap();
    let t = text(&out);
    assert!(t.contains("0xEE"), "{t}");
}

#[test]
fn backup_gpt_sits_at_the_true_end_of_a_big_disk() {
    let dir = tempfile::tempdir().unwrap();
    // 8 GiB, like a real stick; the file is sparse.
    let img = build_image(&dir.path().join("big.img"), Some(8 << 30));
    let Some(out) = run_tool("sgdisk", &["-v", img.to_str().unwrap()]) else {
        return;
    };
    assert!(text(&out).contains("No problems found"), "{}", text(&out));
    let out = run_tool("sgdisk", &["-p", img.to_str().unwrap()]).unwrap();
    assert!(text(&out).contains("16777216 sectors"), "{}", text(&out));
}

#[test]
fn fsck_fat_finds_both_filesystems_clean() {
    let dir = tempfile::tempdir().unwrap();
    let img = build_image(&dir.path().join("stick.img"), None);
    let (e, s) = default_extents();
    for (name, start, len, fat) in [
        ("esp", e.start, e.len, "32"),
        ("secrets", s.start, s.len, "12"),
    ] {
        let part = dir.path().join(format!("{name}.fat"));
        extract(&img, start, len, &part);
        let Some(out) = run_tool("fsck.fat", &["-n", "-v", part.to_str().unwrap()]) else {
            return;
        };
        let t = text(&out);
        assert!(out.status.success(), "fsck.fat on {name}: {t}");
        assert!(
            !t.contains("differ") && !t.contains("corrected"),
            "{name}: {t}"
        );
        assert!(
            t.contains(&format!("FATs, {fat} bit entries")),
            "{name}: {t}"
        );
        // fsck.fat -n exits 1 when it would change anything.
        assert_eq!(out.status.code(), Some(0), "{name}: {t}");
    }
}

#[test]
fn mtools_see_the_files_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let img = build_image(&dir.path().join("stick.img"), None);
    let (e, s) = default_extents();
    let esp = format!("{}@@{}", img.display(), e.start);
    let secrets = format!("{}@@{}", img.display(), s.start);
    let Some(out) = run_tool("mdir", &["-i", &esp, "-/", "-b", "::"]) else {
        return;
    };
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for want in [
        "::/EFI/BOOT/BOOTX64.EFI",
        "::/autoexec.ipxe",
        "::/ephemeros.json",
    ] {
        assert!(t.lines().any(|l| l == want), "missing {want} in:\n{t}");
    }
    let out = run_tool("mtype", &["-i", &esp, "::/autoexec.ipxe"]).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), BOOT_SCRIPT);
    let out = run_tool("mcopy", &["-i", &esp, "::/EFI/BOOT/BOOTX64.EFI", "-"]).unwrap();
    assert!(
        out.stdout == fake_ipxe(),
        "BOOTX64.EFI differs from the input binary"
    );
    let out = run_tool("mlabel", &["-i", &esp, "-s", "::"]).unwrap();
    assert!(text(&out).contains("EPHEMEROS"), "{}", text(&out));

    let out = run_tool("mdir", &["-i", &secrets, "-b", "::"]).unwrap();
    let t = text(&out);
    for want in [
        "k3s_env",
        "logexport_env",
        "heartbeat_env",
        "hostname",
        "authorized_keys",
    ] {
        assert!(
            t.lines().any(|l| l == format!("::/{want}")),
            "missing {want} in:\n{t}"
        );
    }
    let out = run_tool("mtype", &["-i", &secrets, "::/k3s_env"]).unwrap();
    let parsed = ephemeros_node::envfile::parse(&out.stdout, "k3s_env").unwrap();
    assert_eq!(
        parsed.iter().find(|e| e.key == "K3S_TOKEN").unwrap().value,
        TOKEN
    );
    let out = run_tool("mlabel", &["-i", &secrets, "-s", "::"]).unwrap();
    assert!(text(&out).contains("secrets"), "{}", text(&out));
}

#[test]
fn writing_only_the_plan_over_a_used_stick_leaves_a_clean_stick() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("used-stick");
    // A "used" stick: every byte is junk, as after a distro ISO.
    let size = 96 * MIB;
    {
        let mut f = std::fs::File::create(&path).unwrap();
        let junk: Vec<u8> = (0..MIB).map(|i| (i * 7 % 253) as u8).collect();
        for _ in 0..size / MIB {
            f.write_all(&junk).unwrap();
        }
    }
    let secrets = sample_secrets();
    let manifest_json = sample_manifest(&secrets).to_json();
    let files = secrets.files().unwrap();
    let ipxe = fake_ipxe();
    let spec = ephemeros_stick::StickSpec {
        layout: Default::default(),
        arch: ephemeros_stick::image::EfiArch::X64,
        ipxe_efi: &ipxe,
        boot_script: BOOT_SCRIPT,
        manifest_json: &manifest_json,
        secret_files: &files,
        build_time: 1_795_325_392,
    };
    let disk = ephemeros_stick::build(&spec, size).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut seen = Vec::new();
    ephemeros_stick::device::write_and_verify(&file, &disk, &mut |phase, done, total| {
        seen.push((phase, done, total));
    })
    .unwrap();
    let planned = disk.planned_bytes();
    use ephemeros_stick::device::Phase;
    let last_write = seen.iter().rev().find(|s| s.0 == Phase::Writing).unwrap();
    assert_eq!((last_write.1, last_write.2), (planned, planned));
    let last = seen.last().unwrap();
    assert_eq!(*last, (Phase::Verifying, planned, planned));
    assert!(planned < 4 * MIB, "plan is {planned} bytes");

    let img = path.to_str().unwrap();
    let Some(out) = run_tool("sgdisk", &["-v", img]) else {
        return;
    };
    assert!(text(&out).contains("No problems found"), "{}", text(&out));
    let (e, s) = default_extents();
    for (name, start, len) in [("esp", e.start, e.len), ("secrets", s.start, s.len)] {
        let part = dir.path().join(name);
        extract(&path, start, len, &part);
        let Some(out) = run_tool("fsck.fat", &["-n", part.to_str().unwrap()]) else {
            return;
        };
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out));
    }
    let esp = format!("{img}@@{MIB}");
    let out = run_tool("mtype", &["-i", &esp, "::/autoexec.ipxe"]).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), BOOT_SCRIPT);
    // blkid sees one partition table and nothing left over from the junk.
    if let Some(out) = run_tool("blkid", &["-p", "-o", "export", img]) {
        let t = text(&out);
        assert!(t.contains("PTTYPE=gpt"), "{t}");
        assert!(
            !t.contains("TYPE=iso9660") && !t.contains("ambivalent"),
            "{t}"
        );
    }
}
