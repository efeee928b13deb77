use super::*;

fn messages(script: &str) -> Vec<String> {
    check_structure(script)
        .into_iter()
        .map(|p| p.to_string())
        .collect()
}

const GOOD: &str = "#!ipxe\n:retry\ndhcp || goto retry\nkernel http://x/k a=1 b=\"c d\" || goto fail\nboot || goto fail\n:fail\nreboot || exit 1\n";

#[test]
fn a_well_formed_script_passes() {
    assert_eq!(messages(GOOD), Vec::<String>::new());
    assert_eq!(
        kernel_command_lines(GOOD),
        vec![(4, "a=1 b=\"c d\"".to_string())]
    );
}

#[test]
fn missing_shebang_is_reported() {
    let m = messages(&GOOD.replacen("#!ipxe", "#!ipxe2", 1));
    assert!(m.iter().any(|m| m.contains("#!ipxe")), "{m:?}");
}

#[test]
fn goto_without_label_is_reported() {
    let m = messages(&GOOD.replace(":fail", ":failed"));
    assert!(
        m.iter().any(|m| m.contains("goto fail: there is no label")),
        "{m:?}"
    );
}

#[test]
fn shell_is_reported() {
    let m = messages(&GOOD.replace("reboot || exit 1", "shell || exit 1"));
    assert!(
        m.iter().any(|m| m.contains("`shell` waits for a person")),
        "{m:?}"
    );
}

#[test]
fn unguarded_command_is_reported() {
    let m = messages(&GOOD.replace("dhcp || goto retry", "dhcp"));
    assert!(
        m.iter()
            .any(|m| m.starts_with("line 3: `dhcp` has no `|| …`")),
        "{m:?}"
    );
    // `a && b || c` guards both a and b.
    let m = messages(&GOOD.replace("dhcp || goto retry", "dhcp && sleep 1 || goto retry"));
    assert_eq!(m, Vec::<String>::new());
}

#[test]
fn running_off_the_end_is_reported() {
    let m = messages(&GOOD.replace("reboot || exit 1", "reboot || echo bye"));
    assert!(m.iter().any(|m| m.contains("run past its end")), "{m:?}");
}

#[test]
fn comments_and_continuations_are_read_like_ipxe() {
    // A word starting with '#' ends the command: the goto is never seen.
    let script = GOOD.replace("dhcp || goto retry", "dhcp #x || goto nowhere");
    let m = messages(&script);
    assert!(
        m.iter().any(|m| m.starts_with("line 3: `dhcp` has no")),
        "{m:?}"
    );
    assert!(!m.iter().any(|m| m.contains("nowhere")), "{m:?}");
    let m = messages(&GOOD.replace("goto retry", "goto retry \\"));
    assert!(
        m.iter().any(|m| m.contains("joins with the next line")),
        "{m:?}"
    );
}

#[test]
fn duplicate_labels_are_reported() {
    let m = messages(&GOOD.replace(":fail", ":retry"));
    assert!(
        m.iter().any(|m| m.contains("also defined on line 2")),
        "{m:?}"
    );
}
