//! An HTTPS mirror stays HTTPS: iPXE verifies the server or refuses it, and
//! the script must not turn that refusal into a plain-HTTP download. Every
//! fetch of the built-in script uses exactly the base URL given, on every
//! attempt, and no `http://` URL is anywhere in it (the e2e shows the same
//! against a server whose certificate iPXE cannot verify).

use ephemeros_ipxe::{render, BootSettings};

fn fetched_urls(script: &str) -> Vec<&str> {
    script
        .lines()
        .filter(|l| l.starts_with("kernel ") || l.starts_with("initrd "))
        // `kernel --timeout MS URL args…`
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect()
}

#[test]
fn every_download_attempt_uses_the_https_url_given() {
    for (base, want) in [
        (
            Some("https://mirror.example:8443/flatcar"),
            "https://mirror.example:8443/flatcar/",
        ),
        (
            None,
            "https://stable.release.flatcar-linux.net/amd64-usr/current/",
        ),
    ] {
        let settings = BootSettings {
            base_url: base.map(str::to_owned),
            ignition_url: "https://example.com/ignition.ign".into(),
            download_attempts: 3,
            ..BootSettings::default()
        };
        let script = render(&settings).unwrap();
        let urls = fetched_urls(&script);
        assert_eq!(urls.len(), 6, "{script}");
        for url in &urls {
            assert!(url.starts_with(want), "{url} in\n{script}");
        }
        assert!(!script.contains("http://"), "{script}");
    }
}
