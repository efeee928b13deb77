//! TEMPORARY: a hand-built stick (sgdisk + mkfs.fat + mcopy) used only while
//! `ephemeros build-stick` is not written yet, selected by E2E_DEV_STICK=1.
//! The real harness path is `stick::build` (the `ephemeros` binary).

use std::fs;

use anyhow::{Context, Result};
use camino::Utf8Path;
use xshell::{cmd, Shell};

use super::scenario::{Scenario, HOSTNAME, SSH_KEY};

pub fn build(
    sh: &Shell,
    sc: &Scenario,
    ipxe_efi: &Utf8Path,
    dir: &Utf8Path,
) -> Result<camino::Utf8PathBuf> {
    let img = dir.join("stick.img");
    let script = ephemeros_ipxe::render(&sc.boot_settings())?;
    fs::write(dir.join("autoexec.ipxe"), &script)?;
    let f = fs::File::create(&img)?;
    f.set_len(80 << 20)?;
    drop(f);
    cmd!(
        sh,
        "sgdisk -n 1:2048:+32M -t 1:ef00 -c 1:EFI -n 2:0:0 -t 2:8300 -c 2:secrets {img}"
    )
    .quiet()
    .ignore_stdout()
    .run()?;
    // Each FAT is made as its own file, filled with mtools, then placed at
    // its partition's offset. Partition 2 starts after partition 1.
    let p2: u64 = 2048 + 65536;
    let p2_kib = ((80u64 << 20) / 512 - p2 - 34) / 2;
    let esp = dir.join("esp.fat");
    let sec = dir.join("secrets.fat");
    let _ = fs::remove_file(&esp);
    let _ = fs::remove_file(&sec);
    let len = p2_kib.to_string();
    cmd!(sh, "mkfs.fat -n EPHEMEROS -C {esp} 32768")
        .quiet()
        .ignore_stdout()
        .run()?;
    cmd!(sh, "mkfs.fat -n secrets -C {sec} {len}")
        .quiet()
        .ignore_stdout()
        .run()?;
    let script_path = dir.join("autoexec.ipxe");
    cmd!(sh, "mmd -i {esp} ::/EFI ::/EFI/BOOT").run()?;
    cmd!(sh, "mcopy -i {esp} {ipxe_efi} ::/EFI/BOOT/BOOTX64.EFI").run()?;
    cmd!(sh, "mcopy -i {esp} {script_path} ::/autoexec.ipxe").run()?;
    let files = dir.join("secrets");
    fs::create_dir_all(&files)?;
    for (name, vars) in sc.expected_env_files() {
        let mut text = String::new();
        for (k, v) in vars {
            let q: String = v
                .chars()
                .flat_map(|c| match c {
                    '"' | '\\' | '`' | '$' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            text.push_str(&format!("{k}=\"{q}\"\n"));
        }
        fs::write(files.join(name), text)?;
    }
    fs::write(files.join("hostname"), format!("{HOSTNAME}\n"))?;
    fs::write(files.join("authorized_keys"), format!("{SSH_KEY}\n"))?;
    for e in fs::read_dir(&files)? {
        let p = e?.path();
        cmd!(sh, "mcopy -i {sec} {p} ::/").run().context("mcopy")?;
    }
    let seek2 = p2.to_string();
    cmd!(
        sh,
        "dd if={esp} of={img} bs=512 seek=2048 conv=notrunc status=none"
    )
    .run()?;
    cmd!(
        sh,
        "dd if={sec} of={img} bs=512 seek={seek2} conv=notrunc status=none"
    )
    .run()?;
    Ok(img)
}
