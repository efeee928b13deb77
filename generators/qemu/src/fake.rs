//! A stand-in qemu for tests: a shell script that behaves, per
//! accelerator, the way real qemu was seen to behave on CI machines, so the
//! probe and the KVM fallback can be tested where no KVM (or no qemu) is.
//!
//! Behaviours: `console` (the firmware prints, then the guest runs on),
//! `poweroff` (prints, then the guest powers off: qemu exits 0), `giveup`
//! (the boot script prints its give-up line and powers off),
//! `internal-error` (qemu's `KVM internal error` text and register dump,
//! then a paused guest that never ends), `quit` (the user pressed Ctrl-A X),
//! `abort` (qemu dies at once setting
//! up the host CPU), `silent` (runs, prints nothing).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::discover::Firmware;

/// A fake qemu in a scratch directory of its own (removed on drop).
pub struct FakeQemu {
    pub dir: PathBuf,
    pub qemu: PathBuf,
    pub firmware: Firmware,
}

impl FakeQemu {
    /// `name` keeps parallel tests apart; `kvm` and `tcg` are the
    /// behaviours under each accelerator.
    pub fn new(name: &str, kvm: &str, tcg: &str) -> Self {
        Self::with(name, &[("kvm", kvm), ("tcg", tcg)])
    }

    fn with(name: &str, behaviours: &[(&str, &str)]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ephemeros-fake-qemu-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("creating the fake qemu's directory");
        let mut script = String::from(SCRIPT_HEAD);
        for (accel, behaviour) in behaviours {
            script.push_str(&format!("[ \"$accel\" = {accel} ] && behave {behaviour}\n"));
        }
        script.push_str("echo \"fake qemu: no behaviour for accel=$accel\" >&2; exit 99\n");
        let qemu = dir.join("qemu-system-x86_64");
        fs::write(&qemu, script).expect("writing the fake qemu");
        fs::set_permissions(&qemu, fs::Permissions::from_mode(0o755))
            .expect("making the fake qemu executable");
        let code = dir.join("OVMF_CODE.fd");
        let vars = dir.join("OVMF_VARS.fd");
        fs::write(&code, b"code").expect("writing fake OVMF code");
        fs::write(&vars, b"vars").expect("writing fake OVMF vars");
        Self {
            dir,
            qemu,
            firmware: Firmware { code, vars },
        }
    }

    /// The arguments of every start so far, one start per line.
    pub fn args(&self) -> String {
        fs::read_to_string(self.dir.join("args")).unwrap_or_default()
    }

    /// How many times the fake was started.
    pub fn starts(&self) -> usize {
        self.args().lines().count()
    }
}

impl Drop for FakeQemu {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

const SCRIPT_HEAD: &str = include_str!("fake-qemu-head.sh");
