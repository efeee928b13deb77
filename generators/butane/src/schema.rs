//! The Butane config (variant flatcar) as read from YAML: one set of types
//! for both spec versions. Fields that exist only in 1.1.0 are marked; the
//! decoder treats them as unknown keys in a 1.0.0 config.

use crate::ignition::Spec;

/// Which Butane spec the config declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// flatcar 1.0.0 -> Ignition 3.3.0
    V1_0,
    /// flatcar 1.1.0 -> Ignition 3.4.0
    V1_1,
}

impl Version {
    /// The Ignition spec this Butane spec translates to.
    pub fn ignition_spec(self) -> Spec {
        match self {
            Version::V1_0 => Spec::V3_3,
            Version::V1_1 => Spec::V3_4,
        }
    }

    pub fn ignition_version(self) -> &'static str {
        self.ignition_spec().version()
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub version: String,
    pub variant: String,
    pub ignition: Ignition,
    pub kernel_arguments: KernelArguments,
    pub passwd: Passwd,
    pub storage: Storage,
    pub systemd: Systemd,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ignition {
    pub config: IgnitionConfig,
    pub proxy: Proxy,
    pub security: Security,
    pub timeouts: Timeouts,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct IgnitionConfig {
    pub merge: Vec<Resource>,
    pub replace: Resource,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Proxy {
    pub http_proxy: Option<String>,
    pub https_proxy: Option<String>,
    pub no_proxy: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Security {
    pub tls: Tls,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tls {
    pub certificate_authorities: Vec<Resource>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeouts {
    pub http_response_headers: Option<i64>,
    pub http_total: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelArguments {
    pub should_exist: Vec<String>,
    pub should_not_exist: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Passwd {
    pub groups: Vec<PasswdGroup>,
    pub users: Vec<PasswdUser>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PasswdGroup {
    pub gid: Option<i64>,
    pub name: String,
    pub password_hash: Option<String>,
    pub should_exist: Option<bool>,
    pub system: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PasswdUser {
    pub gecos: Option<String>,
    pub groups: Vec<String>,
    pub home_dir: Option<String>,
    pub name: String,
    pub no_create_home: Option<bool>,
    pub no_log_init: Option<bool>,
    pub no_user_group: Option<bool>,
    pub password_hash: Option<String>,
    pub primary_group: Option<String>,
    pub should_exist: Option<bool>,
    pub ssh_authorized_keys: Vec<String>,
    /// 1.1.0 only.
    pub ssh_authorized_keys_local: Vec<String>,
    pub shell: Option<String>,
    pub system: Option<bool>,
    pub uid: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Storage {
    pub directories: Vec<Directory>,
    pub disks: Vec<Disk>,
    pub files: Vec<File>,
    pub filesystems: Vec<Filesystem>,
    pub links: Vec<Link>,
    pub luks: Vec<Luks>,
    pub raid: Vec<Raid>,
    pub trees: Vec<Tree>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeOwner {
    pub id: Option<i64>,
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directory {
    pub group: NodeOwner,
    pub overwrite: Option<bool>,
    pub path: String,
    pub user: NodeOwner,
    pub mode: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct File {
    pub group: NodeOwner,
    pub overwrite: Option<bool>,
    pub path: String,
    pub user: NodeOwner,
    pub append: Vec<Resource>,
    pub contents: Resource,
    pub mode: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Link {
    pub group: NodeOwner,
    pub overwrite: Option<bool>,
    pub path: String,
    pub user: NodeOwner,
    pub hard: Option<bool>,
    pub target: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    pub compression: Option<String>,
    pub http_headers: Vec<HttpHeader>,
    pub source: Option<String>,
    /// Bytes, not text: `!!binary` scalars embed arbitrary contents.
    pub inline: Option<Vec<u8>>,
    pub local: Option<String>,
    pub verification: Verification,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpHeader {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verification {
    pub hash: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Disk {
    pub device: String,
    pub partitions: Vec<Partition>,
    pub wipe_table: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Partition {
    pub guid: Option<String>,
    pub label: Option<String>,
    pub number: i64,
    pub resize: Option<bool>,
    pub should_exist: Option<bool>,
    pub size_mib: Option<i64>,
    pub start_mib: Option<i64>,
    pub type_guid: Option<String>,
    pub wipe_partition_entry: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filesystem {
    pub device: String,
    pub format: Option<String>,
    pub label: Option<String>,
    pub mount_options: Vec<String>,
    pub options: Vec<String>,
    pub path: Option<String>,
    pub uuid: Option<String>,
    pub wipe_filesystem: Option<bool>,
    pub with_mount_unit: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Luks {
    pub clevis: Clevis,
    pub device: Option<String>,
    /// 1.1.0 only.
    pub discard: Option<bool>,
    pub key_file: Resource,
    pub label: Option<String>,
    pub name: String,
    /// 1.1.0 only.
    pub open_options: Vec<String>,
    pub options: Vec<String>,
    pub uuid: Option<String>,
    pub wipe_volume: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Clevis {
    pub custom: ClevisCustom,
    pub tang: Vec<Tang>,
    pub threshold: Option<i64>,
    pub tpm2: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClevisCustom {
    pub config: Option<String>,
    pub needs_network: Option<bool>,
    pub pin: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tang {
    pub thumbprint: Option<String>,
    pub url: String,
    /// 1.1.0 only.
    pub advertisement: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Raid {
    pub devices: Vec<String>,
    pub level: Option<String>,
    pub name: String,
    pub options: Vec<String>,
    pub spares: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tree {
    pub local: String,
    pub path: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Systemd {
    pub units: Vec<Unit>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Unit {
    pub contents: Option<String>,
    /// 1.1.0 only.
    pub contents_local: Option<String>,
    pub dropins: Vec<Dropin>,
    pub enabled: Option<bool>,
    pub mask: Option<bool>,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dropin {
    pub contents: Option<String>,
    /// 1.1.0 only.
    pub contents_local: Option<String>,
    pub name: String,
}
