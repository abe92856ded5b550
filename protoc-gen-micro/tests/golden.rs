//! Golden tests: the fixtures' generated code must match `tests/snapshots/` byte for byte.
//!
//! After an intended change to the output, regenerate with
//! `UPDATE_SNAPSHOTS=1 cargo test -p protoc-gen-micro --test golden` and review the diff.

use std::path::{Path, PathBuf};

use protoc_gen_micro::{GeneratedFile, Options, generate_from_descriptor_set};

const FIXTURES: &[&str] = &[
    "fixtures/types.proto",
    "fixtures/kitchen.proto",
    "fixtures/common/money.proto",
    "fixtures/orders.proto",
    "fixtures/names.proto",
];

/// The files written for [`FIXTURES`], in the order the generator returns them.
const SNAPSHOTS: &[&str] = &[
    "fixtures.common.rs",
    "fixtures.kitchen.rs",
    "fixtures.orders.rs",
    "fixtures.type.rs",
    "fixtures.types.rs",
    "_includes.rs",
];

fn tests_dir() -> PathBuf {
    Path::new(&manifest_dir()).join("tests")
}

fn encoded_fixtures() -> Vec<u8> {
    protox::Compiler::new([tests_dir().join("fixtures")])
        .unwrap()
        .include_imports(true)
        .include_source_info(true)
        .open_files(FIXTURES)
        .unwrap()
        .encode_file_descriptor_set()
}

fn generate_fixtures(options: &Options) -> Vec<GeneratedFile> {
    let files: Vec<String> = FIXTURES.iter().map(|name| name.to_string()).collect();
    generate_from_descriptor_set(&encoded_fixtures(), &files, options).unwrap()
}

#[test]
fn output_matches_snapshots() {
    let mut options = Options::default();
    options.include_file = Some("_includes.rs".into());
    let files = generate_fixtures(&options);
    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
    assert_eq!(names, SNAPSHOTS);

    let snapshots = tests_dir().join("snapshots");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    for file in &files {
        let path = snapshots.join(&file.name);
        if update {
            std::fs::write(&path, &file.content).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(file.content.as_str()) {
            stale.push(file.name.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "generated code differs from tests/snapshots for {stale:?}; if the change is intended, \
         run `UPDATE_SNAPSHOTS=1 cargo test -p protoc-gen-micro --test golden` and review the diff"
    );
}

#[test]
fn output_is_deterministic() {
    assert_eq!(
        generate_fixtures(&Options::default()),
        generate_fixtures(&Options::default())
    );
}

#[test]
fn no_client_and_no_server_leave_out_each_side() {
    let kitchen = |options: &Options| {
        generate_fixtures(options)
            .into_iter()
            .find(|file| file.name == "fixtures.kitchen.rs")
            .unwrap()
            .content
    };
    let mut no_client = Options::default();
    no_client.client = false;
    let server_only = kitchen(&no_client);
    assert!(server_only.contains("pub trait KitchenHandler"));
    assert!(!server_only.contains("pub struct KitchenClient"));

    let mut no_server = Options::default();
    no_server.server = false;
    let client_only = kitchen(&no_server);
    assert!(client_only.contains("pub struct KitchenClient"));
    assert!(!client_only.contains("KitchenHandler"));
    // Both keep the constants and the descriptor set.
    for content in [server_only, client_only] {
        assert!(content.contains("pub const KITCHEN_GET_ENDPOINT: &str = \"Kitchen.Get\";"));
        assert!(content.contains("pub const FILE_DESCRIPTOR_SET: &[u8]"));
    }
}

#[test]
fn extern_path_points_at_another_crate() {
    let mut options = Options::default();
    options
        .extern_paths
        .push((".fixtures.types".into(), "::other_crate::types".into()));
    let files: Vec<String> = vec!["fixtures/kitchen.proto".into()];
    let out = generate_from_descriptor_set(&encoded_fixtures(), &files, &options).unwrap();
    assert_eq!(out.len(), 1);
    assert!(
        out[0].content.contains("::other_crate::types::Item"),
        "{}",
        out[0].content
    );
}

fn generate_only(file: &str, options: &Options) -> Vec<GeneratedFile> {
    generate_from_descriptor_set(&encoded_fixtures(), &[file.to_owned()], options).unwrap()
}

fn derives_of<'a>(content: &'a str, message: &str) -> &'a str {
    let end = content
        .find(&format!("pub struct {message} {{"))
        .unwrap_or_else(|| panic!("no struct {message}"));
    let start = content[..end].rfind("#[derive(").unwrap();
    &content[start..content[start..].find(')').unwrap() + start]
}

#[test]
fn imported_messages_decide_derives_without_being_written() {
    let files = generate_only("fixtures/orders.proto", &Options::default());
    assert_eq!(
        files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["fixtures.orders.rs"],
        "only the requested file is written, not its imports"
    );
    let orders = &files[0].content;
    for (message, derives) in [
        ("Stamped", "Clone, PartialEq, Eq, Hash"),
        ("Order", "Clone, PartialEq, Eq, Hash"),
        ("Ttl", "Clone, Copy, PartialEq, Eq, Hash"),
        ("Blank", "Clone, PartialEq, Eq, Hash"),
        ("Shaped", "Clone, PartialEq"),
        ("Wrapped", "Clone, PartialEq, Eq, Hash"),
        ("Measured", "Clone, Copy, PartialEq"),
    ] {
        let found = derives_of(orders, message);
        assert!(
            found == format!("#[derive({derives}, ::micro::codegen::prost::Message"),
            "{message}: {found}"
        );
    }
}

#[test]
fn keyword_package_is_named_as_written_and_nested_raw() {
    let mut options = Options::default();
    options.include_file = Some("mod.rs".into());
    let files = generate_only("fixtures/names.proto", &options);
    assert_eq!(files[0].name, "fixtures.type.rs");
    assert!(
        files[1]
            .content
            .contains("pub mod r#type {\n        include!(\"fixtures.type.rs\");"),
        "{}",
        files[1].content
    );
    let names = &files[0].content;
    assert!(names.contains("pub fn clone_rpc("), "{names}");
    assert!(names.contains("pub struct Self_ {"), "{names}");
}

/// The package's directory, read when the test runs: a path compiled in goes stale when a
/// cached target dir outlives the checkout that built it (cargo does not rebuild for a move).
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("cargo sets CARGO_MANIFEST_DIR when it runs tests")
        .into()
}
