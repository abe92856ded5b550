//! micro-build writes exactly what the plugin writes, and reports broken protos with a location.

use std::path::{Path, PathBuf};

fn plugin_tests() -> PathBuf {
    Path::new(&manifest_dir()).join("../protoc-gen-micro/tests")
}

/// The plugin's golden files, which micro-build writes from the fixtures that have services:
/// it generates what they import too (`fixtures.types` and `fixtures.common`).
const SNAPSHOTS: [&str; 6] = [
    "_includes.rs",
    "fixtures.common.rs",
    "fixtures.kitchen.rs",
    "fixtures.orders.rs",
    "fixtures.type.rs",
    "fixtures.types.rs",
];

#[test]
fn output_matches_the_plugins_golden_files() {
    let out = tempfile::tempdir().unwrap();
    micro_build::Builder::new()
        .include_file("_includes.rs")
        .out_dir(out.path())
        .compile(
            &[
                "fixtures/kitchen.proto",
                "fixtures/orders.proto",
                "fixtures/names.proto",
            ],
            &[plugin_tests().join("fixtures")],
        )
        .unwrap();
    let mut written: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    assert_eq!(written, SNAPSHOTS, "exactly the files the plugin writes");
    for name in SNAPSHOTS {
        let written = std::fs::read_to_string(out.path().join(name)).unwrap();
        let golden = std::fs::read_to_string(plugin_tests().join("snapshots").join(name)).unwrap();
        assert!(
            written == golden,
            "{name} differs from the plugin's snapshot"
        );
    }
}

#[test]
fn a_syntax_error_names_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.proto"),
        "syntax = \"proto3\";\n\nmessage Broken {\n  string name = 1\n}\n",
    )
    .unwrap();
    let err = micro_build::Builder::new()
        .out_dir(dir.path().join("out"))
        .compile(&["broken.proto"], &[dir.path()])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("broken.proto:5:1: "), "{err}");
}

#[test]
fn an_unknown_type_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let proto =
        "syntax = \"proto3\";\npackage p;\nservice S {\n  rpc Get(Missing) returns (Missing);\n}\n";
    std::fs::write(dir.path().join("svc.proto"), proto).unwrap();
    let err = micro_build::Builder::new()
        .out_dir(dir.path().join("out"))
        .compile(&["svc.proto"], &[dir.path()])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("svc.proto:4:"), "{err}");
    assert!(err.contains("Missing"), "{err}");
}

#[test]
fn a_missing_import_or_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.proto"),
        "syntax = \"proto3\";\nimport \"nowhere/b.proto\";\n",
    )
    .unwrap();
    let compile = |file: &str| {
        micro_build::Builder::new()
            .out_dir(dir.path().join("out"))
            .compile(&[file], &[dir.path()])
            .unwrap_err()
            .to_string()
    };
    let err = compile("a.proto");
    assert!(
        err.contains("a.proto:2:") && err.contains("nowhere/b.proto"),
        "{err}"
    );
    let err = compile("absent.proto");
    assert!(err.contains("absent.proto"), "{err}");
}

#[test]
fn a_generator_error_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let proto = "syntax = \"proto3\";\npackage p;\nmessage FooClient {}\nservice Foo { rpc A(FooClient) returns (FooClient); }\n";
    std::fs::write(dir.path().join("clash.proto"), proto).unwrap();
    let err = micro_build::Builder::new()
        .out_dir(dir.path().join("out"))
        .compile(&["clash.proto"], &[dir.path()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "message `p.FooClient` and service `Foo` in clash.proto both become `FooClient`"
        ),
        "{err}"
    );
}

/// protoc, from `MICRO_TEST_PROTOC` or PATH; `None` (with a note) if absent and optional.
fn protoc() -> Option<PathBuf> {
    let path = std::env::var_os("MICRO_TEST_PROTOC")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("protoc"))
                    .find(|path| path.is_file())
            })
        });
    if path.is_none() {
        assert!(
            std::env::var_os("MICRO_TEST_REQUIRE_TOOLS").is_none(),
            "protoc is required (MICRO_TEST_REQUIRE_TOOLS is set) but neither MICRO_TEST_PROTOC \
             nor PATH has it"
        );
        eprintln!("SKIPPED: protoc not found; set MICRO_TEST_PROTOC or run scripts/test.sh");
    }
    path
}

/// A proto indented with tabs: protox counts a tab as one column, protoc as reaching the next
/// multiple of eight, and the spans of comments in the embedded descriptors are protoc's.
#[test]
fn a_proto_indented_with_tabs_embeds_what_protoc_embeds() {
    let Some(protoc) = protoc() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let proto = "syntax = \"proto3\";\npackage tabs;\n\n// S.\nservice S {\n\t// M.\n\trpc \
                 M(R) returns (R);\t// After.\n}\n\n// R.\nmessage R {\n\t\t// F.\n\tstring\tf = 1;\n}\n";
    std::fs::write(dir.path().join("tabs.proto"), proto).unwrap();
    micro_build::Builder::new()
        .out_dir(dir.path().join("micro-build"))
        .compile(&["tabs.proto"], &[dir.path()])
        .unwrap();
    let set = dir.path().join("set.pb");
    let status = std::process::Command::new(protoc)
        .arg("--include_source_info")
        .arg("--include_imports")
        .arg(format!("--descriptor_set_out={}", set.display()))
        .arg("-I")
        .arg(dir.path())
        .arg("tabs.proto")
        .status()
        .unwrap();
    assert!(status.success());
    let by_protoc = protoc_gen_micro::generate_from_descriptor_set(
        &std::fs::read(&set).unwrap(),
        &["tabs.proto".to_owned()],
        &protoc_gen_micro::Options::default(),
    )
    .unwrap();
    let by_micro_build =
        std::fs::read_to_string(dir.path().join("micro-build").join("tabs.rs")).unwrap();
    assert_eq!(by_protoc.len(), 1);
    assert!(
        by_protoc[0].content == by_micro_build,
        "micro-build and protoc embed different bytes:\n{by_micro_build}\n---\n{}",
        by_protoc[0].content
    );
    // The method's span, [6, 8, 29] as protoc counts it ([6, 1, 22] in bytes).
    assert!(by_micro_build.contains("\\x12\\x03\\x06\\x08\\x1D\\x1A\\x04 M.\\n"));
}

/// The package's directory, read when the test runs: a path compiled in goes stale when a
/// cached target dir outlives the checkout that built it (cargo does not rebuild for a move).
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("cargo sets CARGO_MANIFEST_DIR when it runs tests")
        .into()
}
