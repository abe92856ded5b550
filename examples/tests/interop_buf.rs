//! `buf curl` (a third-party gRPC client) calls the examples using reflection alone: it is given
//! no .proto files.

mod support;

use std::process::Command;

use support::Example;

fn buf_curl(buf: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(buf)
        .args(["curl", "--protocol", "grpc", "--http2-prior-knowledge"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "buf curl {args:?} failed: {stderr}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

#[test]
fn buf_lists_services_and_calls_helloworld_through_reflection() {
    let Some(buf) = support::tool("MICRO_TEST_BUF", "buf") else {
        return;
    };
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &[]);
    let services = buf_curl(&buf, &["--list-services", &server.url()]);
    let mut listed: Vec<&str> = services.lines().collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "helloworld.Helloworld",
        ]
    );
    let url = format!("{}/helloworld.Helloworld/Greeting", server.url());
    let reply = buf_curl(&buf, &["-d", r#"{"name":"alice"}"#, &url]);
    assert_eq!(json(&reply), serde_json::json!({"message": "Hello alice"}));
}

#[test]
fn buf_calls_every_streaming_kind_through_reflection() {
    let Some(buf) = support::tool("MICRO_TEST_BUF", "buf") else {
        return;
    };
    let server = Example::start(env!("CARGO_BIN_EXE_streaming"), &[]);
    let url = |method: &str| format!("{}/streaming.Streamer/{method}", server.url());

    let counts = buf_curl(&buf, &["-d", r#"{"to":3}"#, &url("Count")]);
    let numbers: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&counts)
        .into_iter()
        .map(|value| value.unwrap())
        .collect();
    assert_eq!(
        numbers,
        [
            serde_json::json!({"number": 1}),
            serde_json::json!({"number": 2}),
            serde_json::json!({"number": 3})
        ]
    );

    let sum = buf_curl(
        &buf,
        &["-d", r#"{"value":"40"} {"value":"2"}"#, &url("Sum")],
    );
    assert_eq!(json(&sum), serde_json::json!({"total": "42", "count": 2}));

    let shouts = buf_curl(
        &buf,
        &["-d", r#"{"text":"hi"} {"text":"there"}"#, &url("Shout")],
    );
    let texts: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&shouts)
        .into_iter()
        .map(|value| value.unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            serde_json::json!({"text": "HI"}),
            serde_json::json!({"text": "THERE"})
        ]
    );
}

#[test]
fn buf_sees_health_serving() {
    let Some(buf) = support::tool("MICRO_TEST_BUF", "buf") else {
        return;
    };
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &[]);
    // Health says SERVING only once the example is registered.
    server.wait_ready(std::time::Duration::from_secs(20));
    let url = format!("{}/grpc.health.v1.Health/Check", server.url());
    let reply = buf_curl(
        &buf,
        &["-d", r#"{"service":"helloworld.Helloworld"}"#, &url],
    );
    assert_eq!(json(&reply), serde_json::json!({"status": "SERVING"}));
}

/// `buf curl` over the given protocol, with reflection over gRPC (reflection is a bidi stream).
fn buf_curl_over(buf: &std::path::Path, protocol: &str, args: &[&str]) -> String {
    let output = Command::new(buf)
        .args([
            "curl",
            "--protocol",
            protocol,
            "--reflect-protocol",
            "grpc-v1",
        ])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "buf curl --protocol {protocol} {args:?} failed: {stderr}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn buf_calls_over_connect_and_grpc_web_on_the_same_port() {
    let Some(buf) = support::tool("MICRO_TEST_BUF", "buf") else {
        return;
    };
    let server = Example::start(env!("CARGO_BIN_EXE_streaming"), &[]);
    let ping = format!("{}/streaming.Streamer/Ping", server.url());
    let count = format!("{}/streaming.Streamer/Count", server.url());
    for protocol in ["connect", "grpcweb"] {
        for http2 in [false, true] {
            let mut args = vec!["-d", r#"{"text":"hey"}"#, ping.as_str()];
            if http2 {
                args.insert(0, "--http2-prior-knowledge");
            }
            let reply = buf_curl_over(&buf, protocol, &args);
            assert_eq!(
                json(&reply),
                serde_json::json!({"text": "hey"}),
                "{protocol} http2={http2}"
            );
        }
        let counts = buf_curl_over(
            &buf,
            protocol,
            &["--http2-prior-knowledge", "-d", r#"{"to":2}"#, &count],
        );
        let values: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&counts)
            .into_iter()
            .map(|value| value.unwrap())
            .collect();
        assert_eq!(values.len(), 2, "{protocol}: {counts}");
    }
}
