//! Input the generator cannot turn into compiling Rust is an error that names the items, never
//! a panic; input it can is generated, however odd.

use prost::Message;
use prost_types::source_code_info::Location;
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MethodDescriptorProto,
    ServiceDescriptorProto, SourceCodeInfo, field_descriptor_proto,
};
use protoc_gen_micro::{GeneratedFile, Options, generate};

/// Compiles `files` (name, source) with protox and generates every one of them.
fn generate_protos(
    files: &[(&str, &str)],
    options: &Options,
) -> Result<Vec<GeneratedFile>, String> {
    let dir = tempfile::tempdir().unwrap();
    for (name, source) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, source).unwrap();
    }
    let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
    let set = protox::Compiler::new([dir.path()])
        .unwrap()
        .include_imports(true)
        .include_source_info(true)
        .open_files(&names)
        .unwrap_or_else(|err| panic!("protox refused the test's protos: {err}"))
        .file_descriptor_set();
    let to_generate: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    generate_descriptors(set.file, &to_generate, options)
}

fn generate_descriptors(
    files: Vec<FileDescriptorProto>,
    to_generate: &[String],
    options: &Options,
) -> Result<Vec<GeneratedFile>, String> {
    let encoded = files.iter().map(Message::encode_to_vec).collect();
    generate(encoded, to_generate, options).map_err(|err| err.to_string())
}

fn error_for(source: &str) -> String {
    generate_protos(&[("a.proto", source)], &Options::default())
        .expect_err("the generator accepted input that cannot compile")
}

#[track_caller]
fn assert_contains(err: &str, expected: &str) {
    assert!(err.contains(expected), "expected `{expected}` in: {err}");
}

#[test]
fn messages_that_become_one_rust_type() {
    let err =
        error_for("syntax = \"proto3\"; package p; message HTTPServer {} message HttpServer {}");
    assert_contains(
        &err,
        "message `p.HTTPServer` and message `p.HttpServer` both become `HttpServer` in package `p`; \
         rename one of them",
    );
}

#[test]
fn a_oneof_and_a_nested_message_of_one_name() {
    let err = error_for(
        "syntax = \"proto3\"; package p; message M { message Kind {} oneof kind { string a = 1; } }",
    );
    assert_contains(
        &err,
        "oneof `p.M.kind` and message `p.M.Kind` both become `Kind`",
    );
    assert_contains(&err, "the module of message `p.M`");
}

#[test]
fn enum_values_that_become_one_variant() {
    let err = error_for("syntax = \"proto2\"; package p; enum Color { COLOR_RED = 0; RED = 1; }");
    assert_contains(
        &err,
        "value `COLOR_RED` and value `RED` both become `Red` in the variants of enum `p.Color`",
    );
}

#[test]
fn aliases_of_one_number_are_one_variant() {
    let source = "syntax = \"proto2\"; package p; \
                  enum Color { option allow_alias = true; COLOR_RED = 0; RED = 0; }";
    generate_protos(&[("a.proto", source)], &Options::default()).unwrap();
}

#[test]
fn accessors_that_clash() {
    let err = error_for(
        "syntax = \"proto3\"; package p; enum E { E_A = 0; } \
         message M { E kind = 1; optional string set_kind = 2; }",
    );
    assert_contains(
        &err,
        "field `p.M.kind` and field `p.M.set_kind` both become `set_kind` in the methods of `p.M`",
    );
}

#[test]
fn a_keyword_map_of_enums_which_prost_derive_cannot_build() {
    let err = error_for(
        "syntax = \"proto3\"; package p; enum E { E_A = 0; } message M { map<string, E> struct = 1; }",
    );
    assert_contains(
        &err,
        "field `p.M.struct` is a map of enums named with a Rust keyword",
    );
    assert_contains(&err, "rename the field");
}

#[test]
fn map_of_enums_accessors_clash_with_getters() {
    let err = error_for(
        "syntax = \"proto3\"; package p; enum E { E_A = 0; } \
         message M { map<string, E> foo = 1; E get_foo = 2; }",
    );
    assert_contains(&err, "both become `get_foo`");
}

#[test]
fn a_message_module_and_a_package_module() {
    let err = generate_protos(
        &[
            (
                "a.proto",
                "syntax = \"proto3\"; package a; message B { message C {} }",
            ),
            ("b.proto", "syntax = \"proto3\"; package a.b; message D {}"),
        ],
        &Options::default(),
    )
    .unwrap_err();
    assert_contains(
        &err,
        "package `a.b` and message `a.B` both become `b` in package `a`",
    );
}

#[test]
fn packages_that_become_one_module() {
    let err = generate_protos(
        &[
            (
                "a.proto",
                "syntax = \"proto3\"; package Foo.bar; message A {}",
            ),
            (
                "b.proto",
                "syntax = \"proto3\"; package foo.bar; message B {}",
            ),
        ],
        &Options::default(),
    )
    .unwrap_err();
    assert_contains(
        &err,
        "packages `Foo.bar` and `foo.bar` both become the Rust module `foo::bar`",
    );
}

#[test]
fn rpcs_that_become_one_method() {
    let err = error_for(
        "syntax = \"proto3\"; package p; message M {} \
         service S { rpc GetFoo(M) returns (M); rpc Get_Foo(M) returns (M); }",
    );
    assert_contains(&err, "rpc `GetFoo` and rpc `Get_Foo` both become `get_foo`");
}

#[test]
fn an_rpc_renamed_on_the_client_meets_another() {
    let err = error_for(
        "syntax = \"proto3\"; package p; message M {} \
         service S { rpc New(M) returns (M); rpc NewRpc(M) returns (M); }",
    );
    assert_contains(
        &err,
        "rpc `New` and rpc `NewRpc` both become `new_rpc` in the client",
    );
}

#[test]
fn service_constants_that_clash() {
    let err = error_for(
        "syntax = \"proto3\"; package p; message M {} \
         service FooBar { rpc A(M) returns (M); } service Foo_Bar { rpc B(M) returns (M); }",
    );
    assert_contains(&err, "both become `FooBar");
}

#[test]
fn odd_but_valid_names_generate() {
    let source = "syntax = \"proto3\"; package p.async; \
                  message Self { string type = 1; string self = 2; } \
                  message Option { Self inner = 1; } \
                  enum Kind { KIND_UNSPECIFIED = 0; KIND_SELF = 1; } \
                  service Clone { rpc Clone(Self) returns (Option); rpc Fmt(stream Option) returns (Self); }";
    let files = generate_protos(&[("a.proto", source)], &Options::default()).unwrap();
    assert_eq!(files[0].name, "p.async.rs");
    assert_contains(&files[0].content, "pub fn clone_rpc(");
}

#[test]
fn an_enum_default_naming_an_alias_names_the_kept_variant() {
    let source = "syntax = \"proto2\"; package p; \
                  enum E { option allow_alias = true; E_A = 0; E_B = 1; E_ALSO_A = 0; } \
                  message M { optional E e = 1 [default = E_ALSO_A]; }";
    let files = generate_protos(&[("a.proto", source)], &Options::default()).unwrap();
    assert_contains(&files[0].content, "default = \"A\"");
}

#[test]
fn float_defaults_are_written_the_rust_way() {
    let source = "syntax = \"proto2\"; package p; \
                  message M { optional float f = 1 [default = 1e10]; optional double d = 2 [default = -2.5E-3]; }";
    let files = generate_protos(&[("a.proto", source)], &Options::default()).unwrap();
    assert_contains(&files[0].content, "default = \"10000000000\"");
    assert_contains(&files[0].content, "default = \"-0.0025\"");
}

#[test]
fn editions_are_refused_with_what_to_do() {
    let file = FileDescriptorProto {
        name: Some("e.proto".into()),
        package: Some("e".into()),
        syntax: Some("editions".into()),
        ..Default::default()
    };
    let err =
        generate_descriptors(vec![file], &["e.proto".into()], &Options::default()).unwrap_err();
    assert_contains(&err, "`e.proto` uses `editions`");
    assert_contains(&err, "syntax = \"proto3\";");
}

fn message_field(name: &str, type_name: &str) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(1),
        r#type: Some(field_descriptor_proto::Type::Message as i32),
        type_name: Some(type_name.into()),
        ..Default::default()
    }
}

fn file_with(
    message: DescriptorProto,
    service: Option<ServiceDescriptorProto>,
) -> FileDescriptorProto {
    FileDescriptorProto {
        name: Some("m.proto".into()),
        package: Some("m".into()),
        syntax: Some("proto3".into()),
        message_type: vec![message],
        service: service.into_iter().collect(),
        ..Default::default()
    }
}

#[test]
fn a_reference_to_a_type_nobody_defines() {
    let message = DescriptorProto {
        name: Some("R".into()),
        field: vec![message_field("at", ".google.protobuf.Timestamp")],
        ..Default::default()
    };
    let err = generate_descriptors(
        vec![file_with(message, None)],
        &["m.proto".into()],
        &Options::default(),
    )
    .unwrap_err();
    assert_contains(
        &err,
        "malformed descriptor in `m.proto`: field `.m.R.at` refers to `.google.protobuf.Timestamp`, \
         which no file in the request defines",
    );
}

#[test]
fn a_method_without_a_name() {
    let message = DescriptorProto {
        name: Some("R".into()),
        ..Default::default()
    };
    let service = ServiceDescriptorProto {
        name: Some("S".into()),
        method: vec![MethodDescriptorProto {
            input_type: Some(".m.R".into()),
            output_type: Some(".m.R".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let err = generate_descriptors(
        vec![file_with(message, Some(service))],
        &["m.proto".into()],
        &Options::default(),
    )
    .unwrap_err();
    assert_contains(
        &err,
        "malformed descriptor in `m.proto`: a method of `S` has no name",
    );
}

#[test]
fn an_import_missing_from_the_request_is_named() {
    let message = DescriptorProto {
        name: Some("R".into()),
        ..Default::default()
    };
    let service = ServiceDescriptorProto {
        name: Some("S".into()),
        method: vec![MethodDescriptorProto {
            name: Some("Get".into()),
            input_type: Some(".m.R".into()),
            output_type: Some(".m.R".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut file = file_with(message, Some(service));
    file.dependency = vec!["missing.proto".into()];
    let err =
        generate_descriptors(vec![file], &["m.proto".into()], &Options::default()).unwrap_err();
    assert_contains(
        &err,
        "`missing.proto` is imported but missing from the request; pass its include path",
    );
}

#[test]
fn incomplete_source_info_costs_the_comments_not_a_panic() {
    let message = DescriptorProto {
        name: Some("R".into()),
        field: vec![FieldDescriptorProto {
            name: Some("id".into()),
            number: Some(1),
            r#type: Some(field_descriptor_proto::Type::String as i32),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut file = file_with(message, None);
    file.source_code_info = Some(SourceCodeInfo {
        location: vec![Location {
            path: vec![4, 0],
            leading_comments: Some(" A message.\n".into()),
            ..Default::default()
        }],
    });
    let files = generate_descriptors(vec![file], &["m.proto".into()], &Options::default()).unwrap();
    assert_contains(&files[0].content, "pub struct R {");
    assert!(
        !files[0].content.contains("A message."),
        "{}",
        files[0].content
    );
}

#[test]
fn bad_extern_paths_are_named() {
    let proto = [("a.proto", "syntax = \"proto3\"; package p; message M {}")];
    let mut options = Options::default();
    options
        .extern_paths
        .push((".p".into(), "not a path".into()));
    let err = generate_protos(&proto, &options).unwrap_err();
    assert_contains(&err, "`not a path` is not a Rust path");

    let mut options = Options::default();
    options.extern_paths.push(("p".into(), "::p".into()));
    let err = generate_protos(&proto, &options).unwrap_err();
    assert_contains(
        &err,
        "the proto path must be fully qualified, starting with `.`",
    );
}
