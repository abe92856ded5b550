//! What the tests that run protoc and buf share.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn tests_dir() -> PathBuf {
    Path::new(&manifest_dir()).join("tests")
}

/// The tool named by `env`, else found on PATH; `None` (with a note) if absent and optional.
pub(crate) fn tool(env: &str, name: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env).map(PathBuf::from).or_else(|| {
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {name}"))
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
    });
    if path.is_none() {
        assert!(
            std::env::var_os("MICRO_TEST_REQUIRE_TOOLS").is_none(),
            "{name} is required (MICRO_TEST_REQUIRE_TOOLS is set) but neither {env} nor PATH has it"
        );
        eprintln!("SKIPPED: {name} not found; set {env} or run scripts/test.sh");
    }
    path
}

/// The package's directory, read when the test runs: a path compiled in goes stale when a
/// cached target dir outlives the checkout that built it (cargo does not rebuild for a move).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("cargo sets CARGO_MANIFEST_DIR when it runs tests")
        .into()
}
