//! Every protocol on the one port: Connect (unary and streaming), go-micro's HTTP calls,
//! gRPC-Web (binary and text), gRPC with JSON messages, and CORS for browsers.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::StreamExt;
use micro::codec::Format;
use prost::Message;
use serde_json::{Value, json};
use support::kitchen::{GetRequest, KitchenClient};
use support::types::Item;

const GET: &str = "/fixtures.kitchen.Kitchen/Get";
const LIST: &str = "/fixtures.kitchen.Kitchen/List";
const PUT: &str = "/fixtures.kitchen.Kitchen/Put";
const CHAT: &str = "/fixtures.kitchen.Kitchen/Chat";

/// gRPC-style envelopes: flag byte, big-endian length, payload.
fn envelopes(payloads: &[(u8, &[u8])]) -> Vec<u8> {
    payloads
        .iter()
        .flat_map(|(flag, payload)| {
            let mut frame = vec![*flag];
            frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            frame.extend_from_slice(payload);
            frame
        })
        .collect()
}

fn parse_envelopes(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while body.len() >= 5 {
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        out.push((body[0], body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    assert!(body.is_empty(), "trailing bytes after the envelopes");
    out
}

mod connect {
    use super::*;

    #[tokio::test]
    async fn unary_json_and_proto() {
        let (service, _, _) = support::start_kitchen().await;
        let addr = service.local_addr();
        let json_headers = [
            ("content-type", "application/json"),
            ("connect-protocol-version", "1"),
        ];
        let response = support::post(addr, GET, &json_headers, r#"{"id":"pear"}"#, false).await;
        assert_eq!(
            (response.status.as_u16(), response.header("content-type")),
            (200, Some("application/json"))
        );
        assert_eq!(response.json(), json!({"id": "pear"}));

        let proto = GetRequest { id: "plum".into() }.encode_to_vec();
        let response = support::post(
            addr,
            GET,
            &[("content-type", "application/proto")],
            proto,
            true,
        )
        .await;
        assert_eq!(response.header("content-type"), Some("application/proto"));
        assert_eq!(Item::decode(response.body.as_ref()).unwrap().id, "plum");
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn errors_use_connects_json_and_http_status() {
        let (service, _, _) = support::start_kitchen().await;
        let addr = service.local_addr();
        let headers = [("content-type", "application/json")];
        let response = support::post(addr, GET, &headers, r#"{"id":"missing"}"#, false).await;
        assert_eq!(response.status, 404);
        assert_eq!(
            response.json(),
            json!({"code": "not_found", "message": "no item `missing`"})
        );

        let response = support::post(
            addr,
            "/fixtures.kitchen.Kitchen/Cook",
            &headers,
            "{}",
            false,
        )
        .await;
        assert_eq!(response.status, 404);
        assert_eq!(response.json()["code"], "unimplemented");
        assert!(
            response.json()["message"]
                .as_str()
                .unwrap()
                .contains("it has: Get, List")
        );

        let response = support::post(addr, LIST, &headers, "{}", false).await;
        assert_eq!(response.status, 501);
        let message = response.json()["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains("server-streaming") && message.contains("application/connect+json"),
            "{message}"
        );
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn the_timeout_header_sets_the_deadline() {
        let (service, _, _) = support::start_kitchen().await;
        let headers = [
            ("content-type", "application/json"),
            ("connect-timeout-ms", "100"),
        ];
        let response = support::post(
            service.local_addr(),
            GET,
            &headers,
            r#"{"id":"slow"}"#,
            false,
        )
        .await;
        assert_eq!(response.status, 504);
        assert_eq!(response.json()["code"], "deadline_exceeded");
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn server_streaming_with_json_envelopes_ends_with_the_status() {
        let (service, _, _) = support::start_kitchen().await;
        let addr = service.local_addr();
        let headers = [("content-type", "application/connect+json")];
        let request = envelopes(&[(0, br#"{"limit": 2}"#)]);
        let response = support::post(addr, LIST, &headers, request, false).await;
        assert_eq!(response.status, 200);
        assert_eq!(
            response.header("content-type"),
            Some("application/connect+json")
        );
        let frames = parse_envelopes(&response.body);
        assert_eq!(frames.len(), 3);
        assert_eq!(
            serde_json::from_slice::<Value>(&frames[0].1).unwrap(),
            json!({"id": "0"})
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&frames[1].1).unwrap(),
            json!({"id": "1"})
        );
        assert_eq!((frames[2].0, frames[2].1.as_slice()), (2, b"{}".as_slice()));

        // A failing stream: the error is in the end-of-stream message, HTTP status still 200.
        let request = envelopes(&[(0, br#"{"kind": "KIND_FILM"}"#)]);
        let response = support::post(addr, LIST, &headers, request, true).await;
        assert_eq!(response.status, 200);
        let frames = parse_envelopes(&response.body);
        let end: Value = serde_json::from_slice(&frames.last().unwrap().1).unwrap();
        assert_eq!(
            end,
            json!({"error": {"code": "aborted", "message": "films are out of stock"}})
        );
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn client_streaming_over_http1_and_bidi_over_http2() {
        let (service, _, _) = support::start_kitchen().await;
        let addr = service.local_addr();
        let headers = [("content-type", "application/connect+proto")];
        let item = |id: &str| {
            Item {
                id: id.into(),
                ..Item::default()
            }
            .encode_to_vec()
        };
        let (a, b) = (item("a"), item("b"));
        let request = envelopes(&[(0, &a), (0, &b)]);
        let response = support::post(addr, PUT, &headers, request.clone(), false).await;
        let frames = parse_envelopes(&response.body);
        assert_eq!(
            support::kitchen::PutReply::decode(frames[0].1.as_slice())
                .unwrap()
                .stored,
            2
        );

        let response = support::post(addr, CHAT, &headers, request.clone(), true).await;
        let frames = parse_envelopes(&response.body);
        let ids: Vec<String> = frames[..2]
            .iter()
            .map(|(_, m)| Item::decode(m.as_slice()).unwrap().id)
            .collect();
        assert_eq!(ids, ["re: a", "re: b"]);

        // Bidi needs HTTP/2: over HTTP/1.1 the end-of-stream message says so.
        let response = support::post(addr, CHAT, &headers, request, false).await;
        let frames = parse_envelopes(&response.body);
        let end: Value = serde_json::from_slice(&frames.last().unwrap().1).unwrap();
        assert_eq!(end["error"]["code"], "unimplemented");
        assert!(
            end["error"]["message"].as_str().unwrap().contains("HTTP/2"),
            "{end}"
        );
        service.stop().await.unwrap();
    }
}

mod go_micro {
    use super::*;

    #[tokio::test]
    async fn the_readme_curl_call() {
        let (service, _, _) = support::start_kitchen().await;
        let headers = [
            ("content-type", "application/json"),
            ("micro-endpoint", "Kitchen.Get"),
        ];
        let response = support::post(
            service.local_addr(),
            "/",
            &headers,
            r#"{"id": "alice"}"#,
            false,
        )
        .await;
        assert_eq!(response.status, 200);
        assert_eq!(response.body, Bytes::from_static(b"{\"id\":\"alice\"}\n"));
        assert_eq!(response.header("micro-endpoint"), Some("Kitchen.Get"));
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn every_header_spelling_and_protobuf_by_default() {
        let (service, _, _) = support::start_kitchen().await;
        let addr = service.local_addr();
        for header in ["X-Micro-Endpoint", "Micro-Method", "X-Micro-Method"] {
            let headers = [
                ("content-type", "application/json"),
                (header, "Kitchen.Get"),
            ];
            let response = support::post(addr, "/any/path", &headers, r#"{"id":"x"}"#, false).await;
            assert_eq!(response.json(), json!({"id": "x"}), "{header}");
        }
        // No content type: protobuf, as in go-micro.
        let proto = GetRequest { id: "p".into() }.encode_to_vec();
        let response =
            support::post(addr, "/", &[("micro-endpoint", "Kitchen.Get")], proto, true).await;
        assert_eq!(
            response.header("content-type"),
            Some("application/protobuf")
        );
        assert_eq!(Item::decode(response.body.as_ref()).unwrap().id, "p");
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn errors_for_people_and_for_go_micro_clients() {
        let (service, _, _) = support::start_kitchen().await;
        let addr = service.local_addr();
        let expected = json!({"id": "kitchen", "code": 404, "detail": "no item `missing`", "status": "Not Found"});
        // curl: the status code, the error in the body and the header.
        let headers = [
            ("content-type", "application/json"),
            ("micro-endpoint", "Kitchen.Get"),
        ];
        let response = support::post(addr, "/", &headers, r#"{"id":"missing"}"#, false).await;
        assert_eq!(response.status, 404);
        assert_eq!(response.json(), expected);
        let header: Value = serde_json::from_str(response.header("micro-error").unwrap()).unwrap();
        assert_eq!(header, expected);

        // A go-micro client (it sends Micro-Id): 200, empty body, the error in the header.
        let headers = [
            ("content-type", "application/json"),
            ("micro-endpoint", "Kitchen.Get"),
            ("micro-id", "1"),
        ];
        let response = support::post(addr, "/", &headers, r#"{"id":"missing"}"#, false).await;
        assert_eq!(response.status, 200);
        assert!(response.body.is_empty());
        let header: Value = serde_json::from_str(response.header("micro-error").unwrap()).unwrap();
        assert_eq!(header, expected);
        assert_eq!(response.header("micro-id"), Some("1"));

        // A handler's go-micro error keeps its own id and code.
        let headers = [
            ("content-type", "application/json"),
            ("micro-endpoint", "Kitchen.Get"),
        ];
        let response = support::post(addr, "/", &headers, r#"{"id":"go-micro"}"#, false).await;
        assert_eq!(
            response.json(),
            json!({"id": "kitchen", "code": 404, "detail": "no item", "status": "Not Found"})
        );
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn unknown_and_streaming_endpoints_are_explained() {
        let (service, _, _) = support::start_kitchen().await;
        let addr = service.local_addr();
        let call = |endpoint: &'static str| async move {
            let headers = [
                ("content-type", "application/json"),
                ("micro-endpoint", endpoint),
            ];
            support::post(addr, "/", &headers, "{}", false).await
        };

        let response = call("Kitchen.Cook").await;
        assert_eq!(response.status, 404);
        let detail = response.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains("unknown endpoint `Kitchen.Cook`") && detail.contains("Kitchen.Get"),
            "{detail}"
        );
        let response = call("Kitchen.Chat").await;
        assert_eq!(response.status, 501);
        let detail = response.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains("bidirectional") && detail.contains("HTTP/2"),
            "{detail}"
        );
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn an_oversized_json_body_is_rejected() {
        let handler = support::TestKitchen::default();
        let service = support::kitchen_service(handler)
            .max_message_size(1024)
            .start()
            .await
            .unwrap();
        let headers = [
            ("content-type", "application/json"),
            ("micro-endpoint", "Kitchen.Get"),
        ];
        let body = format!(r#"{{"id":"{}"}}"#, "x".repeat(2048));
        let response = support::post(service.local_addr(), "/", &headers, body, false).await;
        assert_eq!(response.status, 429);
        assert!(
            response.json()["detail"]
                .as_str()
                .unwrap()
                .contains("exceeds the limit of 1024 bytes")
        );
        service.stop().await.unwrap();
    }
}

mod grpc_web {
    use super::*;

    fn trailers(frame: &[u8]) -> String {
        String::from_utf8_lossy(frame).to_lowercase()
    }

    #[tokio::test]
    async fn binary_unary_and_server_streaming() {
        let (service, _, _) = support::start_kitchen().await;
        let addr = service.local_addr();
        let headers = [
            ("content-type", "application/grpc-web+proto"),
            ("x-grpc-web", "1"),
        ];
        let request = envelopes(&[(0, &GetRequest { id: "fig".into() }.encode_to_vec())]);
        let response = support::post(addr, GET, &headers, request, false).await;
        assert_eq!(response.status, 200);
        let frames = parse_envelopes(&response.body);
        assert_eq!(Item::decode(frames[0].1.as_slice()).unwrap().id, "fig");
        assert_eq!(frames[1].0, 0x80);
        assert!(
            trailers(&frames[1].1).contains("grpc-status:0"),
            "{}",
            trailers(&frames[1].1)
        );

        let request = envelopes(&[(
            0,
            &support::kitchen::ListRequest {
                kind: 0,
                limit: Some(3),
            }
            .encode_to_vec(),
        )]);
        let response = support::post(addr, LIST, &headers, request, false).await;
        let frames = parse_envelopes(&response.body);
        assert_eq!(frames.len(), 4);
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn text_encoding_and_json_messages() {
        let (service, _, _) = support::start_kitchen().await;
        let addr = service.local_addr();
        let headers = [
            ("content-type", "application/grpc-web-text+json"),
            ("accept", "application/grpc-web-text+json"),
        ];

        let request = STANDARD.encode(envelopes(&[(0, br#"{"id":"kiwi"}"#)]));
        let response = support::post(addr, GET, &headers, request, false).await;
        assert_eq!(
            response.header("content-type"),
            Some("application/grpc-web-text+json")
        );
        let body = STANDARD.decode(&response.body).unwrap();
        let frames = parse_envelopes(&body);
        assert_eq!(
            serde_json::from_slice::<Value>(&frames[0].1).unwrap(),
            json!({"id": "kiwi"})
        );
        assert!(trailers(&frames[1].1).contains("grpc-status:0"));
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn errors_arrive_in_the_trailers() {
        let (service, _, _) = support::start_kitchen().await;
        let headers = [("content-type", "application/grpc-web+proto")];
        let request = envelopes(&[(
            0,
            &GetRequest {
                id: "missing".into(),
            }
            .encode_to_vec(),
        )]);
        let response = support::post(service.local_addr(), GET, &headers, request, false).await;
        let status = response
            .header("grpc-status")
            .map(str::to_owned)
            .or_else(|| {
                let frames = parse_envelopes(&response.body);
                let text = trailers(&frames.last()?.1);
                text.lines().find_map(|line| {
                    line.strip_prefix("grpc-status:")
                        .map(|s| s.trim().to_owned())
                })
            });
        assert_eq!(status.as_deref(), Some("5"));
        service.stop().await.unwrap();
    }
}

#[tokio::test]
async fn the_generated_client_can_speak_json() {
    let (service, _, _) = support::start_kitchen().await;
    let client = micro::Client::builder()
        .address(service.local_addr().to_string())
        .codec(Format::Json)
        .build()
        .unwrap();
    let kitchen = KitchenClient::new(client);
    let item = Item {
        id: "j".into(),
        count: 1 << 60,
        ratio: 0.25,
        ..Item::default()
    };
    assert_eq!(kitchen.echo(item.clone()).await.unwrap(), item);
    let listed: Vec<_> = kitchen
        .list(support::kitchen::ListRequest {
            kind: 0,
            limit: Some(2),
        })
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(listed.len(), 2);
    let stored = kitchen
        .put(futures::stream::iter([item.clone(), item.clone()]))
        .await
        .unwrap();
    assert_eq!(stored.stored, 2);
    let mut chat = kitchen.chat(futures::stream::iter([item])).await.unwrap();
    assert_eq!(chat.recv().await.unwrap().unwrap().id, "re: j");
    let err = kitchen
        .get(GetRequest {
            id: "missing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), micro::Code::NotFound);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn cors_preflight_and_response_headers() {
    let (service, _, _) = support::start_kitchen().await;
    let addr = service.local_addr();
    let preflight = http::Request::builder()
        .method("OPTIONS")
        .uri(format!("http://{addr}{GET}"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-grpc-web")
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    let response = support::send_raw(preflight, false).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert!(
        response
            .header("access-control-allow-headers")
            .unwrap()
            .contains("x-grpc-web")
    );

    let headers = [
        ("content-type", "application/json"),
        ("origin", "https://app.example"),
    ];
    let response = support::post(addr, GET, &headers, r#"{"id":"x"}"#, false).await;
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert!(
        response
            .header("access-control-expose-headers")
            .unwrap()
            .contains("grpc-status")
    );
    service.stop().await.unwrap();
}
