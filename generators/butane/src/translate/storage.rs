//! Translation of the `storage` section (1:1 apart from resources).

use super::{owner, Translator};
use crate::ignition as ign;
use crate::path::Path;
use crate::schema as bu;

fn node(
    group: &bu::NodeOwner,
    overwrite: Option<bool>,
    path: &str,
    user: &bu::NodeOwner,
) -> ign::Node {
    ign::Node {
        group: owner(group),
        overwrite,
        path: path.to_string(),
        user: owner(user),
    }
}

impl Translator<'_> {
    pub(super) fn storage(&mut self, s: &bu::Storage, at: &Path) -> ign::Storage {
        let v11 = self.version >= bu::Version::V1_1;
        ign::Storage {
            directories: s
                .directories
                .iter()
                .map(|d| ign::Directory {
                    node: node(&d.group, d.overwrite, &d.path, &d.user),
                    mode: d.mode,
                })
                .collect(),
            disks: s
                .disks
                .iter()
                .map(|d| ign::Disk {
                    device: d.device.clone(),
                    partitions: d
                        .partitions
                        .iter()
                        .map(|p| ign::Partition {
                            guid: p.guid.clone(),
                            label: p.label.clone(),
                            number: p.number,
                            resize: p.resize,
                            should_exist: p.should_exist,
                            size_mib: p.size_mib,
                            start_mib: p.start_mib,
                            type_guid: p.type_guid.clone(),
                            wipe_partition_entry: p.wipe_partition_entry,
                        })
                        .collect(),
                    wipe_table: d.wipe_table,
                })
                .collect(),
            files: s
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let p = at.key("files").index(i);
                    ign::File {
                        node: node(&f.group, f.overwrite, &f.path, &f.user),
                        append: f
                            .append
                            .iter()
                            .enumerate()
                            .map(|(j, r)| self.resource(r, &p.key("append").index(j)))
                            .collect(),
                        contents: self.resource(&f.contents, &p.key("contents")),
                        mode: f.mode,
                    }
                })
                .collect(),
            filesystems: s
                .filesystems
                .iter()
                .map(|f| ign::Filesystem {
                    device: f.device.clone(),
                    format: f.format.clone(),
                    label: f.label.clone(),
                    mount_options: f.mount_options.clone(),
                    options: f.options.clone(),
                    path: f.path.clone(),
                    uuid: f.uuid.clone(),
                    wipe_filesystem: f.wipe_filesystem,
                })
                .collect(),
            links: s
                .links
                .iter()
                .map(|l| ign::Link {
                    node: node(&l.group, l.overwrite, &l.path, &l.user),
                    hard: l.hard,
                    target: l.target.clone(),
                })
                .collect(),
            luks: s
                .luks
                .iter()
                .enumerate()
                .map(|(i, l)| ign::Luks {
                    clevis: ign::Clevis {
                        custom: ign::ClevisCustom {
                            config: l.clevis.custom.config.clone(),
                            needs_network: l.clevis.custom.needs_network,
                            pin: l.clevis.custom.pin.clone(),
                        },
                        tang: l
                            .clevis
                            .tang
                            .iter()
                            .map(|t| ign::Tang {
                                advertisement: if v11 { t.advertisement.clone() } else { None },
                                thumbprint: t.thumbprint.clone(),
                                url: t.url.clone(),
                            })
                            .collect(),
                        threshold: l.clevis.threshold,
                        tpm2: l.clevis.tpm2,
                    },
                    device: l.device.clone(),
                    discard: l.discard,
                    key_file: self.resource(&l.key_file, &at.key("luks").index(i).key("key_file")),
                    label: l.label.clone(),
                    name: l.name.clone(),
                    open_options: l.open_options.clone(),
                    options: l.options.clone(),
                    uuid: l.uuid.clone(),
                    wipe_volume: l.wipe_volume,
                })
                .collect(),
            raid: s
                .raid
                .iter()
                .map(|r| ign::Raid {
                    devices: r.devices.clone(),
                    level: r.level.clone(),
                    name: r.name.clone(),
                    options: r.options.clone(),
                    spares: r.spares,
                })
                .collect(),
        }
    }
}
