//! Finding qemu and OVMF: an explicit path (flag) wins, then the environment
//! variable (set by the Nix app), then PATH (qemu) or well-known distribution
//! paths (OVMF).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::{Error, Result, ENV_OVMF_CODE, ENV_OVMF_VARS, ENV_QEMU};

/// The qemu binary's name on every distribution we know.
pub const QEMU_BINARY: &str = "qemu-system-x86_64";

/// OVMF CODE/VARS pairs, most preferred first. A pair must come from the same
/// build (the VARS store size is baked into CODE), so they are listed together.
/// Debian/Ubuntu (`dpkg -L ovmf`), Fedora (edk2-ovmf), Arch (edk2-ovmf).
pub const OVMF_PAIRS: &[(&str, &str)] = &[
    (
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ),
    (
        "/usr/share/edk2/ovmf/OVMF_CODE.fd",
        "/usr/share/edk2/ovmf/OVMF_VARS.fd",
    ),
    (
        "/usr/share/edk2/x64/OVMF_CODE.4m.fd",
        "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
    ),
    (
        "/usr/share/edk2-ovmf/x64/OVMF_CODE.fd",
        "/usr/share/edk2-ovmf/x64/OVMF_VARS.fd",
    ),
];

/// UEFI firmware as two flash images: read-only code, and a template for the
/// variable store (the launcher boots a private copy of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firmware {
    pub code: PathBuf,
    pub vars: PathBuf,
}

/// What a VM needs from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub qemu: PathBuf,
    pub firmware: Firmware,
}

/// Where to look; the environment is passed in so tests need not mutate the
/// process environment.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub qemu: Option<PathBuf>,
    pub ovmf_code: Option<PathBuf>,
    pub ovmf_vars: Option<PathBuf>,
    pub env_qemu: Option<OsString>,
    pub env_ovmf_code: Option<OsString>,
    pub env_ovmf_vars: Option<OsString>,
    pub path_var: Option<OsString>,
    /// Candidate OVMF pairs; [`OVMF_PAIRS`] unless a test narrows it.
    pub ovmf_pairs: Vec<(PathBuf, PathBuf)>,
}

impl Lookup {
    /// Flags as given, the rest from this process's environment.
    pub fn from_env(
        qemu: Option<PathBuf>,
        ovmf_code: Option<PathBuf>,
        ovmf_vars: Option<PathBuf>,
    ) -> Self {
        let nonempty = |k| std::env::var_os(k).filter(|v| !v.is_empty());
        Self {
            qemu,
            ovmf_code,
            ovmf_vars,
            env_qemu: nonempty(ENV_QEMU),
            env_ovmf_code: nonempty(ENV_OVMF_CODE),
            env_ovmf_vars: nonempty(ENV_OVMF_VARS),
            path_var: std::env::var_os("PATH"),
            ovmf_pairs: OVMF_PAIRS
                .iter()
                .map(|(c, v)| (PathBuf::from(c), PathBuf::from(v)))
                .collect(),
        }
    }

    pub fn tools(&self) -> Result<Tools> {
        Ok(Tools {
            qemu: self.find_qemu()?,
            firmware: self.find_firmware()?,
        })
    }

    pub fn find_qemu(&self) -> Result<PathBuf> {
        if let Some(p) = &self.qemu {
            return existing("qemu (--qemu)", p.clone());
        }
        if let Some(p) = &self.env_qemu {
            return existing("qemu ($EPHEMEROS_QEMU)", PathBuf::from(p));
        }
        let path_var = self.path_var.clone().unwrap_or_default();
        std::env::split_paths(&path_var)
            .map(|dir| dir.join(QEMU_BINARY))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                Error::QemuNotFound(format!(
                    "no {QEMU_BINARY} on PATH; install qemu (Debian: qemu-system-x86), \
                     or pass --qemu / set {ENV_QEMU}"
                ))
            })
    }

    pub fn find_firmware(&self) -> Result<Firmware> {
        let code = self
            .ovmf_code
            .clone()
            .map(|p| ("OVMF code (--ovmf-code)", p))
            .or_else(|| {
                self.env_ovmf_code
                    .clone()
                    .map(|p| ("OVMF code ($EPHEMEROS_OVMF_CODE)", p.into()))
            });
        let vars = self
            .ovmf_vars
            .clone()
            .map(|p| ("OVMF vars (--ovmf-vars)", p))
            .or_else(|| {
                self.env_ovmf_vars
                    .clone()
                    .map(|p| ("OVMF vars ($EPHEMEROS_OVMF_VARS)", p.into()))
            });
        match (code, vars) {
            (Some((cw, c)), Some((vw, v))) => Ok(Firmware {
                code: existing(cw, c)?,
                vars: existing(vw, v)?,
            }),
            (Some((cw, c)), None) => {
                // Only CODE given: the VARS template usually sits beside it
                // under the matching name (as in nixpkgs' OVMF.fd/FV).
                let code = existing(cw, c)?;
                let vars = sibling_vars(&code).ok_or_else(|| {
                    Error::OvmfNotFound(format!(
                        "no VARS file next to {}; pass --ovmf-vars or set {ENV_OVMF_VARS}",
                        code.display()
                    ))
                })?;
                Ok(Firmware { code, vars })
            }
            (None, Some(_)) => Err(Error::OvmfNotFound(format!(
                "OVMF vars given without code; pass --ovmf-code or set {ENV_OVMF_CODE}"
            ))),
            (None, None) => self
                .ovmf_pairs
                .iter()
                .find(|(c, v)| c.is_file() && v.is_file())
                .map(|(c, v)| Firmware {
                    code: c.clone(),
                    vars: v.clone(),
                })
                .ok_or_else(|| {
                    Error::OvmfNotFound(format!(
                        "none of the well-known paths exist ({}); install OVMF \
                         (Debian: ovmf) or pass --ovmf-code/--ovmf-vars or set \
                         {ENV_OVMF_CODE}/{ENV_OVMF_VARS}",
                        self.ovmf_pairs
                            .iter()
                            .map(|(c, _)| c.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }),
        }
    }
}

fn existing(what: &'static str, path: PathBuf) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Missing { what, path })
    }
}

/// `OVMF_CODE*.fd` -> `OVMF_VARS*.fd` in the same directory, if present.
fn sibling_vars(code: &Path) -> Option<PathBuf> {
    let name = code.file_name()?.to_str()?;
    let vars = code.with_file_name(name.replacen("CODE", "VARS", 1));
    (vars != code && vars.is_file()).then_some(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A scratch directory, removed when the test ends (pass or fail).
    struct Scratch(PathBuf);

    impl std::ops::Deref for Scratch {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn scratch(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!(
            "ephemeros-qemu-discover-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn touch(p: &Path) -> PathBuf {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"x").unwrap();
        p.to_owned()
    }

    #[test]
    fn flag_beats_env_beats_path() {
        let d = scratch("order");
        let flag = touch(&d.join("flag/qemu"));
        let env = touch(&d.join("env/qemu"));
        let on_path = touch(&d.join("bin").join(QEMU_BINARY));
        let mut l = Lookup {
            qemu: Some(flag.clone()),
            env_qemu: Some(env.clone().into()),
            path_var: Some(d.join("bin").into()),
            ..Lookup::default()
        };
        assert_eq!(l.find_qemu().unwrap(), flag);
        l.qemu = None;
        assert_eq!(l.find_qemu().unwrap(), env);
        l.env_qemu = None;
        assert_eq!(l.find_qemu().unwrap(), on_path);
        l.path_var = Some(d.join("empty").into());
        assert!(matches!(l.find_qemu(), Err(Error::QemuNotFound(_))));
    }

    #[test]
    fn missing_explicit_qemu_names_the_path() {
        let l = Lookup {
            qemu: Some("/nonexistent/qemu".into()),
            ..Lookup::default()
        };
        let err = l.find_qemu().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/qemu"), "{err}");
    }

    #[test]
    fn first_complete_well_known_pair_wins() {
        let d = scratch("pairs");
        // First pair lacks VARS: skipped, never mixed with another pair's VARS.
        let c1 = touch(&d.join("a/OVMF_CODE_4M.fd"));
        let c2 = touch(&d.join("b/OVMF_CODE.fd"));
        let v2 = touch(&d.join("b/OVMF_VARS.fd"));
        let l = Lookup {
            ovmf_pairs: vec![(c1, d.join("a/OVMF_VARS_4M.fd")), (c2.clone(), v2.clone())],
            ..Lookup::default()
        };
        assert_eq!(l.find_firmware().unwrap(), Firmware { code: c2, vars: v2 });
    }

    #[test]
    fn env_code_alone_finds_sibling_vars() {
        let d = scratch("sibling");
        let code = touch(&d.join("FV/OVMF_CODE.fd"));
        let vars = touch(&d.join("FV/OVMF_VARS.fd"));
        let l = Lookup {
            env_ovmf_code: Some(code.clone().into()),
            ..Lookup::default()
        };
        assert_eq!(l.find_firmware().unwrap(), Firmware { code, vars });
    }

    #[test]
    fn nothing_found_is_a_clear_error() {
        let l = Lookup {
            ovmf_pairs: vec![("/nonexistent/C.fd".into(), "/nonexistent/V.fd".into())],
            ..Lookup::default()
        };
        let err = l.find_firmware().unwrap_err().to_string();
        assert!(
            err.contains("/nonexistent/C.fd") && err.contains("ovmf"),
            "{err}"
        );
    }
}
