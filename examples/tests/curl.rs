//! go-micro's README call, byte for byte, with the real curl against the helloworld binary.

mod support;

use std::process::Command;

use support::Example;

fn curl(args: &[&str]) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), code.to_owned())
}

#[test]
fn the_go_micro_readme_curl_command() {
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &[]);
    let url = format!("http://localhost:{}", server.addr.port());
    // As in go-micro's README, with the port of this test's server.
    let (body, code) = curl(&[
        "-XPOST",
        "-H",
        "Content-Type: application/json",
        "-H",
        "Micro-Endpoint: Helloworld.Greeting",
        "-d",
        r#"{"name": "alice"}"#,
        &url,
    ]);
    assert_eq!(
        (body.as_str(), code.as_str()),
        ("{\"message\":\"Hello alice\"}\n", "200")
    );
}

#[test]
fn curl_to_the_grpc_path_and_curls_mistakes() {
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &[]);
    let url = format!("{}/helloworld.Helloworld/Greeting", server.url());
    let json = ["-H", "Content-Type: application/json"];
    let (body, code) = curl(&[&json[..], &["-d", r#"{"name":"bob"}"#, &url]].concat());
    assert_eq!(
        (body.as_str(), code.as_str()),
        (r#"{"message":"Hello bob"}"#, "200")
    );

    // Forgot the content type: curl sends a form; the answer says what to send.
    let (body, code) = curl(&["-d", r#"{"name":"bob"}"#, &url]);
    assert_eq!(code, "415");
    assert!(
        body.contains("application/x-www-form-urlencoded") && body.contains("application/json"),
        "{body}"
    );

    // Wrong type for a field.
    let (body, code) = curl(&[&json[..], &["-d", r#"{"name":1}"#, &url]].concat());
    assert_eq!(code, "400");
    assert!(body.contains("at `name`"), "{body}");

    // Unknown endpoint, go-micro style: lists the ones there are.
    let unknown = [
        "-H",
        "Micro-Endpoint: Helloworld.Farewell",
        "-d",
        "{}",
        &server.url(),
    ];
    let (body, code) = curl(&[&json[..], &unknown[..]].concat());
    assert_eq!(code, "404");
    assert!(body.contains("Helloworld.Greeting"), "{body}");
}
