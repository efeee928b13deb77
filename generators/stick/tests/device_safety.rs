//! The device-safety decisions, run on fake sysfs/proc/dev trees.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use ephemeros_stick::device::{assess, SystemRoots};

struct Fake {
    _dir: tempfile::TempDir,
    roots: SystemRoots,
}

struct Disk<'a> {
    name: &'a str,
    major: u32,
    minor: u32,
    /// Path under /sys/devices up to (not including) `block/NAME`.
    parent: &'a str,
    removable: bool,
    ro: bool,
    sectors: u64,
    /// (partition number, GPT name)
    partitions: &'a [(u32, Option<&'a str>)],
}

impl Fake {
    fn new() -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let roots = SystemRoots {
            sys: dir.path().join("sys"),
            proc: dir.path().join("proc"),
            dev: dir.path().join("dev"),
        };
        for d in [
            "sys/class/block",
            "sys/dev/block",
            "proc/self",
            "dev/disk/by-label",
        ] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        fs::write(roots.proc.join("self/mounts"), "proc /proc proc rw 0 0\n").unwrap();
        fs::write(
            roots.proc.join("swaps"),
            "Filename Type Size Used Priority\n",
        )
        .unwrap();
        Fake { _dir: dir, roots }
    }

    fn add(&self, d: Disk) -> &Fake {
        let base: PathBuf = self
            .roots
            .sys
            .join("devices")
            .join(d.parent)
            .join("block")
            .join(d.name);
        fs::create_dir_all(base.join("device")).unwrap();
        fs::write(base.join("size"), format!("{}\n", d.sectors)).unwrap();
        fs::write(
            base.join("removable"),
            if d.removable { "1\n" } else { "0\n" },
        )
        .unwrap();
        fs::write(base.join("ro"), if d.ro { "1\n" } else { "0\n" }).unwrap();
        fs::write(base.join("device/vendor"), "SanDisk \n").unwrap();
        fs::write(base.join("device/model"), "Cruzer Blade    \n").unwrap();
        fs::create_dir_all(base.join("holders")).unwrap();
        self.link(d.name, d.major, d.minor, &base);
        for &(n, label) in d.partitions {
            let pname = if d.name.ends_with(|c: char| c.is_ascii_digit()) {
                format!("{}p{n}", d.name)
            } else {
                format!("{}{n}", d.name)
            };
            let p = base.join(&pname);
            fs::create_dir_all(p.join("holders")).unwrap();
            fs::write(p.join("partition"), format!("{n}\n")).unwrap();
            fs::write(p.join("size"), "131072\n").unwrap();
            let mut uevent = format!("DEVNAME={pname}\nDEVTYPE=partition\nPARTN={n}\n");
            if let Some(l) = label {
                uevent.push_str(&format!("PARTNAME={l}\n"));
            }
            fs::write(p.join("uevent"), uevent).unwrap();
            self.link(&pname, d.major, d.minor + n, &p);
        }
        self
    }

    fn link(&self, name: &str, major: u32, minor: u32, target: &Path) {
        symlink(target, self.roots.sys.join("class/block").join(name)).unwrap();
        symlink(
            target,
            self.roots.sys.join(format!("dev/block/{major}:{minor}")),
        )
        .unwrap();
    }

    fn mounts(&self, lines: &str) {
        fs::write(self.roots.proc.join("self/mounts"), lines).unwrap();
    }
}

const USB: &str = "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0";
const SATA: &str = "pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0";
const MMC: &str = "platform/fe320000.mmc/mmc_host/mmc1/mmc1:aaaa";

fn usb_stick<'a>(partitions: &'a [(u32, Option<&'a str>)]) -> Disk<'a> {
    Disk {
        name: "sdx",
        major: 8,
        minor: 16,
        parent: USB,
        removable: true,
        ro: false,
        sectors: 31_260_672,
        partitions,
    }
}

fn internal_disk() -> Disk<'static> {
    Disk {
        name: "sda",
        major: 8,
        minor: 0,
        parent: SATA,
        removable: false,
        ro: false,
        sectors: 1_000_215_216,
        partitions: &[(1, Some("root")), (2, None)],
    }
}

#[test]
fn an_unmounted_usb_stick_may_be_written_and_is_described() {
    let fake = Fake::new();
    fake.add(usb_stick(&[(1, Some("EFI")), (2, Some("secrets"))]))
        .add(internal_disk());
    fake.mounts("/dev/sda1 / ext4 rw 0 0\n");
    let a = assess(&fake.roots, 8, 16, Some((8, 1))).unwrap();
    a.check(false).unwrap();
    assert_eq!(
        a.device.summary(),
        "sdx: SanDisk Cruzer Blade, 14.9 GiB, USB, removable"
    );
    assert_eq!(
        a.device.partition_lines(),
        ["sdx1 `EFI` 64 MiB", "sdx2 `secrets` 64 MiB"]
    );
}

#[test]
fn a_mounted_partition_refuses_the_device_even_with_force() {
    let fake = Fake::new();
    fake.add(usb_stick(&[(1, None), (2, None)]));
    // Mounted through a by-label symlink, with a space in the mount point.
    symlink("../../sdx2", fake.roots.dev.join("disk/by-label/DATA")).unwrap();
    fs::write(fake.roots.dev.join("sdx2"), "").unwrap();
    fake.mounts(
        "proc /proc proc rw 0 0\n/dev/disk/by-label/DATA /media/my\\040stick vfat rw 0 0\n",
    );
    let a = assess(&fake.roots, 8, 16, None).unwrap();
    let e = a.check(true).unwrap_err().to_string();
    assert!(e.contains("sdx2 is mounted on /media/my stick"), "{e}");
}

#[test]
fn an_internal_disk_needs_force() {
    let fake = Fake::new();
    fake.add(internal_disk());
    let a = assess(&fake.roots, 8, 0, None).unwrap();
    let e = a.check(false).unwrap_err().to_string();
    assert!(e.contains("internal disk") && e.contains("--force"), "{e}");
    a.check(true).unwrap();
}

#[test]
fn the_disk_holding_the_running_system_is_refused() {
    let fake = Fake::new();
    fake.add(internal_disk());
    let a = assess(&fake.roots, 8, 0, Some((8, 1))).unwrap();
    let e = a.check(true).unwrap_err().to_string();
    assert!(e.contains("holds the running system"), "{e}");
}

#[test]
fn a_partition_is_refused_naming_the_whole_device() {
    let fake = Fake::new();
    fake.add(usb_stick(&[(1, None)]));
    let a = assess(&fake.roots, 8, 17, None).unwrap();
    let e = a.check(true).unwrap_err().to_string();
    assert!(
        e.contains("is a partition") && e.contains("/dev/sdx"),
        "{e}"
    );
}

#[test]
fn stacked_swap_and_read_only_devices_are_refused() {
    let fake = Fake::new();
    fake.add(usb_stick(&[(1, None), (2, None)]));
    let holders = fs::canonicalize(fake.roots.sys.join("class/block/sdx1/holders")).unwrap();
    fs::create_dir(holders.join("dm-0")).unwrap();
    let a = assess(&fake.roots, 8, 16, None).unwrap();
    let e = a.check(true).unwrap_err().to_string();
    assert!(e.contains("dm-0 (on sdx1)"), "{e}");

    let fake = Fake::new();
    fake.add(usb_stick(&[(1, None), (2, None)]));
    fs::write(
        fake.roots.proc.join("swaps"),
        "Filename Type Size Used Priority\n/dev/sdx2 partition 1 0 -2\n",
    )
    .unwrap();
    let e = assess(&fake.roots, 8, 16, None)
        .unwrap()
        .check(true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sdx2 is in use as swap"), "{e}");

    let fake = Fake::new();
    fake.add(Disk {
        ro: true,
        ..usb_stick(&[])
    });
    let e = assess(&fake.roots, 8, 16, None)
        .unwrap()
        .check(true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("read-only"), "{e}");

    let fake = Fake::new();
    fake.add(usb_stick(&[]));
    let queue = fs::canonicalize(fake.roots.sys.join("class/block/sdx"))
        .unwrap()
        .join("queue");
    fs::create_dir(&queue).unwrap();
    fs::write(queue.join("logical_block_size"), "4096\n").unwrap();
    let e = assess(&fake.roots, 8, 16, None)
        .unwrap()
        .check(true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("4096-byte logical sectors"), "{e}");

    let fake = Fake::new();
    fake.add(Disk {
        sectors: 0,
        ..usb_stick(&[])
    });
    let e = assess(&fake.roots, 8, 16, None)
        .unwrap()
        .check(true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no medium"), "{e}");
}

#[test]
fn an_sd_card_needs_no_force_and_an_unknown_device_is_an_error() {
    let fake = Fake::new();
    fake.add(Disk {
        name: "mmcblk1",
        major: 179,
        minor: 0,
        parent: MMC,
        removable: false,
        ro: false,
        sectors: 62_333_952,
        partitions: &[(1, Some("EFI"))],
    });
    let a = assess(&fake.roots, 179, 0, None).unwrap();
    a.check(false).unwrap();
    assert_eq!(a.device.partitions[0].name, "mmcblk1p1");
    assert!(assess(&fake.roots, 8, 99, None).is_err());
}

/// The serial number shown before the prompt and compared after it: from
/// the USB device the disk hangs off, or from the SCSI VPD page 0x80.
#[test]
fn the_serial_number_comes_from_usb_or_the_vpd_page() {
    let fake = Fake::new();
    fake.add(usb_stick(&[]));
    let usb_dir = fake
        .roots
        .sys
        .join("devices/pci0000:00/0000:00:14.0/usb2/2-1");
    fs::write(usb_dir.join("serial"), "4C530001230309112\n").unwrap();
    let a = assess(&fake.roots, 8, 16, None).unwrap();
    assert_eq!(a.device.serial.as_deref(), Some("4C530001230309112"));
    assert!(
        a.device.summary().contains("serial 4C530001230309112"),
        "{}",
        a.device.summary()
    );
    // The VPD page of the SCSI device wins: it is the disk's own.
    let disk_dir = fake.roots.sys.join(format!("devices/{USB}/block/sdx"));
    fs::write(
        disk_dir.join("device/vpd_pg80"),
        b"\x00\x80\x00\x0bAA11BB22CC3",
    )
    .unwrap();
    let a = assess(&fake.roots, 8, 16, None).unwrap();
    assert_eq!(a.device.serial.as_deref(), Some("AA11BB22CC3"));
}

#[test]
fn a_device_that_changed_after_the_prompt_is_refused_saying_what_changed() {
    use ephemeros_stick::device::Identity;
    let shown = Identity {
        major: 8,
        minor: 16,
        size: 16 << 30,
        serial: Some("AAA".into()),
    };
    shown.check_same(&shown.clone(), "/dev/sdx").unwrap();
    for (now, what) in [
        (
            Identity {
                serial: Some("BBB".into()),
                ..shown.clone()
            },
            "serial number is now BBB, was AAA",
        ),
        (
            Identity {
                size: 64 << 30,
                ..shown.clone()
            },
            "size is now 64 GiB, was 16 GiB",
        ),
        (
            Identity {
                minor: 32,
                ..shown.clone()
            },
            "/dev/sdx is now device 8:32, was 8:16",
        ),
    ] {
        let e = shown.check_same(&now, "/dev/sdx").unwrap_err().to_string();
        assert!(e.contains(what) && e.contains("nothing was written"), "{e}");
    }
}
