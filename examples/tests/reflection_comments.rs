//! Descriptors fetched by gRPC reflection keep the `.proto`'s comments: helloworld, built with
//! micro-build, serves the comments on its service, method, messages and fields, which tools
//! built on reflection (the gateway's OpenAPI document, `micro mcp`) describe them with.

mod support;

use micro::dynamic::Descriptors;
use prost_reflect::FileDescriptor;
use support::Example;

/// The leading and trailing comments at `path` in `file`'s source info.
fn comments(file: &FileDescriptor, path: &[i32]) -> (Option<String>, Option<String>) {
    let proto = file.file_descriptor_proto();
    let info = proto
        .source_code_info
        .as_ref()
        .unwrap_or_else(|| panic!("{} was served without source info", proto.name()));
    let location = info
        .location
        .iter()
        .find(|location| location.path == path)
        .unwrap_or_else(|| panic!("no location for {path:?} in {:?}", info.location));
    (
        location.leading_comments.clone(),
        location.trailing_comments.clone(),
    )
}

fn leading(text: &str) -> (Option<String>, Option<String>) {
    (Some(text.to_owned()), None)
}

#[tokio::test]
async fn reflection_serves_the_proto_comments() {
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &[]);
    let client = micro::Client::connect(&server.addr.to_string()).unwrap();
    let descriptors = Descriptors::fetch(&client, "helloworld", None)
        .await
        .unwrap();
    let greeting = descriptors.method("Helloworld.Greeting").unwrap();
    let method = greeting.descriptor();
    let file = method.parent_file();
    assert_eq!(file.name(), "helloworld.proto");

    assert_eq!(
        comments(&file, method.path()),
        leading(" Answers `\"Hello \" + name`.\n")
    );
    assert_eq!(
        comments(&file, method.parent_service().path()),
        leading(" Greets whoever asks.\n")
    );
    let request = greeting.input();
    assert_eq!(comments(&file, request.path()), leading(" Who to greet.\n"));
    let name = request.get_field_by_name("name").unwrap();
    assert_eq!(
        comments(&file, name.path()),
        leading(" The name to greet, e.g. \"alice\".\n")
    );
    let message = greeting.output().get_field_by_name("message").unwrap();
    assert_eq!(
        comments(&file, message.path()),
        (
            None,
            Some(" \"Hello \" followed by the name asked for.\n".to_owned())
        )
    );
}

#[tokio::test]
async fn only_commented_elements_are_located() {
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &[]);
    let client = micro::Client::connect(&server.addr.to_string()).unwrap();
    let descriptors = Descriptors::fetch(&client, "helloworld", None)
        .await
        .unwrap();
    let method = descriptors.method("Helloworld.Greeting").unwrap();
    let file = method.descriptor().parent_file();
    let proto = file.file_descriptor_proto();
    let located: Vec<&[i32]> = proto
        .source_code_info
        .iter()
        .flat_map(|info| &info.location)
        .map(|location| location.path.as_slice())
        .collect();
    // Service, method, Request and its field, Response's field and Response: the file's and
    // the package's comments, and every name, number and type, are left out.
    assert_eq!(
        located,
        [
            &[4, 0][..],
            &[4, 0, 2, 0],
            &[4, 1],
            &[4, 1, 2, 0],
            &[6, 0],
            &[6, 0, 2, 0],
        ]
    );
    for location in proto
        .source_code_info
        .iter()
        .flat_map(|info| &info.location)
    {
        assert!(
            (3..=4).contains(&location.span.len()),
            "a span has 3 or 4 elements: {location:?}"
        );
        assert!(location.leading_detached_comments.is_empty());
    }
}

/// Python's protobuf (a third-party decoder), fetching helloworld's file by reflection with
/// grpcio-reflection, reads the same comments.
#[test]
fn python_reads_the_comments_over_reflection() {
    let Some(python) = support::python_with_grpc() else {
        return;
    };
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &[]);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop/reflection_comments.py");
    let output = std::process::Command::new(python)
        .arg(script)
        .args(["--address", &server.addr.to_string()])
        .args(["--symbol", "helloworld.Helloworld"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            r#"helloworld.proto 4.0 " Who to greet.\n" null"#,
            r#"helloworld.proto 4.0.2.0 " The name to greet, e.g. \"alice\".\n" null"#,
            r#"helloworld.proto 4.1 " The greeting.\n" null"#,
            r#"helloworld.proto 4.1.2.0 null " \"Hello \" followed by the name asked for.\n""#,
            r#"helloworld.proto 6.0 " Greets whoever asks.\n" null"#,
            r#"helloworld.proto 6.0.2.0 " Answers `\"Hello \" + name`.\n" null"#,
        ]
    );
}
