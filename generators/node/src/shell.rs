//! Quoting for POSIX `sh`: the one quoter for everything ephemeros writes
//! for a shell to read (`reproduce.sh`, the commands `--print-command`
//! shows, commands the tests run over SSH).

/// `value` as one sh word. Words made only of characters no shell treats
/// specially stay as they are; anything else goes in single quotes, where
/// nothing is special except `'` itself, written as `'\''`.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_survive_a_real_shell() {
        let values = [
            "",
            "plain",
            "it's",
            "a b",
            "$x `id` \\ \"q\"",
            "--flag=x y",
            "tab\there",
            "ünï",
            "new\nline",
            "~user",
            "a*b?[c]",
            "#comment",
        ];
        let script: String = values
            .iter()
            .map(|v| format!("printf '%s|' {}\n", quote(v)))
            .collect();
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("sh runs");
        assert!(out.status.success());
        let expected: String = values.iter().map(|v| format!("{v}|")).collect();
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }

    #[test]
    fn plain_words_stay_plain() {
        assert_eq!(quote("--accel=tcg"), "--accel=tcg");
        assert_eq!(quote("/a/b.img"), "/a/b.img");
        assert_eq!(quote("a b"), "'a b'");
    }
}
