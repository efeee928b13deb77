//! Golden tests: every `tests/fixtures/ok/*.bu` translates to the Ignition
//! JSON in the `.ign` beside it (pretty, warnings in `.warn`); every
//! `tests/fixtures/err/*.bu` is rejected with the one-line diagnostics in
//! the `.err` beside it. `local`/trees read from `tests/fixtures/files`.
//! Set `UPDATE_GOLDEN=1` to rewrite expectations (then review the diff).

use std::path::{Path, PathBuf};

use ephemeros_butane::{render, source_text, translate, Format, Options};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn options() -> Options {
    Options {
        // Relative, as users pass it, so messages naming files are stable.
        files_dir: Some(PathBuf::from("tests/fixtures/files")),
        pretty: true,
    }
}

fn inputs(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bu"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixtures in {dir}");
    v
}

fn check(expected_path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        if actual.is_empty() {
            let _ = std::fs::remove_file(expected_path);
        } else {
            std::fs::write(expected_path, actual).unwrap();
        }
        return;
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
            expected_path.display()
        ));
    }
}

#[test]
fn valid_configs_translate_to_their_golden_output() {
    let mut failures = Vec::new();
    for bu in inputs("ok") {
        let name = bu.file_name().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read(&bu).unwrap();
        match translate(&src, &options()) {
            Ok(t) => {
                check(
                    &bu.with_extension("ign"),
                    &format!("{}\n", t.json),
                    &mut failures,
                );
                let text = source_text(&src);
                let warn = render(&t.report, &name, &text, Format::Short);
                check(&bu.with_extension("warn"), &warn, &mut failures);
            }
            Err(e) => failures.push(format!(
                "{name} was rejected:\n{}",
                render(e.report(), &name, &source_text(&src), Format::Short)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_configs_are_rejected_with_positioned_errors() {
    let mut failures = Vec::new();
    for bu in inputs("err") {
        let name = bu.file_name().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read(&bu).unwrap();
        match translate(&src, &options()) {
            Ok(_) => failures.push(format!("{name} was accepted")),
            Err(e) => {
                let text = source_text(&src);
                let out = render(e.report(), &name, &text, Format::Short);
                assert!(
                    e.report().entries.iter().all(|d| d.span.is_some()),
                    "{name}: a diagnostic has no position:\n{out}"
                );
                check(&bu.with_extension("err"), &out, &mut failures);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn output_is_deterministic() {
    for bu in inputs("ok") {
        let src = std::fs::read(&bu).unwrap();
        let a = translate(&src, &options()).unwrap().json;
        let b = translate(&src, &options()).unwrap().json;
        assert_eq!(a, b, "{}", bu.display());
    }
}
