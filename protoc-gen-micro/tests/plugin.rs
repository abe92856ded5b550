//! The binary as a real plugin: driven by protoc and by `buf generate`, it must write exactly
//! the golden files, and report bad input in the response rather than crash.
//!
//! protoc and buf come from `scripts/test.sh` (`MICRO_TEST_PROTOC`, `MICRO_TEST_BUF`); without
//! them these tests say they were skipped, unless `MICRO_TEST_REQUIRE_TOOLS=1` makes that a
//! failure.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{tests_dir, tool};

use prost::Message;
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-micro");
const SNAPSHOTS: [&str; 6] = [
    "_includes.rs",
    "fixtures.common.rs",
    "fixtures.kitchen.rs",
    "fixtures.orders.rs",
    "fixtures.type.rs",
    "fixtures.types.rs",
];

/// The fixtures, as `protoc` takes them; `buf generate` takes the whole directory.
const FIXTURES: [&str; 5] = [
    "fixtures/types.proto",
    "fixtures/kitchen.proto",
    "fixtures/common/money.proto",
    "fixtures/orders.proto",
    "fixtures/names.proto",
];

fn assert_matches_snapshots(out: &Path) {
    for name in SNAPSHOTS {
        let written = std::fs::read_to_string(out.join(name))
            .unwrap_or_else(|err| panic!("{name} was not written: {err}"));
        let golden = std::fs::read_to_string(tests_dir().join("snapshots").join(name)).unwrap();
        assert!(
            written == golden,
            "{name} differs from tests/snapshots/{name}"
        );
    }
}

#[test]
fn protoc_writes_the_golden_files() {
    let Some(protoc) = tool("MICRO_TEST_PROTOC", "protoc") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(protoc)
        .arg(format!("--plugin=protoc-gen-micro={PLUGIN}"))
        .arg(format!("--micro_out={}", out.path().display()))
        .arg("--micro_opt=include_file=_includes.rs")
        .arg("-I")
        .arg(tests_dir().join("fixtures"))
        .args(FIXTURES)
        .status()
        .unwrap();
    assert!(status.success());
    assert_matches_snapshots(out.path());
}

#[test]
fn protoc_reports_a_bad_option_and_fails() {
    let Some(protoc) = tool("MICRO_TEST_PROTOC", "protoc") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(protoc)
        .arg(format!("--plugin=protoc-gen-micro={PLUGIN}"))
        .arg(format!("--micro_out={}", out.path().display()))
        .arg("--micro_opt=no_clients")
        .arg("-I")
        .arg(tests_dir().join("fixtures"))
        .arg("fixtures/kitchen.proto")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown option `no_clients`"), "{stderr}");
}

#[test]
fn buf_generate_writes_the_golden_files() {
    let Some(buf) = tool("MICRO_TEST_BUF", "buf") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let template = work.path().join("buf.gen.yaml");
    std::fs::write(
        &template,
        format!(
            "version: v2\nplugins:\n  - local: {PLUGIN}\n    out: out\n    opt: include_file=_includes.rs\n    strategy: all\n"
        ),
    )
    .unwrap();
    let output = Command::new(buf)
        .current_dir(work.path())
        .env("BUF_CACHE_DIR", work.path().join("cache"))
        .arg("generate")
        .arg(tests_dir().join("fixtures"))
        .arg("--template")
        .arg(&template)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "buf failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_matches_snapshots(&work.path().join("out"));
}

/// Runs the plugin binary with `stdin` and decodes what it answers.
fn run_binary(stdin: &[u8]) -> CodeGeneratorResponse {
    let mut child = Command::new(PLUGIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the plugin must exit 0 even when it reports an error"
    );
    CodeGeneratorResponse::decode(output.stdout.as_slice()).unwrap()
}

#[test]
fn garbage_on_stdin_is_reported_in_the_response() {
    let response = run_binary(b"\xff\xff\xff not a request");
    let error = response.error.unwrap();
    assert!(error.contains("malformed CodeGeneratorRequest"), "{error}");
    assert!(response.file.is_empty());
}

#[test]
fn the_response_declares_proto3_optional_support() {
    let request = CodeGeneratorRequest {
        file_to_generate: vec![],
        ..Default::default()
    };
    let response = run_binary(&request.encode_to_vec());
    assert_eq!(response.error, None);
    assert_eq!(response.supported_features, Some(1));
}

#[test]
fn a_file_missing_from_the_request_is_reported() {
    let request = CodeGeneratorRequest {
        file_to_generate: vec!["ghost.proto".into()],
        ..Default::default()
    };
    let error = run_binary(&request.encode_to_vec()).error.unwrap();
    assert!(
        error.contains("`ghost.proto` is not in the request"),
        "{error}"
    );
}

#[test]
fn an_invalid_attribute_option_is_an_error_not_a_crash() {
    let set = protox::Compiler::new([tests_dir().join("fixtures")])
        .unwrap()
        .include_imports(true)
        .open_files(["fixtures/kitchen.proto"])
        .unwrap()
        .file_descriptor_set();
    let request = CodeGeneratorRequest {
        file_to_generate: vec!["fixtures/kitchen.proto".into()],
        parameter: Some("type_attribute=.fixtures.kitchen.GetRequest=#[derive(".into()),
        proto_file: set.file,
        ..Default::default()
    };
    let error = run_binary(&request.encode_to_vec()).error.unwrap();
    assert!(
        error.contains("`#[derive(` is not a Rust attribute"),
        "{error}"
    );
}
