//! Connect-ES (npm `@connectrpc/connect-node`, a third-party implementation) calls the streaming
//! example over Connect (JSON and binary), gRPC-Web (binary and JSON) and gRPC, from code that
//! `buf generate` produced with `@bufbuild/protoc-gen-es`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Example;

/// The `node_modules` directory scripts/test.sh fills, if the tools are there.
fn node_modules() -> Option<PathBuf> {
    let dir = std::env::var_os("MICRO_TEST_NODE_MODULES").map(PathBuf::from);
    let dir = dir.filter(|dir| dir.join("@connectrpc/connect-node").is_dir());
    if dir.is_none() {
        assert!(
            std::env::var_os("MICRO_TEST_REQUIRE_TOOLS").is_none(),
            "MICRO_TEST_NODE_MODULES must hold @connectrpc/connect-node (scripts/test.sh installs it)"
        );
        eprintln!("SKIPPED: set MICRO_TEST_NODE_MODULES or run scripts/test.sh");
    }
    dir
}

/// Generates JS for the example protos into `work/gen` and puts the client script beside it.
fn prepare(work: &Path, modules: &Path) {
    std::os::unix::fs::symlink(modules, work.join("node_modules")).unwrap();
    let template = format!(
        "version: v2\nplugins:\n  - local: {}\n    out: gen\n    opt: target=js\n",
        modules.join(".bin/protoc-gen-es").display()
    );
    std::fs::write(work.join("buf.gen.yaml"), template).unwrap();
    let output = Command::new(modules.join(".bin/buf"))
        .current_dir(work)
        .env("BUF_CACHE_DIR", work.join("cache"))
        .arg("generate")
        .arg(support::proto_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "buf generate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let script = Path::new(&manifest_dir()).join("tests/interop/connect_client.mjs");
    std::fs::copy(script, work.join("connect_client.mjs")).unwrap();
}

#[test]
fn connect_es_calls_over_connect_grpc_web_and_grpc() {
    let Some(modules) = node_modules() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    prepare(work.path(), &modules);
    let server = Example::start(env!("CARGO_BIN_EXE_streaming"), &[]);
    let output = Command::new("node")
        .current_dir(work.path())
        .arg("connect_client.mjs")
        .arg(server.url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut expected = Vec::new();
    for transport in [
        "connect-json-http1",
        "connect-binary-http2",
        "grpc-web-binary",
        "grpc-web-json",
        "grpc",
    ] {
        expected.push(format!("{transport} unary ok"));
        expected.push(format!("{transport} server-streaming ok"));
    }
    for transport in ["connect-binary-http2", "grpc"] {
        for check in ["client-streaming", "bidi", "errors"] {
            expected.push(format!("{transport} {check} ok"));
        }
    }
    for line in expected {
        assert!(
            stdout.lines().any(|l| l == line),
            "`{line}` missing from:\n{stdout}"
        );
    }
}

/// The package's directory, read when the test runs: a path compiled in goes stale when a
/// cached target dir outlives the checkout that built it (cargo does not rebuild for a move).
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("cargo sets CARGO_MANIFEST_DIR when it runs tests")
        .into()
}
