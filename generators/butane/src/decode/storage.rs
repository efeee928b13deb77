//! Decoding of the `storage` section.

use super::Decoder;
use crate::schema::*;
use crate::yaml::Node;

impl Decoder<'_, '_> {
    pub(super) fn storage(&mut self, n: &Node) -> Storage {
        let mut s = Storage::default();
        self.fields(n, "Storage", |d, k, v| {
            match k {
                "directories" => s.directories = d.list(v, "[]Directory", Self::directory),
                "disks" => s.disks = d.list(v, "[]Disk", Self::disk),
                "files" => s.files = d.list(v, "[]File", Self::file),
                "filesystems" => s.filesystems = d.list(v, "[]Filesystem", Self::filesystem),
                "links" => s.links = d.list(v, "[]Link", Self::link),
                "luks" => s.luks = d.list(v, "[]Luks", Self::luks),
                "raid" => s.raid = d.list(v, "[]Raid", Self::raid),
                "trees" => {
                    s.trees = d.list(v, "[]Tree", |d, n| {
                        let mut t = Tree::default();
                        d.fields(n, "Tree", |d, k, v| {
                            match k {
                                "local" => t.local = d.string(v),
                                "path" => t.path = d.opt_string(v),
                                _ => return false,
                            }
                            true
                        });
                        t
                    })
                }
                _ => return false,
            }
            true
        });
        s
    }

    fn directory(&mut self, n: &Node) -> Directory {
        let mut x = Directory::default();
        self.fields(n, "Directory", |d, k, v| {
            match k {
                "group" => x.group = d.owner(v, "NodeGroup"),
                "overwrite" => x.overwrite = d.opt_bool(v),
                "path" => x.path = d.string(v),
                "user" => x.user = d.owner(v, "NodeUser"),
                "mode" => x.mode = d.opt_int(v),
                _ => return false,
            }
            true
        });
        x
    }

    fn file(&mut self, n: &Node) -> File {
        let mut x = File::default();
        self.fields(n, "File", |d, k, v| {
            match k {
                "group" => x.group = d.owner(v, "NodeGroup"),
                "overwrite" => x.overwrite = d.opt_bool(v),
                "path" => x.path = d.string(v),
                "user" => x.user = d.owner(v, "NodeUser"),
                "append" => x.append = d.list(v, "[]Resource", Self::resource),
                "contents" => x.contents = d.resource(v),
                "mode" => x.mode = d.opt_int(v),
                _ => return false,
            }
            true
        });
        x
    }

    fn link(&mut self, n: &Node) -> Link {
        let mut x = Link::default();
        self.fields(n, "Link", |d, k, v| {
            match k {
                "group" => x.group = d.owner(v, "NodeGroup"),
                "overwrite" => x.overwrite = d.opt_bool(v),
                "path" => x.path = d.string(v),
                "user" => x.user = d.owner(v, "NodeUser"),
                "hard" => x.hard = d.opt_bool(v),
                "target" => x.target = d.opt_string(v),
                _ => return false,
            }
            true
        });
        x
    }

    fn disk(&mut self, n: &Node) -> Disk {
        let mut x = Disk::default();
        self.fields(n, "Disk", |d, k, v| {
            match k {
                "device" => x.device = d.string(v),
                "partitions" => {
                    x.partitions = d.list(v, "[]Partition", |d, n| {
                        let mut p = Partition::default();
                        d.fields(n, "Partition", |d, k, v| {
                            match k {
                                "guid" => p.guid = d.opt_string(v),
                                "label" => p.label = d.opt_string(v),
                                "number" => p.number = d.int(v),
                                "resize" => p.resize = d.opt_bool(v),
                                "should_exist" => p.should_exist = d.opt_bool(v),
                                "size_mib" => p.size_mib = d.opt_int(v),
                                "start_mib" => p.start_mib = d.opt_int(v),
                                "type_guid" => p.type_guid = d.opt_string(v),
                                "wipe_partition_entry" => p.wipe_partition_entry = d.opt_bool(v),
                                _ => return false,
                            }
                            true
                        });
                        p
                    })
                }
                "wipe_table" => x.wipe_table = d.opt_bool(v),
                _ => return false,
            }
            true
        });
        x
    }

    fn filesystem(&mut self, n: &Node) -> Filesystem {
        let mut x = Filesystem::default();
        self.fields(n, "Filesystem", |d, k, v| {
            match k {
                "device" => x.device = d.string(v),
                "format" => x.format = d.opt_string(v),
                "label" => x.label = d.opt_string(v),
                "mount_options" => x.mount_options = d.strings(v, "[]string"),
                "options" => x.options = d.strings(v, "[]string"),
                "path" => x.path = d.opt_string(v),
                "uuid" => x.uuid = d.opt_string(v),
                "wipe_filesystem" => x.wipe_filesystem = d.opt_bool(v),
                "with_mount_unit" => x.with_mount_unit = d.opt_bool(v),
                _ => return false,
            }
            true
        });
        x
    }

    fn luks(&mut self, n: &Node) -> Luks {
        let mut x = Luks::default();
        let v11 = self.v11();
        self.fields(n, "Luks", |d, k, v| {
            match k {
                "clevis" => x.clevis = d.clevis(v),
                "device" => x.device = d.opt_string(v),
                "discard" if v11 => x.discard = d.opt_bool(v),
                "key_file" => x.key_file = d.resource(v),
                "label" => x.label = d.opt_string(v),
                "name" => x.name = d.string(v),
                "open_options" if v11 => x.open_options = d.strings(v, "[]string"),
                "options" => x.options = d.strings(v, "[]LuksOption"),
                "uuid" => x.uuid = d.opt_string(v),
                "wipe_volume" => x.wipe_volume = d.opt_bool(v),
                _ => return false,
            }
            true
        });
        x
    }

    fn clevis(&mut self, n: &Node) -> Clevis {
        let mut c = Clevis::default();
        let v11 = self.v11();
        self.fields(n, "Clevis", |d, k, v| {
            match k {
                "custom" => d.fields(v, "ClevisCustom", |d, k, v| {
                    match k {
                        "config" => c.custom.config = d.opt_string(v),
                        "needs_network" => c.custom.needs_network = d.opt_bool(v),
                        "pin" => c.custom.pin = d.opt_string(v),
                        _ => return false,
                    }
                    true
                }),
                "tang" => {
                    c.tang = d.list(v, "[]Tang", |d, n| {
                        let mut t = Tang::default();
                        d.fields(n, "Tang", |d, k, v| {
                            match k {
                                "thumbprint" => t.thumbprint = d.opt_string(v),
                                "url" => t.url = d.string(v),
                                "advertisement" if v11 => t.advertisement = d.opt_string(v),
                                _ => return false,
                            }
                            true
                        });
                        t
                    })
                }
                "threshold" => c.threshold = d.opt_int(v),
                "tpm2" => c.tpm2 = d.opt_bool(v),
                _ => return false,
            }
            true
        });
        c
    }

    fn raid(&mut self, n: &Node) -> Raid {
        let mut x = Raid::default();
        self.fields(n, "Raid", |d, k, v| {
            match k {
                "devices" => x.devices = d.strings(v, "[]Device"),
                "level" => x.level = d.opt_string(v),
                "name" => x.name = d.string(v),
                "options" => x.options = d.strings(v, "[]RaidOption"),
                "spares" => x.spares = d.opt_int(v),
                _ => return false,
            }
            true
        });
        x
    }
}
