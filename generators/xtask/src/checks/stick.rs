//! Real-tool checks of sticks built by the real `ephemeros build-stick`
//! with the real iPXE (Debian trixie's, via `cargo xtask ipxe`), for both
//! architectures: sgdisk, fsck.fat on both filesystems, mtools for the
//! contents, shellcheck for reproduce.sh. The cargo tests check the same
//! properties with a stand-in iPXE; this proves them for the real binary
//! and fails (rather than skips) when a tool is missing.

use std::io::{Read, Seek, SeekFrom};

use anyhow::{bail, ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::workspace_root;

const TOOLS: [(&str, &str); 5] = [
    ("sgdisk", "gdisk"),
    ("fsck.fat", "dosfstools"),
    ("mdir", "mtools"),
    ("mtype", "mtools"),
    ("shellcheck", "shellcheck"),
];
const MIB: u64 = 1 << 20;
const IGN: &str = "https://raw.githubusercontent.com/example/cluster/main/ignition.ign";

pub fn run(sh: &Shell) -> Result<()> {
    crate::tools::require("the stick check", &TOOLS)?;
    let amd64 = crate::fetch::ensure_ipxe(sh, false)?;
    let arm64 = amd64.with_file_name("ipxe-arm64.efi");
    let bin = crate::ephemeros_bin(sh, crate::Profile::Debug)?;
    let dir = workspace_root().join("target/xtask/check-stick");
    std::fs::create_dir_all(&dir)?;
    let key = dir.join("key.pub");
    std::fs::write(
        &key,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkVb9xQ8eph3m3r0s me@laptop\n",
    )?;

    for (arch, ipxe, boot_file) in [
        ("amd64", &amd64, "BOOTX64.EFI"),
        ("arm64", &arm64, "BOOTAA64.EFI"),
    ] {
        if !ipxe.exists() {
            bail!("{ipxe} is missing from the fetched ipxe package");
        }
        let img = dir.join(format!("{arch}.img"));
        let _env = [
            sh.push_env("NODE_HOSTNAME", "node1"),
            sh.push_env("K3S_DATASTORE_ENDPOINT", ""),
            sh.push_env("K3S_TOKEN", "K10check$`\"\\'"),
            sh.push_env("LOGEXPORT_HOST", "logs.example.com"),
            sh.push_env("LOGEXPORT_PORT", "6514"),
            sh.push_env("HEARTBEAT_URL", "https://hc.example.org/ping"),
        ];
        let common = [
            "--arch",
            arch,
            "--ignition-url",
            IGN,
            "--ssh-key",
            key.as_str(),
        ];
        cmd!(sh, "{bin} build-stick {common...} --ipxe-efi {ipxe} {img}")
            .quiet()
            .run()?;
        let [(_, esp_at, _), (_, secrets_at, _)] = check_image(sh, &img, &dir, arch)?;
        let esp = format!("{img}@@{esp_at}");
        let secrets = format!("{img}@@{secrets_at}");
        let listing = cmd!(sh, "mdir -i {esp} -/ -b ::").read()?;
        for want in [
            format!("::/EFI/BOOT/{boot_file}"),
            "::/autoexec.ipxe".into(),
            "::/ephemeros.json".into(),
        ] {
            ensure!(
                listing.lines().any(|l| l == want),
                "{arch}: {want} is missing from the ESP:\n{listing}"
            );
        }
        let on_stick = cmd!(sh, "mcopy -i {esp} ::/EFI/BOOT/{boot_file} -").output()?;
        ensure!(
            on_stick.stdout == std::fs::read(ipxe)?,
            "{arch}: {boot_file} differs from {ipxe}"
        );
        // The script on the stick is what `ephemeros ipxe` renders for the
        // same settings.
        let script = cmd!(sh, "mtype -i {esp} ::/autoexec.ipxe").read()?;
        let expected = cmd!(sh, "{bin} ipxe {common...} --hostname node1").read()?;
        ensure!(
            script.trim_end() == expected.trim_end(),
            "{arch}: autoexec.ipxe differs from `ephemeros ipxe`"
        );
        let reproduce = dir.join(format!("{arch}-reproduce.sh"));
        let text = cmd!(sh, "mtype -i {secrets} ::/reproduce.sh").read()?;
        std::fs::write(&reproduce, text + "\n")?;
        cmd!(sh, "shellcheck {reproduce}").run()?;
        cmd!(sh, "{bin} inspect {img}")
            .quiet()
            .ignore_stdout()
            .run()?;
        eprintln!("stick ({arch}): sgdisk, fsck.fat x2, mtools, shellcheck, inspect: ok");
    }
    readme_write_figure(sh, &amd64, &dir)?;
    device_write(sh, &bin, &amd64, &key, &dir)
}

/// The README says how much a default stick writes to a device ("about N
/// MiB for a default stick"); measured here, with the real iPXE, by the
/// library's own write plan (the stick bench's figure, one run).
fn readme_write_figure(sh: &Shell, ipxe: &Utf8Path, dir: &Utf8Path) -> Result<()> {
    let readme_path = workspace_root().join("README.md");
    let readme =
        std::fs::read_to_string(&readme_path).with_context(|| format!("reading {readme_path}"))?;
    let said = readme_mib(&readme).with_context(|| {
        format!("{readme_path} no longer says \"about N MiB for a default stick\"")
    })?;
    let out = cmd!(
        sh,
        "cargo run -q -p ephemeros-stick --example stick_bench -- 1 {ipxe} {dir}"
    )
    .read()
    .context("running the stick_bench example")?;
    let bytes: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("device_8g_bytes_written ")?.parse().ok())
        .with_context(|| format!("stick_bench printed no device figure:\n{out}"))?;
    let measured = bytes / MIB as f64;
    ensure!(
        (measured - said).abs() < 0.05,
        "README.md says a default stick writes about {said} MiB to a device; it writes {measured:.2} MiB: update the README"
    );
    eprintln!("stick: a default stick writes {measured:.2} MiB to a device, as the README says");
    Ok(())
}

/// N in the README's "about N MiB for a default stick".
fn readme_mib(readme: &str) -> Option<f64> {
    let flat = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let at = flat.find(" MiB for a default stick")?;
    let before = &flat[..at];
    before.rsplit(' ').next()?.parse().ok()
}

/// Writes a stick to a real block device (a loop device over a file that
/// looks like a used stick: an ISO 9660 signature at 32 KiB), which runs
/// the device path: sysfs assessment, exclusive open, write plan, fsync,
/// read-back verification. Needs root and loop devices; skipped loudly
/// without them.
fn device_write(
    sh: &Shell,
    bin: &Utf8Path,
    ipxe: &Utf8Path,
    key: &Utf8Path,
    dir: &Utf8Path,
) -> Result<()> {
    let uid = cmd!(sh, "id -u").read().unwrap_or_default();
    if uid.trim() != "0"
        || !Utf8Path::new("/dev/loop-control").exists()
        || which("losetup").is_none()
    {
        eprintln!(
            "*** stick: device write check SKIPPED (needs root, losetup and /dev/loop-control) ***"
        );
        return Ok(());
    }
    let backing = dir.join("used-stick.img");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&backing)?;
        f.set_len(256 * MIB)?;
        f.seek(SeekFrom::Start(32 * 1024))?;
        f.write_all(b"\x01CD001\x01")?;
    }
    let loopdev = cmd!(sh, "losetup -f --show {backing}").read()?;
    let result = (|| {
        let out = cmd!(sh, "{bin} build-stick --ipxe-efi {ipxe} --ssh-key {key} --ignition-url {IGN} --force --yes {loopdev}")
            .env("K3S_TOKEN", "K10device")
            .output()?;
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ensure!(out.status.success(), "build-stick onto {loopdev}:\n{all}");
        ensure!(all.contains("Wrote and verified"), "{all}");
        ensure!(
            !all.contains("K10device"),
            "build-stick printed a secret:\n{all}"
        );
        cmd!(sh, "{bin} inspect {loopdev}")
            .quiet()
            .ignore_stdout()
            .run()?;
        Ok(())
    })();
    cmd!(sh, "losetup -d {loopdev}").run()?;
    result?;
    check_image(sh, &backing, dir, "device")?;
    let probe = cmd!(sh, "blkid -p -o export {backing}")
        .ignore_status()
        .read()?;
    ensure!(
        probe.contains("PTTYPE=gpt") && !probe.contains("iso9660"),
        "blkid still sees the old signature:\n{probe}"
    );
    eprintln!("stick: written to {loopdev} and verified; sgdisk, fsck.fat x2, blkid: ok");
    Ok(())
}

/// sgdisk -v and fsck.fat on both partitions; returns (name, offset,
/// length) of each, from the table.
fn check_image(
    sh: &Shell,
    img: &Utf8Path,
    dir: &Utf8Path,
    arch: &str,
) -> Result<[(String, u64, u64); 2]> {
    let v = cmd!(sh, "sgdisk -v {img}").read()?;
    ensure!(v.contains("No problems found"), "{arch}: sgdisk -v:\n{v}");
    // Where the partitions are comes from the table itself (`sgdisk -p`),
    // not from literals that would have to follow every layout change.
    let table = cmd!(sh, "sgdisk -p {img}").read()?;
    let parts = partitions(&table);
    ensure!(
        parts.iter().map(|p| p.0.as_str()).eq(["EFI", "secrets"]),
        "{arch}: expected partitions EFI and secrets, sgdisk -p shows:\n{table}"
    );
    for (name, start, len) in &parts {
        let (start, len) = (*start, *len);
        let part = dir.join(format!("{arch}-{}.fat", name.to_lowercase()));
        extract(img, start, len, &part)?;
        let out = cmd!(sh, "fsck.fat -n {part}").ignore_status().output()?;
        ensure!(
            out.status.success(),
            "{arch}: fsck.fat -n on the {name} partition:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parts
        .try_into()
        .map_err(|_| anyhow::anyhow!("{arch}: not two partitions"))
}

/// (name, byte offset, byte length) of each partition `sgdisk -p` lists.
fn partitions(table: &str) -> Vec<(String, u64, u64)> {
    let sector = table
        .lines()
        .find_map(|l| l.strip_prefix("Sector size (logical/physical): "))
        .and_then(|rest| rest.split('/').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(512);
    table
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Number"))
        .skip(1)
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let (first, last) = (
                w.get(1)?.parse::<u64>().ok()?,
                w.get(2)?.parse::<u64>().ok()?,
            );
            let name = w.get(6..).filter(|n| !n.is_empty())?.join(" ");
            Some((name, first * sector, (last + 1 - first) * sector))
        })
        .collect()
}

fn extract(img: &Utf8Path, start: u64, len: u64, out: &Utf8PathBuf) -> Result<()> {
    let mut f = std::fs::File::open(img).with_context(|| format!("opening {img}"))?;
    f.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf)
        .with_context(|| format!("reading {img}"))?;
    std::fs::write(out, buf).with_context(|| format!("writing {out}"))
}

use crate::tools::which;

#[cfg(test)]
mod tests {
    #[test]
    fn sgdisk_tables() {
        let table =
            "Disk x.img: 88064 sectors, 43.0 MiB\nSector size (logical/physical): 512/512 bytes\n\
            Number  Start (sector)    End (sector)  Size       Code  Name\n\
               1            2048           83967   40.0 MiB    EF00  EFI\n\
               2           83968           86015   1024.0 KiB  8300  secrets\n";
        assert_eq!(
            super::partitions(table),
            [
                ("EFI".to_owned(), 1 << 20, 40 << 20),
                ("secrets".to_owned(), 41 << 20, 1 << 20)
            ]
        );
    }

    #[test]
    fn the_readme_write_figure_is_read_across_line_breaks() {
        assert_eq!(
            super::readme_mib("rebuild (about 3.7\nMiB for a default stick)."),
            Some(3.7)
        );
        assert_eq!(super::readme_mib("about 4 MiB for the stick"), None);
    }

    /// The same check on its own: `cargo test -p xtask -- --ignored real_sticks`.
    #[test]
    #[ignore = "fetches the real iPXE and builds sticks; `cargo xtask ci` runs it"]
    fn real_sticks() {
        let sh = xshell::Shell::new().unwrap();
        sh.change_dir(crate::workspace_root());
        super::run(&sh).unwrap();
    }
}
