//! The same bad request gets the same code on every path of a protocol, the code that
//! protocol's reference implementation answers: grpc-go (`INTERNAL`) for gRPC and gRPC-Web,
//! connect-go (`invalid_argument`) for Connect, go-micro (400) for its JSON.

mod support;

use micro::Code;
use serde_json::Value;

const GET: &str = "/fixtures.kitchen.Kitchen/Get";
const LIST: &str = "/fixtures.kitchen.Kitchen/List";

/// A field-1 string whose length runs past the end of the buffer.
const BAD_PROTOBUF: &[u8] = &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f];
const BAD_JSON: &[u8] = br#"{"id": "a"#;

/// The bad message for a codec: `proto` or `json`.
fn bad(codec: &str) -> &'static [u8] {
    match codec {
        "proto" => BAD_PROTOBUF,
        _ => BAD_JSON,
    }
}

/// The flag byte and payload of each envelope in `body`.
fn envelopes(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while body.len() >= 5 {
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        out.push((body[0], body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    out
}

#[tokio::test]
async fn grpc_answers_internal_for_every_kind_and_codec() {
    let (service, _, _) = support::start_kitchen().await;
    let addr = service.local_addr();
    for codec in ["proto", "json"] {
        for path in [GET, LIST] {
            let content_type = format!("application/grpc+{codec}");
            let headers = [("content-type", content_type.as_str()), ("te", "trailers")];
            let body = support::frame(bad(codec));
            let response = support::post(addr, path, &headers, body, true).await;
            assert_eq!(
                response.grpc_status(),
                Some(Code::Internal as i32),
                "gRPC {codec} {path}: {}",
                response.grpc_message()
            );
        }
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn grpc_web_answers_internal_for_every_kind_and_codec() {
    let (service, _, _) = support::start_kitchen().await;
    let addr = service.local_addr();
    for codec in ["proto", "json"] {
        for path in [GET, LIST] {
            let content_type = format!("application/grpc-web+{codec}");
            let headers = [("content-type", content_type.as_str()), ("x-grpc-web", "1")];
            let body = support::frame(bad(codec));
            let response = support::post(addr, path, &headers, body, false).await;
            let status = match response.grpc_status() {
                Some(status) => status.to_string(),
                None => {
                    let frames = envelopes(&response.body);
                    let trailers = frames.last().expect("a trailer frame");
                    String::from_utf8_lossy(&trailers.1).to_lowercase()
                }
            };
            assert!(
                status == "13" || status.contains("grpc-status:13"),
                "gRPC-Web {codec} {path}: {status}"
            );
        }
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn connect_answers_invalid_argument_for_unary_and_streams_in_either_codec() {
    let (service, _, _) = support::start_kitchen().await;
    let addr = service.local_addr();
    for codec in ["proto", "json"] {
        let content_type = format!("application/{codec}");
        let headers = [("content-type", content_type.as_str())];
        let response = support::post(addr, GET, &headers, bad(codec), false).await;
        assert_eq!(response.status, 400, "Connect unary {codec}");
        assert_eq!(
            response.json()["code"],
            "invalid_argument",
            "Connect unary {codec}"
        );

        let content_type = format!("application/connect+{codec}");
        let headers = [("content-type", content_type.as_str())];
        let body = support::frame(bad(codec));
        let response = support::post(addr, LIST, &headers, body, false).await;
        let frames = envelopes(&response.body);
        let (flags, end) = frames.last().expect("an end-of-stream message");
        assert_eq!(flags & 0x02, 0x02, "Connect stream {codec}: not an end");
        let end: Value = serde_json::from_slice(end).unwrap();
        assert_eq!(
            end["error"]["code"], "invalid_argument",
            "Connect stream {codec}: {end}"
        );
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn go_micro_json_answers_400() {
    let (service, _, _) = support::start_kitchen().await;
    let headers = [
        ("content-type", "application/json"),
        ("micro-endpoint", "Kitchen.Get"),
    ];
    let response = support::post(service.local_addr(), "/", &headers, BAD_JSON, false).await;
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["code"], 400, "{}", response.json());
    service.stop().await.unwrap();
}
