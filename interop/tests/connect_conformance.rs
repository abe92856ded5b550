//! connectrpc.com/conformance's own runner (`connectconformance`, built by
//! `scripts/build-peers.sh`) against micro-rs's server: Connect, gRPC and gRPC-Web, proto and
//! JSON, identity and gzip, every stream type, HTTP/1.1 and HTTP/2, with its reference client.
//! What the server supports is `interop/conformance/config.yaml`; docs/interop.md has the counts.

use std::path::{Path, PathBuf};
use std::process::Command;

use micro_test_support::require_or_skip;

fn runner() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("MICRO_TEST_GO_PEERS") else {
        require_or_skip(
            "MICRO_TEST_GO_PEERS not set; run scripts/test.sh (it builds the Go peers)",
        );
        return None;
    };
    Some(Path::new(&dir).join("connectconformance"))
}

#[test]
fn the_server_passes_every_applicable_case() {
    let Some(runner) = runner() else { return };
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/config.yaml");
    let output = Command::new(&runner)
        .args(["--mode", "server", "--conf"])
        .arg(&config)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_conformance-server"))
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", runner.display()));
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let summary = text
        .lines()
        .find(|line| line.contains(" passed, "))
        .unwrap_or_else(|| panic!("no summary from connectconformance:\n{text}"));
    assert!(
        output.status.success() && summary.ends_with(" 0 failed"),
        "{summary}\n{text}"
    );
    let passed: u32 = summary.split(' ').next().unwrap().parse().unwrap();
    // The v1.0.7 suite has 1900 cases for this configuration; fewer means cases were dropped.
    assert!(passed >= 1900, "only {passed} cases ran: {summary}");
}
