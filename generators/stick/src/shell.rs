//! Quoting for POSIX `sh`.

/// `value` as one sh word: in single quotes, where nothing is special
/// except `'` itself, written as `'\''`.
pub fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b))
    {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
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
        ];
        let script: String = values
            .iter()
            .map(|v| format!("printf '%s|' {}\n", quote(v)))
            .collect();
        let out = match std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
        {
            Ok(out) => out,
            Err(_) if std::env::var_os("CI").is_none() => return eprintln!("SKIPPED: no sh"),
            Err(e) => panic!("sh: {e}"),
        };
        let want: String = values.iter().map(|v| format!("{v}|")).collect();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
    }
}
