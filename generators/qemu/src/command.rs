//! A VM description turned into qemu's exact argv.
//!
//! The stick is attached the way it is on real hardware (USB mass storage
//! behind an xHCI controller) unless virtio is asked for; the firmware is
//! OVMF as two pflash drives (read-only code, a private writable copy of the
//! variable store); networking is qemu's user mode with a virtio NIC, where
//! the host's 127.0.0.1 is 10.0.2.2 for the guest.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskBus {
    /// `qemu-xhci` + `usb-storage,removable=on`: what a USB stick is.
    Usb,
    /// `virtio-blk-pci`: faster, but not what a node sees.
    Virtio,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serial {
    /// Serial console multiplexed with the monitor on the terminal
    /// (Ctrl-A X quits, Ctrl-A C switches to the monitor); with `log`, qemu
    /// also copies everything the guest prints there to that file, which is
    /// how a supervisor sees the console of an interactive run.
    Terminal {
        log: Option<PathBuf>,
    },
    /// Serial output appended to a file (the e2e log).
    File(PathBuf),
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// No window: everything goes over the serial port.
    None,
    /// qemu's default window (VGA console).
    Gui,
}

/// Everything that decides qemu's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmSpec {
    pub qemu: PathBuf,
    pub ovmf_code: PathBuf,
    /// The variable store. With `snapshot` the template itself is fine
    /// (qemu writes to a temporary overlay); without, pass a private copy
    /// (see [`crate::run::private_vars`]).
    pub ovmf_vars: PathBuf,
    /// The stick: a raw image or a block device.
    pub disk: PathBuf,
    pub bus: DiskBus,
    /// Writes go to a temporary overlay, so the stick is never modified.
    pub snapshot: bool,
    pub memory_mib: u32,
    pub cpus: u32,
    pub accel: Accel,
    /// `(host port on 127.0.0.1, guest port)` TCP forwards.
    pub forwards: Vec<(u16, u16)>,
    pub serial: Serial,
    pub display: Display,
    /// Exit instead of rebooting: a guest reboot or triple fault ends the run.
    pub no_reboot: bool,
    /// An EFI signature list of CA certificates (see [`crate::cacerts`]),
    /// handed to OVMF as fw_cfg `etc/edk2/https/cacerts`: the firmware's
    /// `TlsCaCertificate`, which iPXE trusts.
    pub tls_ca_certs: Option<PathBuf>,
    /// Appended verbatim (for experiments; the launcher never needs them).
    pub extra: Vec<OsString>,
}

impl VmSpec {
    /// Defaults for a node: >= 3 GiB (Flatcar unpacks its whole /usr into RAM),
    /// 2 CPUs, TCG, USB stick, snapshot, no reboot.
    pub fn node(qemu: PathBuf, ovmf_code: PathBuf, ovmf_vars: PathBuf, disk: PathBuf) -> Self {
        Self {
            qemu,
            ovmf_code,
            ovmf_vars,
            disk,
            bus: DiskBus::Usb,
            snapshot: true,
            memory_mib: 3072,
            cpus: 2,
            accel: Accel::Tcg,
            forwards: Vec::new(),
            serial: Serial::Terminal { log: None },
            display: Display::None,
            no_reboot: true,
            tls_ca_certs: None,
            extra: Vec::new(),
        }
    }

    /// The arguments after the program name.
    pub fn args(&self) -> Vec<OsString> {
        let mut a = Args::default();
        a.0.extend(machine_args(self.accel));
        a.push(["-m", &self.memory_mib.to_string()]);
        a.push(["-smp", &self.cpus.to_string()]);

        a.pair(
            "-drive",
            opt_with_path(
                "if=pflash,format=raw,unit=0,readonly=on,file=",
                &self.ovmf_code,
            ),
        );
        a.pair(
            "-drive",
            opt_with_path("if=pflash,format=raw,unit=1,file=", &self.ovmf_vars),
        );

        a.pair(
            "-drive",
            opt_with_path("if=none,id=stick,format=raw,file=", &self.disk),
        );
        match self.bus {
            DiskBus::Usb => {
                a.push(["-device", "qemu-xhci,id=xhci"]);
                a.push([
                    "-device",
                    "usb-storage,bus=xhci.0,drive=stick,removable=on,bootindex=0",
                ]);
            }
            DiskBus::Virtio => a.push(["-device", "virtio-blk-pci,drive=stick,bootindex=0"]),
        }
        if self.snapshot {
            a.push(["-snapshot"]);
        }

        let mut netdev = String::from("user,id=net0");
        for (host, guest) in &self.forwards {
            netdev.push_str(&format!(",hostfwd=tcp:127.0.0.1:{host}-:{guest}"));
        }
        a.push(["-netdev", &netdev]);
        a.push(["-device", "virtio-net-pci,netdev=net0"]);

        match &self.serial {
            Serial::Terminal { log: None } => a.push(["-serial", "mon:stdio"]),
            // `mon:stdio` spelled out, to add the log file.
            Serial::Terminal { log: Some(path) } => {
                a.pair(
                    "-chardev",
                    opt_with_path("stdio,id=con0,mux=on,logfile=", path),
                );
                a.push(["-serial", "chardev:con0", "-mon", "chardev=con0"]);
            }
            Serial::File(path) => {
                a.pair("-chardev", opt_with_path("file,id=serial0,path=", path));
                a.push(["-serial", "chardev:serial0"]);
            }
            Serial::None => a.push(["-serial", "none"]),
        }
        if self.display == Display::None {
            a.push(["-display", "none"]);
            // The default monitor would otherwise claim a virtual console;
            // with a terminal serial the monitor is already multiplexed there.
            a.push(["-monitor", "none"]);
        }
        if self.no_reboot {
            a.push(["-no-reboot"]);
        }
        if let Some(list) = &self.tls_ca_certs {
            let prefix = format!("name={},file=", crate::cacerts::FW_CFG_NAME);
            a.pair("-fw_cfg", opt_with_path(&prefix, list));
        }
        a.0.extend(self.extra.iter().cloned());
        a.0
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.qemu);
        c.args(self.args());
        c
    }

    /// The command as one line a user can paste into a POSIX shell.
    pub fn shell_line(&self) -> String {
        std::iter::once(self.qemu.as_os_str().to_owned())
            .chain(self.args())
            .map(|w| shell_quote(&w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Accel {
    /// qemu's name for it (`-machine accel=…`, `--accel …`).
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// Machine type, accelerator and CPU model: shared by every VM and the KVM
/// probe, so the probe tests exactly what a run will ask KVM for.
pub(crate) fn machine_args(accel: Accel) -> Vec<OsString> {
    let mut a = vec![
        OsString::from("-machine"),
        format!("q35,accel={}", accel.name()).into(),
    ];
    if accel == Accel::Kvm {
        a.extend(["-cpu".into(), "host".into()]);
    }
    a
}

#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn push<const N: usize>(&mut self, words: [&str; N]) {
        self.0.extend(words.iter().map(OsString::from));
    }
    fn pair(&mut self, flag: &str, value: OsString) {
        self.0.push(flag.into());
        self.0.push(value);
    }
}

/// qemu's option syntax splits on commas; a comma inside a value is written
/// twice. Paths are otherwise passed through byte for byte.
pub(crate) fn opt_with_path(prefix: &str, path: &Path) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut bytes = prefix.as_bytes().to_vec();
    for &b in path.as_os_str().as_bytes() {
        bytes.push(b);
        if b == b',' {
            bytes.push(b',');
        }
    }
    OsString::from_vec(bytes)
}

/// One word for sh ([`ephemeros_node::shell::quote`]; a name that is not
/// UTF-8 is shown lossily, as it is only printed).
fn shell_quote(word: &OsStr) -> String {
    ephemeros_node::shell::quote(&word.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VmSpec {
        VmSpec::node(
            "/usr/bin/qemu-system-x86_64".into(),
            "/fw/CODE.fd".into(),
            "/tmp/run/VARS.fd".into(),
            "/images/stick.img".into(),
        )
    }

    fn argv(s: &VmSpec) -> Vec<String> {
        s.args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn node_defaults_give_the_exact_command() {
        let mut s = spec();
        s.forwards.push((2222, 22));
        assert_eq!(
            argv(&s),
            [
                "-machine",
                "q35,accel=tcg",
                "-m",
                "3072",
                "-smp",
                "2",
                "-drive",
                "if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd",
                "-drive",
                "if=pflash,format=raw,unit=1,file=/tmp/run/VARS.fd",
                "-drive",
                "if=none,id=stick,format=raw,file=/images/stick.img",
                "-device",
                "qemu-xhci,id=xhci",
                "-device",
                "usb-storage,bus=xhci.0,drive=stick,removable=on,bootindex=0",
                "-snapshot",
                "-netdev",
                "user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22",
                "-device",
                "virtio-net-pci,netdev=net0",
                "-serial",
                "mon:stdio",
                "-display",
                "none",
                "-monitor",
                "none",
                "-no-reboot",
            ]
        );
    }

    #[test]
    fn kvm_uses_the_host_cpu() {
        let mut s = spec();
        s.accel = Accel::Kvm;
        let a = argv(&s);
        assert_eq!(&a[..4], ["-machine", "q35,accel=kvm", "-cpu", "host"]);
    }

    #[test]
    fn serial_file_virtio_gui_and_no_snapshot() {
        let mut s = spec();
        s.serial = Serial::File("/logs/serial.log".into());
        s.bus = DiskBus::Virtio;
        s.display = Display::Gui;
        s.snapshot = false;
        s.no_reboot = false;
        let a = argv(&s);
        let joined = a.join(" ");
        assert!(joined
            .contains("-chardev file,id=serial0,path=/logs/serial.log -serial chardev:serial0"));
        assert!(joined.contains("-device virtio-blk-pci,drive=stick,bootindex=0"));
        for absent in [
            "-snapshot",
            "-display",
            "-no-reboot",
            "usb-storage",
            "-monitor",
        ] {
            assert!(
                !a.iter().any(|w| w.contains(absent)),
                "{absent} in {joined}"
            );
        }
    }

    #[test]
    fn a_terminal_console_with_a_log_is_mon_stdio_spelled_out() {
        let mut s = spec();
        s.serial = Serial::Terminal {
            log: Some("/run/x,y/console.log".into()),
        };
        let joined = argv(&s).join(" ");
        assert!(
            joined.contains(
                "-chardev stdio,id=con0,mux=on,logfile=/run/x,,y/console.log \
                 -serial chardev:con0 -mon chardev=con0"
            ),
            "{joined}"
        );
        assert!(!joined.contains("mon:stdio"), "{joined}");
    }

    #[test]
    fn a_ca_list_goes_to_the_firmware_by_fw_cfg() {
        let mut s = spec();
        assert!(!argv(&s).contains(&"-fw_cfg".to_owned()));
        s.tls_ca_certs = Some("/run/a,b/cacerts.esl".into());
        let a = argv(&s);
        let at = a.iter().position(|w| w == "-fw_cfg").unwrap();
        assert_eq!(
            a[at + 1],
            "name=etc/edk2/https/cacerts,file=/run/a,,b/cacerts.esl"
        );
    }

    #[test]
    fn commas_in_paths_are_doubled() {
        let mut s = spec();
        s.disk = "/odd,dir/stick.img".into();
        assert!(argv(&s).contains(&"if=none,id=stick,format=raw,file=/odd,,dir/stick.img".into()));
    }

    #[test]
    fn shell_line_quotes_what_needs_it() {
        let mut s = spec();
        s.disk = "/my images/it's.img".into();
        let line = s.shell_line();
        assert!(line.starts_with("/usr/bin/qemu-system-x86_64 -machine q35,accel=tcg "));
        assert!(
            line.contains(r"'if=none,id=stick,format=raw,file=/my images/it'\''s.img'"),
            "{line}"
        );
    }
}
