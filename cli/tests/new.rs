//! `micro new` makes a crate that builds and passes its own test as generated.

mod support;

use std::path::Path;
use std::process::Command;

use support::{assert_golden, ok};

#[test]
fn new_service_builds_and_passes_its_test() {
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("order-service");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let output = support::run(
        Command::new(support::MICRO)
            .args(["new", "order-service", "--micro-path"])
            .arg(repo)
            .arg("--dir")
            .arg(&crate_dir),
        None,
    );
    // With no --micro-path, the crate depends on the checkout `micro` was built from.
    let printed = ok(&output).replace(&crate_dir.display().to_string(), "DIR");
    assert_golden("new.txt", &printed);
    for file in [
        "Cargo.toml",
        "build.rs",
        "proto/order-service.proto",
        "src/lib.rs",
        "src/main.rs",
        "tests/order-service.rs",
        "README.md",
    ] {
        assert!(crate_dir.join(file).is_file(), "{file} was not made");
    }

    // The same dependency versions as this workspace, already built in its target directory.
    std::fs::copy(repo.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    let tested = Command::new(env!("CARGO"))
        .args(["test", "--offline", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&tested.stdout);
    let stderr = String::from_utf8_lossy(&tested.stderr);
    assert!(
        tested.status.success(),
        "the new crate's tests fail:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "its test did not run:\n{stdout}"
    );

    // The directory is not overwritten.
    let again = support::run(
        Command::new(support::MICRO)
            .args(["new", "order-service", "--dir"])
            .arg(&crate_dir),
        None,
    );
    assert!(support::failed(&again).contains("already exists"));
    let bad = support::run(Command::new(support::MICRO).args(["new", "Bad_Name"]), None);
    assert!(support::failed(&bad).contains("not a valid service name"));
}
