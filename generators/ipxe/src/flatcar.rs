//! Where a node downloads Flatcar from.
//!
//! Flatcar publishes each channel on its own server,
//! `https://<channel>.release.flatcar-linux.net/<arch>-usr/<release>/`, with
//! `current` pointing at the newest release of the channel. A PXE boot needs
//! two files from that directory.

use crate::{BootSettings, Channel, Error};

/// The PXE kernel (an EFI-stub bzImage on amd64, an EFI `Image` on arm64).
pub const KERNEL_FILE: &str = "flatcar_production_pxe.vmlinuz";
/// The PXE initramfs holding the whole `/usr` image.
pub const INITRD_FILE: &str = "flatcar_production_pxe_image.cpio.gz";

/// Checks a release for a channel: `current`, a version `MAJOR.MINOR.PATCH`
/// of decimal numbers as Flatcar numbers its releases (e.g. `4230.2.3`), or,
/// on the LTS channel, `current-YYYY`: the newest release of one yearly LTS
/// stream (flatcar/init bin/flatcar-install: "current-2022 for the LTS 2022
/// stream"), so that a fleet stays on a stream instead of moving to the next.
pub fn validate_release(release: &str, channel: Channel) -> Result<(), Error> {
    if release == "current" {
        return Ok(());
    }
    if let Some(year) = release.strip_prefix("current-") {
        let is_year = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
        return match (is_year, channel) {
            (true, Channel::Lts) => Ok(()),
            (true, _) => Err(Error::invalid(
                "Flatcar release",
                release,
                format!(
                    "`current-YYYY` names an LTS stream; the {} channel has `current` \
                     or a version (use --channel lts for an LTS stream)",
                    channel.as_str()
                ),
            )),
            (false, _) => Err(Error::invalid(
                "Flatcar release",
                release,
                "expected `current-YYYY` with a four-digit year, e.g. current-2024",
            )),
        };
    }
    let parts: Vec<&str> = release.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() == 3 && parts.iter().all(numeric) {
        Ok(())
    } else {
        Err(Error::invalid(
            "Flatcar release",
            release,
            "expected `current`, a version such as 4230.2.3, or on the LTS channel current-YYYY",
        ))
    }
}

/// Checks a user-given base URL and returns it with exactly one trailing `/`,
/// ready for a file name to be appended.
///
/// It is written into the script as part of the `kernel`/`initrd` URI token,
/// so it may hold no whitespace (iPXE splits there), no `${` (iPXE expands
/// settings), nothing but printable ASCII, and no `?`/`#` (a file name
/// appended after a query or fragment would not name the file).
pub fn normalize_base_url(url: &str) -> Result<String, Error> {
    const WHAT: &str = "base URL";
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    if !scheme_ok {
        return Err(Error::invalid(
            WHAT,
            url,
            "must start with http:// or https://",
        ));
    }
    if let Some(c) = url.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(Error::invalid(
            WHAT,
            url,
            format!("contains {c:?}; only printable ASCII without spaces can be written into the script (percent-encode the rest)"),
        ));
    }
    if url.contains("${") {
        return Err(Error::invalid(
            WHAT,
            url,
            "contains `${`, which iPXE would expand as a setting",
        ));
    }
    if let Some(c) = url.chars().find(|c| matches!(c, '?' | '#')) {
        return Err(Error::invalid(
            WHAT,
            url,
            format!("contains {c:?}; the file names are appended to the base URL, which must be a plain directory URL"),
        ));
    }
    let host_and_path = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    if host_and_path.is_empty() || host_and_path.starts_with('/') {
        return Err(Error::invalid(WHAT, url, "has no host"));
    }
    Ok(format!("{}/", url.trim_end_matches('/')))
}

/// The directory the kernel and initrd are fetched from, ending in `/`.
pub fn base_url(settings: &BootSettings) -> Result<String, Error> {
    validate_release(&settings.release, settings.channel)?;
    match &settings.base_url {
        Some(url) => normalize_base_url(url),
        None => Ok(format!(
            "https://{}.release.flatcar-linux.net/{}/{}/",
            settings.channel.as_str(),
            settings.arch.flatcar_dir(),
            settings.release
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Arch;

    #[test]
    fn default_base_url_follows_channel_arch_and_release() {
        let mut s = BootSettings::default();
        assert_eq!(
            base_url(&s).unwrap(),
            "https://stable.release.flatcar-linux.net/amd64-usr/current/"
        );
        s.channel = Channel::Lts;
        s.arch = Arch::Arm64;
        s.release = "4081.3.6".into();
        assert_eq!(
            base_url(&s).unwrap(),
            "https://lts.release.flatcar-linux.net/arm64-usr/4081.3.6/"
        );
        s.release = "current-2024".into();
        assert_eq!(
            base_url(&s).unwrap(),
            "https://lts.release.flatcar-linux.net/arm64-usr/current-2024/"
        );
    }

    #[test]
    fn releases() {
        for channel in [Channel::Stable, Channel::Beta, Channel::Alpha, Channel::Lts] {
            for ok in ["current", "4230.2.3", "0.0.0", "3975.2.2"] {
                validate_release(ok, channel).unwrap();
            }
        }
        validate_release("current-2024", Channel::Lts).unwrap();
        let err = validate_release("current-2024", Channel::Stable)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--channel lts"), "{err}");
        for bad in ["current-", "current-24", "current-20245", "current-latest"] {
            let err = validate_release(bad, Channel::Lts).unwrap_err().to_string();
            assert!(err.contains("four-digit year"), "{bad}: {err}");
        }
        for bad in [
            "",
            "latest",
            "4230.2",
            "4230.2.3.1",
            "v4230.2.3",
            "4230..3",
            "4230.2.x",
            "../x",
        ] {
            let err = validate_release(bad, Channel::Lts).unwrap_err().to_string();
            assert!(err.contains("Flatcar release"), "{err}");
        }
    }

    #[test]
    fn base_url_override_is_normalised_and_checked() {
        assert_eq!(
            normalize_base_url("http://10.0.2.2:8080/flatcar").unwrap(),
            "http://10.0.2.2:8080/flatcar/"
        );
        assert_eq!(
            normalize_base_url("https://m.example/x//").unwrap(),
            "https://m.example/x/"
        );
        for bad in [
            "ftp://x/",
            "http://x/a b/",
            "http://x/${net0/ip}/",
            "http://x/?a=1",
            "http://x/#f",
            "http:///x",
            "http://x/\u{e9}/",
        ] {
            let err = normalize_base_url(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid base URL"), "{err}");
        }
    }
}
