//! `micro <name>` runs a `micro-<name>` plugin from PATH, as go-micro's CLI does.

mod support;

use std::process::Command;

use support::ok;

#[test]
fn unknown_commands_run_micro_plugins_from_path() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("micro-hello");
    std::fs::write(&plugin, "#!/bin/sh\necho \"hello from a plugin: $*\"\n").unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let output = support::run(
        Command::new(support::MICRO)
            .args(["hello", "a", "--b"])
            .env("PATH", &path),
        None,
    );
    assert_eq!(ok(&output), "hello from a plugin: a --b\n");

    // Neither a plugin nor a service (in an in-process registry: no mDNS from tests).
    let missing = support::run(
        Command::new(support::MICRO)
            .args(["--registry", "memory", "nosuch"])
            .env("PATH", &path),
        None,
    );
    let stderr = support::failed(&missing);
    assert!(
        stderr.contains("unknown command `nosuch`") && stderr.contains("micro-nosuch"),
        "{stderr}"
    );
}
