//! Keeping secret values out of argument-parser errors.
//!
//! clap quotes the offending word back (`invalid value 'K3S-TOKEN=…'`,
//! `unexpected argument 'K3S_TOKEN=…' found`). Values of build-stick's
//! settings can be secrets (tokens, datastore passwords, heartbeat URLs), so
//! before such an error is printed every value-like part of the command line
//! is replaced by `<hidden>`: the value after a setting flag, and whatever
//! follows a `=` in any word (values of at least three characters).

use std::ffi::OsString;

/// Flags whose values can be secret.
const SECRET_FLAGS: [&str; 4] = [
    "--k3s",
    "--heartbeat-url",
    "--logexport-host",
    "--logexport-port",
];

/// Shorter words are left alone.
const MIN_SECRET_LEN: usize = 3;

/// What replaces a hidden value.
pub const HIDDEN: &str = "<hidden>";

/// Words of the command line that may be secret values, longest first.
pub fn secret_words(args: &[OsString]) -> Vec<String> {
    let mut out = Vec::new();
    let mut after_secret_flag = false;
    for arg in args {
        let arg = arg.to_string_lossy().into_owned();
        // --k3s takes NAME=VALUE: its value part is taken below, so that
        // the message can still say which name was wrong.
        if after_secret_flag {
            out.push(arg.clone());
        }
        after_secret_flag = SECRET_FLAGS.contains(&arg.as_str()) && arg != "--k3s";
        // `--k3s=K3S_TOKEN=x`, `K3S_TOKEN=x`: everything after each `=`.
        let mut rest = arg.as_str();
        while let Some((_, value)) = rest.split_once('=') {
            out.push(value.to_owned());
            rest = value;
        }
    }
    // A value of one or two characters is no secret worth the name, and
    // hiding it would blank out letters all over the message.
    out.retain(|w| w.chars().count() >= MIN_SECRET_LEN);
    out.sort_by_key(|w| std::cmp::Reverse(w.len()));
    out.dedup();
    out
}

/// `text` with every occurrence of the words replaced by [`HIDDEN`].
pub fn redact(text: &str, words: &[String]) -> String {
    let mut text = text.to_owned();
    for word in words {
        text = text.replace(word.as_str(), HIDDEN);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn values_after_flags_and_equals_signs_are_hidden() {
        let words = secret_words(&args(&[
            "ephemeros",
            "build-stick",
            "--k3s",
            "K3S-TOKEN=tok-s3cr3t",
            "--heartbeat-url",
            "https://hc/uuid-s3cr3t",
            "--k3s=K3S_DATASTORE_ENDPOINT=postgres://u:pw-s3cr3t@db",
            "K3S_TOKEN=stray-s3cr3t",
            "stick.img",
        ]));
        let message = "error: invalid value 'K3S-TOKEN=tok-s3cr3t' for '--k3s'; \
                       'https://hc/uuid-s3cr3t' 'postgres://u:pw-s3cr3t@db' \
                       unexpected argument 'K3S_TOKEN=stray-s3cr3t' found; stick.img";
        let shown = redact(message, &words);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("K3S-TOKEN=<hidden>"), "{shown}");
        assert!(
            shown.contains("'--k3s'") && shown.contains("stick.img"),
            "{shown}"
        );
    }
}
