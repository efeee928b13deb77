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
            "logexport_env",
            "heartbeat_env",
            "hostname",
            "authorized_keys"
        ]
    );
    let k3s = &r.secrets[0];
    assert_eq!(
        k3s.keys.as_deref().unwrap(),
        ["K3S_DATASTORE_ENDPOINT", "K3S_TOKEN"]
    );
    assert!(k3s.values.is_none());
    let json = serde_json::to_string(&r).unwrap();
    for secret in [TOKEN, "logs.example.com", "hc.example"] {
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
    assert_eq!(r.secrets[3].content.as_deref(), Some("node1\n"));
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
