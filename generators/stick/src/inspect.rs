//! Reading a stick or image back: partitions, manifest, boot script,
//! enabled components and which secrets are present. Values of secrets are
//! only included when asked for.
//!
//! Reads go through a copy-on-write [`SparseDisk`] overlay, so nothing is
//! ever written to the stick being inspected.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::image::{BOOT_SCRIPT, ESP_NAME, SECRETS_NAME};
use crate::layout::SECTOR;
use crate::slice::Slice;
use crate::sparse::SparseDisk;
use ephemeros_node::envfile;
use ephemeros_node::manifest::{self, Manifest};
use ephemeros_node::secrets::files;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub size: u64,
    pub disk_guid: String,
    pub partitions: Vec<PartitionInfo>,
    pub manifest: Option<Manifest>,
    pub boot_script: Option<String>,
    pub esp_files: Vec<FileInfo>,
    pub secrets: Vec<SecretFile>,
    /// Whether secret values were included.
    pub secrets_shown: bool,
    /// What is missing or wrong, one line each; empty for a good stick.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartitionInfo {
    pub number: u32,
    pub name: String,
    pub type_guid: String,
    pub type_name: String,
    pub first_lba: u64,
    pub last_lba: u64,
    pub size: u64,
    pub filesystem: Option<FsInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FsInfo {
    pub fat_type: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretFile {
    pub name: String,
    pub size: u64,
    /// Variable names, for env files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// Variable values, for env files, only with `show_secrets`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeMap<String, String>>,
    /// Number of keys, for `authorized_keys`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_count: Option<usize>,
    /// The whole file, for other files, only with `show_secrets`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Reads the partition table of a stick or image of `len` bytes.
pub fn read_partitions(file: File, len: u64) -> Result<Vec<PartitionInfo>> {
    let mut disk = SparseDisk::over(file, len);
    Ok(read_gpt(&mut disk)?.1)
}

/// The disk GUID, the used partitions, and what is wrong with the table
/// even though it could be read: the gpt crate silently falls back to the
/// backup header when the primary one is bad, which still leaves a stick
/// that some firmware will not boot.
fn read_gpt(disk: &mut SparseDisk) -> Result<(String, Vec<PartitionInfo>, Vec<String>)> {
    let gpt = gpt::GptConfig::new()
        .writable(false)
        .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
        .open_from_device(&mut *disk)
        .map_err(|e| Error::NotAStick(format!("no readable GPT partition table: {e}")))?;
    let mut problems = Vec::new();
    if let Err(e) = gpt.primary_header() {
        problems.push(format!(
            "the primary GPT header (sector 1) is damaged ({e}); only the backup at the end of the disk was readable"
        ));
    }
    if let Err(e) = gpt.backup_header() {
        problems.push(format!(
            "the backup GPT header (last sector) is damaged or missing ({e}); is the image truncated?"
        ));
    }
    let parts = gpt
        .partitions()
        .iter()
        .filter(|(_, p)| p.is_used())
        .map(|(&number, p)| PartitionInfo {
            number,
            name: p.name.clone(),
            type_guid: p.part_type_guid.guid.to_string().to_uppercase(),
            type_name: type_name(&p.part_type_guid),
            first_lba: p.first_lba,
            last_lba: p.last_lba,
            size: (p.last_lba + 1).saturating_sub(p.first_lba) * SECTOR,
            filesystem: None,
        })
        .collect();
    Ok((gpt.guid().to_string(), parts, problems))
}

fn type_name(t: &gpt::partition_types::Type) -> String {
    if *t == gpt::partition_types::EFI {
        "EFI System".into()
    } else if *t == gpt::partition_types::LINUX_FS {
        "Linux filesystem data".into()
    } else {
        "other".into()
    }
}

type Fs<'a> = fatfs::FileSystem<Slice<'a, SparseDisk>>;

/// Reads everything `ephemeros inspect` shows.
pub fn inspect(file: File, len: u64, show_secrets: bool) -> Result<Report> {
    let mut disk = SparseDisk::over(file, len);
    let (disk_guid, mut partitions, problems) = read_gpt(&mut disk)?;
    let mut report = Report {
        size: len,
        disk_guid,
        partitions: Vec::new(),
        manifest: None,
        boot_script: None,
        esp_files: Vec::new(),
        secrets: Vec::new(),
        secrets_shown: show_secrets,
        problems,
    };
    for part in partitions.iter_mut() {
        let start = part.first_lba * SECTOR;
        // Reads past the end of the file would come back as zeros and
        // look like empty space rather than missing data.
        if start.saturating_add(part.size) > len {
            report.problems.push(format!(
                "partition {} ({}) ends at byte {}, past the end of the {len}-byte disk or image (truncated?)",
                part.number,
                part.name,
                start.saturating_add(part.size)
            ));
            continue;
        }
        let fs = match fatfs::FileSystem::new(
            Slice::new(&mut disk, start, part.size),
            fatfs::FsOptions::new(),
        ) {
            Ok(fs) => fs,
            Err(e) => {
                report.problems.push(format!(
                    "partition {} ({}): no FAT filesystem: {e}",
                    part.number, part.name
                ));
                continue;
            }
        };
        part.filesystem = Some(FsInfo {
            fat_type: format!("{:?}", fs.fat_type()).to_uppercase(),
            label: fs.volume_label().trim_end().to_owned(),
        });
        if part.name == ESP_NAME {
            read_esp(&fs, &mut report);
        } else if part.name == SECRETS_NAME {
            read_secrets(&fs, show_secrets, &mut report);
        }
    }
    for name in [ESP_NAME, SECRETS_NAME] {
        if !partitions.iter().any(|p| p.name == name) {
            report.problems.push(format!("no partition named `{name}`"));
        }
    }
    if partitions
        .iter()
        .any(|p| p.name == SECRETS_NAME && p.filesystem.is_some())
    {
        expect_secret_files(&mut report);
    }
    report.partitions = partitions;
    Ok(report)
}

/// The file's bytes; `None` when it does not exist. Any other failure
/// (a damaged directory or cluster chain) is an error, not an absence.
fn read_file(fs: &Fs, path: &str) -> Option<std::io::Result<Vec<u8>>> {
    let mut file = match fs.root_dir().open_file(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(e)),
    };
    let mut out = Vec::new();
    Some(file.read_to_end(&mut out).map(|_| out))
}

/// Files every stick's secrets volume has, and those its manifest says
/// were configured (a disabled component's file is absent by design).
fn expect_secret_files(report: &mut Report) {
    let mut want = vec![files::REPRODUCE];
    if let Some(m) = &report.manifest {
        for (component, file) in [
            ("k3s", files::K3S_ENV),
            ("logexport", files::LOGEXPORT_ENV),
            ("heartbeat", files::HEARTBEAT_ENV),
            ("hostname", files::HOSTNAME),
            ("ssh", files::AUTHORIZED_KEYS),
        ] {
            if m.components.get(component).is_some_and(|c| c.enabled) {
                want.push(file);
            }
        }
    }
    for file in want {
        if !report.secrets.iter().any(|s| s.name == file) {
            report
                .problems
                .push(format!("the secrets volume has no {file}"));
        }
    }
    // A k3s node without its password makes a new one at every boot, and
    // the server refuses it (see node_password.rs); sticks from before the
    // password was kept lack it.
    let runs_k3s = report
        .manifest
        .as_ref()
        .and_then(|m| m.components.get("k3s"))
        .is_some_and(|c| c.enabled);
    if runs_k3s
        && !report
            .secrets
            .iter()
            .any(|s| s.name == files::K3S_NODE_PASSWORD)
    {
        report.problems.push(format!(
            "the secrets volume has no {}: the node gets a new k3s node password at every boot \
             and the k3s server refuses it after the first; rebuild the stick with the node's \
             password (--k3s-node-password-file)",
            files::K3S_NODE_PASSWORD
        ));
    }
}

fn read_esp(fs: &Fs, report: &mut Report) {
    let mut problems = Vec::new();
    list_files(&fs.root_dir(), "", &mut report.esp_files, &mut problems);
    report
        .problems
        .extend(problems.into_iter().map(|p| format!("ESP: {p}")));
    match read_file(fs, manifest::FILE_NAME) {
        Some(Ok(bytes)) => match Manifest::from_json(&bytes) {
            Ok(m) => report.manifest = Some(m),
            Err(e) => report
                .problems
                .push(format!("{}: {e}", manifest::FILE_NAME)),
        },
        Some(Err(e)) => report
            .problems
            .push(format!("{}: {e}", manifest::FILE_NAME)),
        None => report
            .problems
            .push(format!("the ESP has no {}", manifest::FILE_NAME)),
    }
    match read_file(fs, BOOT_SCRIPT) {
        Some(Ok(bytes)) => report.boot_script = Some(String::from_utf8_lossy(&bytes).into_owned()),
        Some(Err(e)) => report.problems.push(format!("{BOOT_SCRIPT}: {e}")),
        None => report
            .problems
            .push(format!("the ESP has no {BOOT_SCRIPT}")),
    }
    if !report.esp_files.iter().any(|f| {
        f.path.eq_ignore_ascii_case("EFI/BOOT/BOOTX64.EFI")
            || f.path.eq_ignore_ascii_case("EFI/BOOT/BOOTAA64.EFI")
    }) {
        report
            .problems
            .push("the ESP has no EFI/BOOT/BOOT*.EFI boot loader".into());
    }
}

/// Deepest directory nesting listed. Our sticks use three levels; a FAT
/// directory that points back at an ancestor would otherwise recurse until
/// the stack overflows, and fatfs does not expose cluster numbers to detect
/// the loop itself.
const MAX_DEPTH: usize = 16;
/// Most entries listed per filesystem, so that a loop with many entries per
/// level cannot make the listing explode before the depth limit stops it.
const MAX_ENTRIES: usize = 10_000;

/// Lists every file under `dir`; unreadable directories, loops and absurd
/// trees are reported as problems rather than silently skipped.
fn list_files(
    dir: &fatfs::Dir<Slice<SparseDisk>>,
    prefix: &str,
    out: &mut Vec<FileInfo>,
    problems: &mut Vec<String>,
) {
    let mut budget = MAX_ENTRIES;
    list_dir(dir, prefix, 0, &mut budget, out, problems);
}

fn list_dir(
    dir: &fatfs::Dir<Slice<SparseDisk>>,
    prefix: &str,
    depth: usize,
    budget: &mut usize,
    out: &mut Vec<FileInfo>,
    problems: &mut Vec<String>,
) {
    let shown = if prefix.is_empty() { "/" } else { prefix };
    if depth > MAX_DEPTH {
        problems.push(format!(
            "{shown}: directories nested more than {MAX_DEPTH} deep (a directory loop?)"
        ));
        return;
    }
    for entry in dir.iter() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{shown}: unreadable directory: {e}"));
                return;
            }
        };
        let name = entry.file_name();
        if name == "."
            || name == ".."
            || entry
                .attributes()
                .contains(fatfs::FileAttributes::VOLUME_ID)
        {
            continue;
        }
        if *budget == 0 {
            problems.push(format!(
                "{shown}: more than {MAX_ENTRIES} directory entries (a directory loop?)"
            ));
            return;
        }
        *budget -= 1;
        let path = format!("{prefix}{name}");
        if entry.is_dir() {
            list_dir(
                &entry.to_dir(),
                &format!("{path}/"),
                depth + 1,
                budget,
                out,
                problems,
            );
            if *budget == 0 {
                return;
            }
        } else {
            out.push(FileInfo {
                path,
                size: entry.len(),
            });
        }
    }
}

fn read_secrets(fs: &Fs, show: bool, report: &mut Report) {
    let mut listed = Vec::new();
    let mut problems = Vec::new();
    list_files(&fs.root_dir(), "", &mut listed, &mut problems);
    report
        .problems
        .extend(problems.into_iter().map(|p| format!("secrets: {p}")));
    for info in listed {
        let bytes = match read_file(fs, &info.path) {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                report.problems.push(format!("secrets/{}: {e}", info.path));
                continue;
            }
            None => {
                report.problems.push(format!(
                    "secrets/{}: listed but cannot be opened",
                    info.path
                ));
                continue;
            }
        };
        let mut secret = SecretFile {
            name: info.path.clone(),
            size: info.size,
            keys: None,
            values: None,
            key_count: None,
            content: None,
        };
        if info.path.ends_with("_env") {
            match envfile::parse(&bytes, &format!("secrets/{}", info.path)) {
                Ok(entries) => {
                    secret.keys = Some(entries.iter().map(|e| e.key.clone()).collect());
                    if show {
                        secret.values =
                            Some(entries.into_iter().map(|e| (e.key, e.value)).collect());
                    }
                }
                Err(e) => report.problems.push(e.to_string()),
            }
        } else if show {
            secret.content = Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        if info.path == files::AUTHORIZED_KEYS {
            let n = String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .count();
            secret.key_count = Some(n);
        }
        report.secrets.push(secret);
    }
}
