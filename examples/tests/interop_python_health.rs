//! Python grpcio's health client (grpcio-health-checking) against the helloworld example:
//! `Check` answers `SERVING` for the overall service and each of its names, `NOT_FOUND` for
//! others, and a `Watch` sees `SERVING`, then `NOT_SERVING` when SIGTERM stops the example,
//! which still exits 0.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::Example;

#[test]
fn python_grpcio_health_checks_and_watches_until_sigterm() {
    let Some(python) = support::python_with_grpc() else {
        return;
    };
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &[]);
    server.wait_ready(Duration::from_secs(20));
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/health_watch.py");
    let mut client = Command::new(python)
        .arg(script)
        .args(["--address", &server.addr.to_string()])
        .args([
            "--service",
            "helloworld",
            "--service",
            "helloworld.Helloworld",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line == "watching serving" || line.starts_with("FAILED") {
            break;
        }
    }
    assert_eq!(
        seen.last().map(String::as_str),
        Some("watching serving"),
        "{seen:?}"
    );
    let exit = server.terminate();
    assert_eq!(exit.code(), Some(0), "the example exits 0 on SIGTERM");
    seen.extend(lines.map_while(Result::ok));
    let status = client.wait().unwrap();
    assert!(status.success(), "python client failed: {seen:?}");
    for step in ["check ok", "unknown ok", "watch ok"] {
        assert!(
            seen.iter().any(|line| line == step),
            "`{step}` missing: {seen:?}"
        );
    }
}
