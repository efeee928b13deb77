//! Build, then read back with `inspect`.

mod common;

use common::*;
use ephemeros_stick::inspect::inspect;

fn open(path: &std::path::Path) -> (std::fs::File, u64) {
    let f = std::fs::File::open(path).unwrap();
    let len = f.metadata().unwrap().len();
    (f, len)
}

#[test]
fn inspect_reads_back_what_was_built_without_secret_values() {
    let dir = tempfile::tempdir().unwrap();
    let img = build_image(&dir.path().join("stick.img"), None);
    let before = std::fs::read(&img).unwrap();
    let (f, len) = open(&img);
    let r = inspect(f, len, false).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.partitions.len(), 2);
    assert_eq!(r.partitions[0].name, "EFI");
    assert_eq!(r.partitions[0].type_name, "EFI System");
    let fs0 = r.partitions[0].filesystem.as_ref().unwrap();
    assert_eq!(
        (fs0.fat_type.as_str(), fs0.label.as_str()),
        ("FAT32", "EPHEMEROS")
    );
    let fs1 = r.partitions[1].filesystem.as_ref().unwrap();
    assert_eq!(
        (fs1.fat_type.as_str(), fs1.label.as_str()),
        ("FAT12", "secrets")
    );
    assert_eq!(r.partitions[1].size, 1 << 20);
    assert_eq!(
        r.manifest.as_ref().unwrap(),
        &sample_manifest(&sample_secrets())
    );
    assert_eq!(r.boot_script.as_deref(), Some(BOOT_SCRIPT));
    let names: Vec<&str> = r.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "k3s_env",
            "k3s_node_password",
            "logexport_env",
            "heartbeat_env",
            "hostname",
            "authorized_keys",
            "reproduce.sh"
        ]
    );
    let k3s = &r.secrets[0];
    assert_eq!(
        k3s.keys.as_deref().unwrap(),
        ["K3S_DATASTORE_ENDPOINT", "K3S_TOKEN"]
    );
    assert!(k3s.values.is_none());
    let json = serde_json::to_string(&r).unwrap();
    for secret in [TOKEN, NODE_PASSWORD, "logs.example.com", "hc.example"] {
        assert!(!json.contains(secret), "inspect leaks {secret}");
    }
    assert_eq!(
        std::fs::read(&img).unwrap(),
        before,
        "inspect changed the image"
    );

    let (f, len) = open(&img);
    let r = inspect(f, len, true).unwrap();
    assert_eq!(r.secrets[0].values.as_ref().unwrap()["K3S_TOKEN"], TOKEN);
    assert_eq!(r.secrets[4].content.as_deref(), Some("node1\n"));
    let password = format!("{NODE_PASSWORD}\n");
    assert_eq!(r.secrets[1].content.as_deref(), Some(password.as_str()));
}

/// A k3s stick without the node password (as built before it was kept) is
/// reported, with the way out.
#[test]
fn inspect_reports_a_k3s_stick_without_node_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut secrets = sample_secrets();
    secrets.k3s_node_password = None;
    let img = build_image_with(&dir.path().join("stick.img"), &secrets);
    let (f, len) = open(&img);
    let r = inspect(f, len, false).unwrap();
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert!(
        r.problems[0].contains("no k3s_node_password")
            && r.problems[0].contains("--k3s-node-password-file"),
        "{:?}",
        r.problems
    );
}

#[test]
fn inspect_of_something_else_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk");
    std::fs::write(&p, vec![0x5Au8; 1 << 20]).unwrap();
    let (f, len) = open(&p);
    let e = inspect(f, len, false).unwrap_err().to_string();
    assert!(e.contains("no readable GPT"), "{e}");
}

/// Damage `f` does to a fresh image, and what inspect must then say.
fn damaged(what: &str, f: impl FnOnce(&mut Vec<u8>), want: &str) {
    let dir = tempfile::tempdir().unwrap();
    let img = build_image(&dir.path().join("stick.img"), None);
    let mut bytes = std::fs::read(&img).unwrap();
    f(&mut bytes);
    std::fs::write(&img, bytes).unwrap();
    let (file, len) = open(&img);
    let r = inspect(file, len, false).unwrap();
    assert!(
        r.problems.iter().any(|p| p.contains(want)),
        "{what}: want {want:?} among {:?}",
        r.problems
    );
}

#[test]
fn damaged_images_are_not_sound() {
    // Cut where the secrets partition starts (the default layout's).
    let layout = ephemeros_stick::Layout::default();
    let cut = layout.place(layout.min_disk_size()).unwrap().secrets.start as usize;
    damaged(
        "truncated where the secrets begin",
        |b| b.truncate(cut),
        "partition 2 (secrets) ends at byte",
    );
    damaged(
        "truncated where the secrets begin",
        |b| b.truncate(cut),
        "the backup GPT header",
    );
    damaged(
        "last sector missing",
        |b| b.truncate(b.len() - 512),
        "the backup GPT header (last sector) is damaged or missing",
    );
    damaged(
        "primary GPT zeroed",
        |b| b[512..34 * 512].fill(0),
        "the primary GPT header (sector 1) is damaged",
    );
}

/// Removes `name` from the secrets volume of the image at `img`.
fn remove_secret(img: &std::path::Path, name: &str) {
    use ephemeros_stick::slice::Slice;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .unwrap();
    let fs = fatfs::FileSystem::new(
        Slice::new(&mut file, 41 << 20, 1 << 20),
        fatfs::FsOptions::new(),
    )
    .unwrap();
    fs.root_dir().remove(name).unwrap();
}

#[test]
fn missing_secret_files_are_problems() {
    for (name, want) in [
        ("reproduce.sh", "the secrets volume has no reproduce.sh"),
        // The sample stick has an SSH key, so the file must be there.
        (
            "authorized_keys",
            "the secrets volume has no authorized_keys",
        ),
        ("k3s_env", "the secrets volume has no k3s_env"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let img = build_image(&dir.path().join("stick.img"), None);
        remove_secret(&img, name);
        let (file, len) = open(&img);
        let r = inspect(file, len, false).unwrap();
        assert!(
            r.problems.iter().any(|p| p == want),
            "{name}: {:?}",
            r.problems
        );
    }
}
