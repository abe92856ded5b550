//! Python's grpcio (a third-party implementation) calls the streaming example from stubs it
//! generates itself, checks health, and lists services through reflection.

mod support;

use std::process::Command;

use support::Example;

#[test]
fn python_grpcio_calls_all_four_kinds_checks_health_and_reflects() {
    let Some(python) = support::python_with_grpc() else {
        return;
    };
    let server = Example::start(env!("CARGO_BIN_EXE_streaming"), &[]);
    // Health says SERVING only once the example is registered.
    server.wait_ready(std::time::Duration::from_secs(20));
    let stubs = tempfile::tempdir().unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/grpc_client.py");
    let output = Command::new(python)
        .arg(script)
        .args(["--address", &server.addr.to_string()])
        .args(["--proto-dir", &support::proto_dir().display().to_string()])
        .args(["--stubs-dir", &stubs.path().display().to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    for check in [
        "unary ok",
        "server-streaming ok",
        "client-streaming ok",
        "bidi ok",
        "errors ok",
        "health ok",
        "reflection ok",
    ] {
        assert!(
            stdout.lines().any(|line| line == check),
            "`{check}` missing from:\n{stdout}"
        );
    }
}
