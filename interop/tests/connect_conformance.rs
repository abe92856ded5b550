//! connectrpc.com/conformance's own runner (`connectconformance`, built by
//! `scripts/build-peers.sh`) against micro-rs, with its reference client and server. What
//! micro-rs supports is `interop/conformance/*config.yaml`; docs/interop.md has the counts.

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

fn conformance_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conformance")
        .join(name)
}

/// Runs `connectconformance` with `args` and the program under test; asserts that it passes
/// and ran at least `cases` cases (fewer means cases were dropped).
fn passes(args: &[&str], under_test: &str, cases: u32) {
    let Some(runner) = runner() else { return };
    // One run at a time: the cases time deadlines and cancellations, which two runs sharing
    // a small machine's cores can upset.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let output = Command::new(&runner)
        .args(args)
        .arg("--")
        .arg(under_test)
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
    assert!(passed >= cases, "only {passed} cases passed: {summary}");
}

#[test]
fn the_server_passes_every_applicable_case() {
    let config = conformance_file("config.yaml");
    passes(
        &["--mode", "server", "--conf", config.to_str().unwrap()],
        env!("CARGO_BIN_EXE_conformance-server"),
        1900,
    );
}

#[test]
fn the_client_passes_every_grpc_case_but_the_known_failing() {
    let config = conformance_file("client-config.yaml");
    let known_failing = format!(
        "@{}",
        conformance_file("client-known-failing.txt").display()
    );
    passes(
        &[
            "--mode",
            "client",
            "--conf",
            config.to_str().unwrap(),
            "--known-failing",
            &known_failing,
        ],
        env!("CARGO_BIN_EXE_conformance-client"),
        609,
    );
}
