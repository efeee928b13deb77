//! User templates: rendering, and errors that name the template and line.

use ephemeros_ipxe::{lint, BootSettings, Error, Template, GIVE_UP};

fn settings() -> BootSettings {
    BootSettings {
        ignition_url: "https://example.com/ignition.ign".into(),
        ..BootSettings::default()
    }
}

#[test]
fn a_user_template_renders_with_the_documented_context() {
    let source = "#!ipxe\n:retry\ndhcp || goto retry\n\
        kernel {{ kernel_url }} {{ kernel_args }} || goto fail\n\
        initrd {{ initrd_url }} || goto fail\nboot || goto fail\n:fail\n{{ on_failure }} || exit 1\n";
    let t = Template::from_source("mine.ipxe.j2", source).unwrap();
    let script = t.render(&settings()).unwrap();
    assert!(script.contains("kernel https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_pxe.vmlinuz initrd="));
    assert!(script.ends_with("reboot || exit 1\n"));
    assert_eq!(lint::check_rendered(&script, &settings()).unwrap(), vec![]);
}

#[test]
fn lint_flags_a_user_template_that_would_hang() {
    let source = "#!ipxe\ndhcp\nkernel {{ kernel_url }} || goto nowhere\nboot || shell\n";
    let script = Template::from_source("bad.j2", source)
        .unwrap()
        .render(&settings())
        .unwrap();
    let problems: Vec<String> = lint::check_rendered(&script, &settings())
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    for expected in [
        "line 2: `dhcp` has no `|| …`",
        "line 3: goto nowhere: there is no label `:nowhere`",
        "line 4: `shell` waits for a person",
        "line 3: kernel arguments \"\" differ from the expected",
        "run past its end",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{expected}: {problems:#?}"
        );
    }
}

#[test]
fn syntax_errors_name_template_and_line() {
    let err = Template::from_source("mine.ipxe.j2", "#!ipxe\necho ok\n{% if %}\n").unwrap_err();
    match &err {
        Error::Template { name, line, .. } => {
            assert_eq!(name, "mine.ipxe.j2");
            assert_eq!(*line, Some(3));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("template mine.ipxe.j2, line 3: syntax error"),
        "{err}"
    );
}

#[test]
fn unknown_variables_name_template_and_line() {
    let t = Template::from_source("mine.ipxe.j2", "#!ipxe\n\necho {{ kernel_urll }}\n").unwrap();
    let err = t.render(&settings()).unwrap_err().to_string();
    assert!(
        err.starts_with("template mine.ipxe.j2, line 3: undefined value"),
        "{err}"
    );
}

#[test]
fn template_files_are_read_and_named_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boot.j2");
    std::fs::write(&path, "#!ipxe\n{{ 1 + }}\n").unwrap();
    let err = Template::from_file(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("template {}, line 2:", path.display())),
        "{err}"
    );

    let missing = dir.path().join("missing.j2");
    let err = Template::from_file(&missing).unwrap_err().to_string();
    assert!(
        err.contains("cannot read template") && err.contains("missing.j2"),
        "{err}"
    );
}

#[test]
fn invalid_settings_fail_before_rendering() {
    let mut s = settings();
    s.ssh_key = Some("ssh-ed25519 AAAA \"x\"".into());
    let err = Template::builtin().render(&s).unwrap_err().to_string();
    assert!(err.starts_with("invalid SSH public key"), "{err}");
    s.ssh_key = None;
    s.dhcp_attempts = 0;
    let err = Template::builtin().render(&s).unwrap_err().to_string();
    assert!(err.contains("number of DHCP attempts"), "{err}");
}

#[test]
fn lint_flags_an_initrd_the_kernel_cannot_find() {
    let source = "#!ipxe\nkernel {{ kernel_url }} {{ kernel_args }} || goto fail\n\
        initrd {{ base_url }}other.cpio.gz || goto fail\nboot || goto fail\n:fail\nreboot || exit 1\n";
    let script = Template::from_source("t.j2", source)
        .unwrap()
        .render(&settings())
        .unwrap();
    let problems = lint::check_rendered(&script, &settings()).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .message
            .contains("initrd=flatcar_production_pxe_image.cpio.gz"),
        "{problems:?}"
    );

    // Renaming it with --name satisfies the kernel.
    let renamed = source.replace(
        "initrd {{",
        "initrd --name flatcar_production_pxe_image.cpio.gz {{",
    );
    let script = Template::from_source("t.j2", renamed)
        .unwrap()
        .render(&settings())
        .unwrap();
    assert_eq!(lint::check_rendered(&script, &settings()).unwrap(), vec![]);
}

#[test]
fn every_way_the_builtin_script_gives_up_says_so_with_the_marker() {
    let script = Template::builtin().render(&settings()).unwrap();
    let lines: Vec<&str> = script.lines().collect();
    let labels: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with(":give_up_") && lines[i] != ":give_up_now")
        .collect();
    assert_eq!(labels.len(), 3, "dhcp, download, boot: {labels:?}");
    for i in labels {
        let said = lines[i + 1];
        assert!(
            said.starts_with(&format!("echo {GIVE_UP} ")),
            "{}: {said}",
            lines[i]
        );
    }
}
