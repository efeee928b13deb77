//! Finding and checking the iPXE EFI binary that goes to `EFI/BOOT/`.
//!
//! Any stock iPXE built after January 2021 runs `autoexec.ipxe` from the
//! volume it was loaded from; older builds (Debian bookworm's, for one)
//! do not and would sit at an iPXE prompt. Builds that support it contain
//! the string `autoexec.ipxe`, which is checked here.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::image::EfiArch;

/// The marker an autoexec-capable iPXE binary contains.
pub const AUTOEXEC_MARKER: &[u8] = b"autoexec.ipxe";

/// Where distributions install iPXE's EFI binaries, most specific first.
/// Debian and Ubuntu (`ipxe` package; trixie's has `ipxe.efi` as a link to
/// `ipxe-amd64.efi`, bookworm's only an `ipxe.efi` without autoexec):
/// `/usr/lib/ipxe/`; Fedora (`ipxe-bootimgs-*`): `/usr/share/ipxe/`;
/// nixpkgs' `ipxe` puts `ipxe.efi` at the top of its output, so in a
/// profile: `~/.nix-profile/ipxe.efi`, `/run/current-system/sw/ipxe.efi`.
pub fn well_known_paths(arch: EfiArch, home: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match arch {
        EfiArch::X64 => [
            "/usr/lib/ipxe/ipxe-amd64.efi",
            "/usr/lib/ipxe/ipxe.efi",
            "/usr/share/ipxe/ipxe-x86_64.efi",
            "/run/current-system/sw/ipxe.efi",
        ]
        .iter()
        .map(PathBuf::from)
        .collect(),
        EfiArch::Aa64 => [
            "/usr/lib/ipxe/ipxe-arm64.efi",
            "/usr/share/ipxe/arm64-efi/ipxe.efi",
        ]
        .iter()
        .map(PathBuf::from)
        .collect(),
    };
    if arch == EfiArch::X64 {
        if let Some(home) = home {
            out.push(home.join(".nix-profile/ipxe.efi"));
        }
    }
    out
}

fn how_to_get_one(arch: EfiArch) -> String {
    let debian = match arch {
        EfiArch::X64 => "/usr/lib/ipxe/ipxe.efi",
        EfiArch::Aa64 => "/usr/lib/ipxe/ipxe-arm64.efi",
    };
    format!(
        "get an iPXE built after January 2021 and pass it with --ipxe-efi PATH (or EPHEMEROS_IPXE_EFI): \
         `nix run .#build-stick` brings one; `cargo xtask ipxe` fetches Debian trixie's `ipxe` package and prints its path; \
         or install the `ipxe` package of Debian trixie or newer ({debian})"
    )
}

/// Reads and checks the binary: an explicit path, else the first
/// well-known path holding a suitable one (an old iPXE at one path does
/// not hide a good one at the next).
pub fn load(
    explicit: Option<&Path>,
    arch: EfiArch,
    home: Option<&Path>,
) -> Result<(PathBuf, Vec<u8>)> {
    let path = match explicit {
        Some(p) => p.to_owned(),
        None => {
            let mut rejected = Vec::new();
            for candidate in well_known_paths(arch, home) {
                if !candidate.is_file() {
                    continue;
                }
                match load(Some(&candidate), arch, home) {
                    Ok(found) => return Ok(found),
                    Err(e) => rejected.push(e.to_string()),
                }
            }
            return Err(match rejected.into_iter().next() {
                Some(first) => Error::Ipxe(first),
                None => Error::Ipxe(format!(
                    "no iPXE EFI binary found ({}); {}",
                    well_known_paths(arch, home)
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    how_to_get_one(arch)
                )),
            });
        }
    };
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::Ipxe(format!(
            "cannot read the iPXE binary {}: {e}; {}",
            path.display(),
            how_to_get_one(arch)
        ))
    })?;
    check(&path, &bytes, arch)?;
    Ok((path, bytes))
}

/// Refuses a file that is not a PE image for `arch`, or an iPXE that
/// cannot run `autoexec.ipxe`.
pub fn check(path: &Path, bytes: &[u8], arch: EfiArch) -> Result<()> {
    let shown = path.display();
    if !bytes.starts_with(b"MZ") {
        return Err(Error::Ipxe(format!(
            "{shown} is not an EFI executable (no MZ header); {}",
            how_to_get_one(arch)
        )));
    }
    if let Some(machine) = pe_machine(bytes) {
        let (want, name) = match arch {
            EfiArch::X64 => (0x8664, "x86-64"),
            EfiArch::Aa64 => (0xAA64, "arm64"),
        };
        if machine != want {
            return Err(Error::Ipxe(format!(
                "{shown} is an EFI executable for another CPU (machine type {machine:#06x}), not {name}; {}",
                how_to_get_one(arch)
            )));
        }
    }
    if !bytes
        .windows(AUTOEXEC_MARKER.len())
        .any(|w| w == AUTOEXEC_MARKER)
    {
        return Err(Error::Ipxe(format!(
            "{shown} cannot run autoexec.ipxe (an iPXE from before 2021, or not iPXE at all), \
             so the stick would stop at an iPXE prompt; {}",
            how_to_get_one(arch)
        )));
    }
    Ok(())
}

/// The COFF machine field of a PE image, when the headers are complete.
fn pe_machine(bytes: &[u8]) -> Option<u16> {
    let pe = u32::from_le_bytes(bytes.get(0x3C..0x40)?.try_into().ok()?) as usize;
    if bytes.get(pe..pe + 4)? != b"PE\0\0" {
        return None;
    }
    Some(u16::from_le_bytes(
        bytes.get(pe + 4..pe + 6)?.try_into().ok()?,
    ))
}

/// A minimal PE header for `arch` followed by `payload`: enough for
/// [`check`], for tests and fixtures that need no real iPXE.
pub fn fake_binary(arch: EfiArch, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 0x80];
    b[..2].copy_from_slice(b"MZ");
    b[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    b[0x40..0x44].copy_from_slice(b"PE\0\0");
    let machine: u16 = match arch {
        EfiArch::X64 => 0x8664,
        EfiArch::Aa64 => 0xAA64,
    };
    b[0x44..0x46].copy_from_slice(&machine.to_le_bytes());
    b.extend_from_slice(payload);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_autoexec_capable_binaries_only() {
        let p = Path::new("ipxe.efi");
        let good = fake_binary(EfiArch::X64, b"...autoexec.ipxe...");
        check(p, &good, EfiArch::X64).unwrap();
        let e = check(p, &good, EfiArch::Aa64).unwrap_err().to_string();
        assert!(e.contains("another CPU"), "{e}");
        let old = fake_binary(EfiArch::X64, b"iPXE 1.0.0+ (2019)");
        let e = check(p, &old, EfiArch::X64).unwrap_err().to_string();
        assert!(e.contains("cannot run autoexec.ipxe"), "{e}");
        assert!(
            e.contains("cargo xtask ipxe") && e.contains("--ipxe-efi"),
            "{e}"
        );
        let e = check(p, b"#!/bin/sh autoexec.ipxe", EfiArch::X64)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an EFI executable"), "{e}");
    }

    #[test]
    fn a_nix_profile_binary_is_found_and_an_absent_one_explained() {
        let home = tempfile::tempdir().unwrap();
        if !well_known_paths(EfiArch::Aa64, None)
            .iter()
            .any(|p| p.exists())
        {
            let e = load(None, EfiArch::Aa64, Some(home.path()))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("no iPXE EFI binary found") && e.contains("ipxe-arm64.efi"),
                "{e}"
            );
        }
        if well_known_paths(EfiArch::X64, None)
            .iter()
            .any(|p| p.exists())
        {
            return; // this machine has a system iPXE, which would be found first
        }
        std::fs::create_dir(home.path().join(".nix-profile")).unwrap();
        let bin = fake_binary(EfiArch::X64, b"autoexec.ipxe");
        std::fs::write(home.path().join(".nix-profile/ipxe.efi"), &bin).unwrap();
        let (path, bytes) = load(None, EfiArch::X64, Some(home.path())).unwrap();
        assert!(path.ends_with(".nix-profile/ipxe.efi"));
        assert_eq!(bytes, bin);
    }

    #[test]
    fn explicit_path_that_is_missing_explains_itself() {
        let e = load(Some(Path::new("/nonexistent/ipxe.efi")), EfiArch::X64, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/ipxe.efi") && e.contains("nix run .#build-stick"),
            "{e}"
        );
    }
}
