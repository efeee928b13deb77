//! Building a stick: protective MBR + GPT, a FAT32 ESP and a FAT `secrets`
//! volume, all in a [`SparseDisk`] of the target's size.

use std::io::{Seek, SeekFrom, Write};

use gpt::disk::LogicalBlockSize;
use gpt::mbr::ProtectiveMBR;
use gpt::partition_types;

use crate::error::{Error, Result};
use crate::layout::{Extent, Layout, Placement, ALIGN, SECTOR};
use crate::slice::Slice;
use crate::sparse::SparseDisk;
use crate::timestamp::FixedTime;

pub const ESP_NAME: &str = "EFI";
pub const ESP_LABEL: &str = "EPHEMEROS";
pub const SECRETS_NAME: &str = "secrets";
pub const SECRETS_LABEL: &str = "secrets";
pub const BOOT_SCRIPT: &str = "autoexec.ipxe";

/// Old signatures a stick may carry from earlier use sit at the start of
/// the disk (MBR, GPT, ISO 9660 at 32 KiB, UDF), at the start of a
/// filesystem (ext4 at 1 KiB, btrfs at 64 KiB, XFS, LUKS) and at the very
/// end (backup GPT, md RAID). These ranges are written as zeros so no tool
/// ever sees a second identity on the new stick.
const WIPE_DISK_HEAD: u64 = ALIGN;
const WIPE_PARTITION_HEAD: u64 = 128 << 10;
const WIPE_DISK_TAIL: u64 = 128 << 10;

/// The firmware's default boot file name for an architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EfiArch {
    X64,
    Aa64,
}

impl EfiArch {
    pub fn boot_file(self) -> &'static str {
        match self {
            EfiArch::X64 => "BOOTX64.EFI",
            EfiArch::Aa64 => "BOOTAA64.EFI",
        }
    }
}

/// Everything that goes onto a stick.
#[derive(Debug, Clone)]
pub struct StickSpec<'a> {
    pub layout: Layout,
    pub arch: EfiArch,
    pub ipxe_efi: &'a [u8],
    pub boot_script: &'a str,
    pub manifest_json: &'a [u8],
    /// `(name, contents)` for the root of the secrets volume.
    pub secret_files: &'a [(String, Vec<u8>)],
    /// Unix seconds; every file on both volumes carries this time.
    pub build_time: i64,
}

/// Builds the stick for a disk of `disk_size` bytes.
pub fn build(spec: &StickSpec, disk_size: u64) -> Result<SparseDisk> {
    build_over(spec, disk_size, &[])
}

/// Builds the stick for a disk that may hold an earlier stick whose secrets
/// partitions were at `old_secrets`. Those ranges and the whole new secrets
/// partition are written as zeros underneath the new contents: FAT only
/// overwrites the clusters it uses, so otherwise an old node's token would
/// survive in free clusters (or outside the new partitions) of a stick
/// moved to another node.
pub fn build_over(spec: &StickSpec, disk_size: u64, old_secrets: &[Extent]) -> Result<SparseDisk> {
    let place = spec.layout.place(disk_size)?;
    let mut disk = SparseDisk::new(disk_size);
    let wipe = |disk: &mut SparseDisk, offset: u64, len: u64| {
        disk.zero_range(offset, len)
            .map_err(Error::io("wiping old signatures"))
    };
    for old in old_secrets {
        wipe(&mut disk, old.start, old.len)?;
    }
    wipe(&mut disk, place.secrets.start, place.secrets.len)?;
    wipe(&mut disk, 0, WIPE_DISK_HEAD)?;
    wipe(
        &mut disk,
        disk_size - WIPE_DISK_TAIL.min(disk_size),
        WIPE_DISK_TAIL,
    )?;
    wipe(&mut disk, place.esp.start, WIPE_PARTITION_HEAD)?;
    wipe(&mut disk, place.secrets.start, WIPE_PARTITION_HEAD)?;

    // A device is written wipe first, table second, contents last (see
    // target::write_ordered). The wipe leaves out the table's own ranges,
    // which the second step rewrites, and the new secrets partition: the
    // old table (or the FAT label the fallback scan looks for) and the new
    // one both name it, so it is found whenever the build stops, and it is
    // zeroed with the contents.
    let tail_start = disk_size - WIPE_DISK_TAIL.min(disk_size);
    let mut zero_first = Vec::new();
    for e in old_secrets {
        let (start, end) = (e.start.max(WIPE_DISK_HEAD), e.end().min(tail_start));
        for (s, e) in [
            (start, end.min(place.secrets.start)),
            (start.max(place.secrets.end()), end),
        ] {
            if s < e {
                zero_first.push(crate::sparse::Extent {
                    offset: s,
                    len: e - s,
                });
            }
        }
    }
    disk.set_write_order(crate::sparse::WriteOrder {
        zero_first,
        table: vec![
            crate::sparse::Extent {
                offset: 0,
                len: WIPE_DISK_HEAD,
            },
            crate::sparse::Extent {
                offset: tail_start,
                len: disk_size - tail_start,
            },
        ],
    });

    let part_guids = write_partition_table(&mut disk, &place)?;

    let time = FixedTime::leak(spec.build_time);
    // FAT volume serial numbers (what /dev/disk/by-uuid shows) must
    // differ between sticks; take them from the random partition GUIDs,
    // as mkfs.fat takes a random one.
    let serial = |guid: &[u8; 16]| u32::from_le_bytes([guid[0], guid[1], guid[2], guid[3]]);
    let esp_files: Vec<(String, &[u8])> = vec![
        (format!("EFI/BOOT/{}", spec.arch.boot_file()), spec.ipxe_efi),
        (BOOT_SCRIPT.to_owned(), spec.boot_script.as_bytes()),
        (
            ephemeros_node::manifest::FILE_NAME.to_owned(),
            spec.manifest_json,
        ),
    ];
    make_volume(
        &mut disk,
        place.esp,
        Volume {
            what: "ESP",
            label: ESP_LABEL,
            fat32: true,
            serial: serial(&part_guids[0]),
        },
        &esp_files,
        time,
    )?;
    let secret_files: Vec<(String, &[u8])> = spec
        .secret_files
        .iter()
        .map(|(n, b)| (n.clone(), b.as_slice()))
        .collect();
    make_volume(
        &mut disk,
        place.secrets,
        Volume {
            what: "secrets volume",
            label: SECRETS_LABEL,
            fat32: false,
            serial: serial(&part_guids[1]),
        },
        &secret_files,
        time,
    )?;
    Ok(disk)
}

/// Writes the protective MBR and both GPTs; returns the partitions' GUIDs.
fn write_partition_table(disk: &mut SparseDisk, place: &Placement) -> Result<[[u8; 16]; 2]> {
    let gpt_err = |e: gpt::GptError| Error::Gpt(e.to_string());
    let total_lbas = place.disk_size / SECTOR;
    // The protective MBR covers the whole disk after LBA 0, capped at what
    // 32 bits can say (UEFI spec: 0xFFFFFFFF for larger disks).
    let mbr_size = u32::try_from(total_lbas - 1).unwrap_or(u32::MAX);
    ProtectiveMBR::with_lb_size(mbr_size)
        .overwrite_lba0(disk)
        .map_err(|e| Error::Gpt(format!("protective MBR: {e}")))?;
    disk.seek(SeekFrom::Start(0))
        .map_err(Error::io("seeking the in-memory disk"))?;
    let mut gpt = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(LogicalBlockSize::Lb512)
        .create_from_device(&mut *disk, None)
        .map_err(gpt_err)?;
    for (id, name, extent, kind) in [
        (1, ESP_NAME, place.esp, partition_types::EFI),
        (2, SECRETS_NAME, place.secrets, partition_types::LINUX_FS),
    ] {
        gpt.add_partition_at(name, id, extent.first_lba(), extent.sectors(), kind, 0)
            .map_err(gpt_err)?;
    }
    let guids = [1u32, 2].map(|id| {
        gpt.partitions()
            .get(&id)
            .map(|p| *p.part_guid.as_bytes())
            .unwrap_or_default()
    });
    gpt.write().map_err(gpt_err)?;
    Ok(guids)
}

struct Volume<'a> {
    what: &'a str,
    label: &'a str,
    fat32: bool,
    serial: u32,
}

fn make_volume(
    disk: &mut SparseDisk,
    extent: crate::layout::Extent,
    vol: Volume,
    files: &[(String, &[u8])],
    time: &'static FixedTime,
) -> Result<()> {
    let what = vol.what;
    let io = |step: &str| Error::io(format!("{what}: {step}"));
    let mut label = [b' '; 11];
    label[..vol.label.len()].copy_from_slice(vol.label.as_bytes());
    let mut options = fatfs::FormatVolumeOptions::new()
        .volume_label(label)
        .volume_id(vol.serial);
    if vol.fat32 {
        options = options.fat_type(fatfs::FatType::Fat32);
    }
    fatfs::format_volume(Slice::new(disk, extent.start, extent.len), options)
        .map_err(io("formatting"))?;
    set_hidden_sectors(disk, extent, vol.fat32).map_err(io("writing the boot sector"))?;

    // Directories first, then the repair of their `.` entries (see
    // `fatfix`), then the files.
    // Every ancestor directory, parents before children.
    let mut dirs: Vec<&str> = Vec::new();
    for (path, _) in files {
        for (i, _) in path.match_indices('/') {
            if !dirs.contains(&&path[..i]) {
                dirs.push(&path[..i]);
            }
        }
    }
    if !dirs.is_empty() {
        let fs = mount(disk, extent, time).map_err(io("opening the new filesystem"))?;
        for d in &dirs {
            fs.root_dir()
                .create_dir(d)
                .map_err(io(&format!("creating directory {d}")))?;
        }
        fs.unmount().map_err(io("finishing the filesystem"))?;
        for d in &dirs {
            crate::fatfix::fix_dot_entries(&mut Slice::new(disk, extent.start, extent.len), d)
                .map_err(io(&format!("repairing directory {d}")))?;
        }
    }

    let fs = mount(disk, extent, time).map_err(io("opening the new filesystem"))?;
    {
        let root = fs.root_dir();
        for (path, contents) in files {
            let mut file = root
                .create_file(path)
                .map_err(io(&format!("creating {path}")))?;
            file.truncate().map_err(io(&format!("writing {path}")))?;
            file.write_all(contents)
                .map_err(io(&format!("writing {path}")))?;
            file.flush().map_err(io(&format!("writing {path}")))?;
        }
    }
    // Counting free clusters lets unmount record the count in FAT32's
    // FSInfo sector; `fsck.fat` flags an unset count.
    fs.stats().map_err(io("counting free clusters"))?;
    fs.unmount().map_err(io("finishing the filesystem"))?;
    Ok(())
}

fn mount<'d>(
    disk: &'d mut SparseDisk,
    extent: crate::layout::Extent,
    time: &'static FixedTime,
) -> std::io::Result<fatfs::FileSystem<Slice<'d, SparseDisk>>> {
    fatfs::FileSystem::new(
        Slice::new(disk, extent.start, extent.len),
        fatfs::FsOptions::new().time_provider(time),
    )
}

/// Records the partition's start in the boot sector's "hidden sectors"
/// field, as mkfs.fat does for a partition (some firmware and Windows use
/// it); `fatfs` leaves it at 0. FAT32 keeps a backup boot sector at 6.
fn set_hidden_sectors(
    disk: &mut SparseDisk,
    extent: crate::layout::Extent,
    fat32: bool,
) -> std::io::Result<()> {
    let hidden = u32::try_from(extent.first_lba()).unwrap_or(0).to_le_bytes();
    let copies: &[u64] = if fat32 { &[0, 6] } else { &[0] };
    for sector in copies {
        disk.seek(SeekFrom::Start(extent.start + sector * SECTOR + 0x1C))?;
        disk.write_all(&hidden)?;
    }
    Ok(())
}
