//! Comments in the embedded descriptors: protoc, buf and protox (what micro-build runs) keep the
//! same ones, in the same bytes, and `no_comments` leaves them out.
//!
//! protoc and buf come from `scripts/test.sh` (`MICRO_TEST_PROTOC`, `MICRO_TEST_BUF`); without
//! them those tests say they were skipped, unless `MICRO_TEST_REQUIRE_TOOLS=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;
use prost_types::source_code_info::Location;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use protoc_gen_micro::{Options, generate_from_descriptor_set};

use common::{tests_dir, tool};

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-micro");
const PROTO: &str = "notes/notes.proto";

fn comments_dir() -> PathBuf {
    tests_dir().join("comments")
}

/// The generated `notes.rs`, from protox's descriptors of `file` under `dir`.
fn from_protox(dir: &Path, file: &str, options: &Options) -> String {
    let set = protox::Compiler::new([dir])
        .unwrap()
        .include_imports(true)
        .include_source_info(true)
        .open_files([file])
        .unwrap()
        .encode_file_descriptor_set();
    let files = generate_from_descriptor_set(&set, &[file.to_owned()], options).unwrap();
    assert_eq!(files.len(), 1);
    files.into_iter().next().unwrap().content
}

/// The generated `notes.rs`, from the plugin run by protoc on `file` under `dir`.
fn from_protoc(protoc: &Path, dir: &Path, file: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(protoc)
        .arg(format!("--plugin=protoc-gen-micro={PLUGIN}"))
        .arg(format!("--micro_out={}", out.path().display()))
        .arg("-I")
        .arg(dir)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(out.path().join("notes.rs")).unwrap()
}

/// The one user file in the generated code's `FILE_DESCRIPTOR_SET`.
fn embedded(generated: &str) -> FileDescriptorProto {
    const START: &str = "pub const FILE_DESCRIPTOR_SET: &[u8] = ";
    let start = generated.find(START).expect("no FILE_DESCRIPTOR_SET") + START.len();
    let end = start + generated[start..].find(";\n").unwrap();
    let literal: syn::LitByteStr = syn::parse_str(&generated[start..end]).unwrap();
    let set = FileDescriptorSet::decode(literal.value().as_slice()).unwrap();
    set.file
        .into_iter()
        .find(|file| file.name() == PROTO)
        .expect("notes.proto is embedded")
}

fn locations(file: &FileDescriptorProto) -> &[Location] {
    file.source_code_info
        .as_ref()
        .map_or(&[], |info| info.location.as_slice())
}

/// (path, leading, trailing) of locations.
type Comments<'a> = Vec<(Vec<i32>, Option<&'a str>, Option<&'a str>)>;

/// Every kept location's comments.
fn comments(file: &FileDescriptorProto) -> Comments<'_> {
    locations(file)
        .iter()
        .map(|location| {
            (
                location.path.clone(),
                location.leading_comments.as_deref(),
                location.trailing_comments.as_deref(),
            )
        })
        .collect()
}

#[test]
fn every_kind_of_element_keeps_its_comments_and_nothing_else() {
    let notes = embedded(&from_protox(&comments_dir(), PROTO, &Options::default()));
    let expected: Comments<'_> = vec![
        (vec![4, 0], Some(" Ünïcödé — and a note.\n"), None),
        (vec![4, 0, 2, 0], Some(" Inline before the field. "), None),
        (vec![4, 0, 2, 1], Some(" In the oneof.\n"), None),
        (vec![4, 0, 2, 2], None, Some(" Trailing in the oneof.\n")),
        (vec![4, 0, 3, 0], Some(" A nested message.\n"), None),
        (vec![4, 0, 3, 0, 2, 0], Some(" Deep.\n"), None),
        (vec![4, 0, 4, 0], Some(" A nested enum.\n"), None),
        (vec![4, 0, 4, 0, 2, 0], Some(" Zero.\n"), None),
        (
            vec![4, 0, 4, 0, 2, 1],
            None,
            Some(" Trailing on a value.\n"),
        ),
        (vec![4, 0, 8, 0], Some(" Leading a oneof.\n"), None),
        (vec![5, 0], Some(" A top-level enum.\n"), None),
        (vec![5, 0, 2, 1], Some("\n"), None),
        (
            vec![6, 0],
            Some("*\n A block comment,\n with asterisks.\n"),
            None,
        ),
        (
            vec![6, 0, 2, 0],
            Some(" One line of block. "),
            Some(" Trailing after a method.\n"),
        ),
        (
            vec![6, 0, 2, 1],
            None,
            Some(" Trailing on the next line.\n"),
        ),
    ];
    assert_eq!(comments(&notes), expected);
    for location in locations(&notes) {
        assert!(
            location.leading_detached_comments.is_empty(),
            "{location:?}"
        );
        assert!((3..=4).contains(&location.span.len()), "{location:?}");
    }
    let method = &locations(&notes)[13];
    assert_eq!(method.span, [13, 2, 33], "spans are kept as written");
}

#[test]
fn no_comments_leaves_the_source_info_out() {
    let mut options = Options::default();
    options.comments = false;
    let notes = embedded(&from_protox(&comments_dir(), PROTO, &options));
    assert_eq!(notes.source_code_info, None);
}

#[test]
fn protoc_embeds_the_same_bytes_as_protox() {
    let Some(protoc) = tool("MICRO_TEST_PROTOC", "protoc") else {
        return;
    };
    let by_protoc = from_protoc(&protoc, &comments_dir(), PROTO);
    let by_protox = from_protox(&comments_dir(), PROTO, &Options::default());
    assert_eq!(
        comments(&embedded(&by_protoc)),
        comments(&embedded(&by_protox))
    );
    assert!(
        by_protoc == by_protox,
        "protoc and protox generate different code"
    );
}

/// What buf 1.75 keeps of protox's comments: its compiler drops a block comment written before
/// a field on the field's line, and a `//` comment trailing on an element's own line loses its
/// final newline (protoc keeps both). Leading `//` comments, the usual style, are the same.
fn as_buf_keeps_them(comments: Comments<'_>) -> Comments<'_> {
    let same_line_trailing: &[&[i32]] = &[&[4, 0, 2, 2], &[4, 0, 4, 0, 2, 1], &[6, 0, 2, 0]];
    comments
        .into_iter()
        .filter(|(path, ..)| path != &[4, 0, 2, 0])
        .map(|(path, leading, trailing)| {
            let trailing = match trailing {
                Some(text) if same_line_trailing.contains(&path.as_slice()) => {
                    text.strip_suffix('\n')
                }
                trailing => trailing,
            };
            (path, leading, trailing)
        })
        .collect()
}

#[test]
fn buf_keeps_the_leading_comments_protox_keeps() {
    let Some(buf) = tool("MICRO_TEST_BUF", "buf") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let template = work.path().join("buf.gen.yaml");
    std::fs::write(
        &template,
        format!("version: v2\nplugins:\n  - local: {PLUGIN}\n    out: out\n    strategy: all\n"),
    )
    .unwrap();
    let output = Command::new(buf)
        .current_dir(work.path())
        .env("BUF_CACHE_DIR", work.path().join("cache"))
        .arg("generate")
        .arg(comments_dir())
        .arg("--template")
        .arg(&template)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "buf failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let by_buf = std::fs::read_to_string(work.path().join("out/notes.rs")).unwrap();
    let by_protox = from_protox(&comments_dir(), PROTO, &Options::default());
    assert_eq!(
        comments(&embedded(&by_buf)),
        as_buf_keeps_them(comments(&embedded(&by_protox))),
        "if buf now keeps comments as protoc does, drop `as_buf_keeps_them` and the note on buf \
         in docs/codegen.md"
    );
}
