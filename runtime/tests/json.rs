//! Canonical proto3 JSON, table-tested through a Connect unary call to `Kitchen.Echo`.

mod support;

use micro::{JsonOptions, RunningService};
use serde_json::{Value, json};
use support::kitchen::KitchenServer;

const ECHO: &str = "/fixtures.kitchen.Kitchen/Echo";

async fn start(options: JsonOptions) -> RunningService {
    micro::Service::new("kitchen")
        .address("127.0.0.1:0")
        .registry(support::memory_registry())
        .json_options(options)
        .handle(KitchenServer::new(support::TestKitchen::default()))
        .start()
        .await
        .unwrap()
}

async fn echo(service: &RunningService, input: &Value) -> support::RawResponse {
    let headers = [("content-type", "application/json")];
    support::post(
        service.local_addr(),
        ECHO,
        &headers,
        input.to_string(),
        false,
    )
    .await
}

/// Each case: what is sent, and what the echo must answer.
fn round_trips() -> Vec<(Value, Value)> {
    vec![
        // 64-bit integers are strings; numbers are accepted too.
        (
            json!({"count": "9007199254740993", "big": "18446744073709551615"}),
            json!({"count": "9007199254740993", "big": "18446744073709551615"}),
        ),
        (json!({"count": 5}), json!({"count": "5"})),
        (
            json!({"ratio": 0.5, "done": true}),
            json!({"ratio": 0.5, "done": true}),
        ),
        // bytes are base64; oneofs hold one member.
        (json!({"blob": "aGVsbG8="}), json!({"blob": "aGVsbG8="})),
        (json!({"text": "hi"}), json!({"text": "hi"})),
        // Enums by name; numbers accepted.
        (json!({"kind": "KIND_BOOK"}), json!({"kind": "KIND_BOOK"})),
        (json!({"kind": 2}), json!({"kind": "KIND_FILM"})),
        // Maps, repeated fields and nested messages.
        (
            json!({"labels": {"a": 1}, "kinds": {"x": "KIND_BOOK"}}),
            json!({"labels": {"a": "1"}, "kinds": {"x": "KIND_BOOK"}}),
        ),
        (
            json!({"detail": {"type": "t", "kind": "KIND_FILM"}, "history": [{"type": "a"}], "tags": ["x", "y"]}),
            json!({"detail": {"type": "t", "kind": "KIND_FILM"}, "history": [{"type": "a"}], "tags": ["x", "y"]}),
        ),
        // proto3 `optional`: presence survives even at the default value.
        (json!({"note": ""}), json!({"note": ""})),
        // Defaults are left out.
        (
            json!({"id": "", "count": "0", "done": false, "tags": []}),
            json!({}),
        ),
        // Field names: lowerCamelCase out; the proto name is accepted in.
        (json!({"maybe_count": "3"}), json!({"maybeCount": "3"})),
        // Well-known types.
        (
            json!({"created": "2026-11-24T10:00:00Z", "ttl": "1.500s"}),
            json!({"created": "2026-11-24T10:00:00Z", "ttl": "1.500s"}),
        ),
        (
            json!({"attributes": {"a": 1.0, "b": [true, null, "s"]}}),
            json!({"attributes": {"a": 1.0, "b": [true, null, "s"]}}),
        ),
        (
            json!({"value": "x", "list": [1.0, "a"]}),
            json!({"value": "x", "list": [1.0, "a"]}),
        ),
        (
            json!({"maybeCount": "7", "maybeName": "n", "maybeDone": false}),
            json!({"maybeCount": "7", "maybeName": "n", "maybeDone": false}),
        ),
        (
            json!({"mask": "id,detail.type"}),
            json!({"mask": "id,detail.type"}),
        ),
        (
            json!({"extra": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "2s"}}),
            json!({"extra": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "2s"}}),
        ),
        (
            json!({"extra": {"@type": "type.googleapis.com/fixtures.types.Item.Detail", "type": "t"}}),
            json!({"extra": {"@type": "type.googleapis.com/fixtures.types.Item.Detail", "type": "t"}}),
        ),
        (json!({"nothing": {}}), json!({"nothing": {}})),
    ]
}

#[tokio::test]
async fn proto3_json_mapping_round_trips() {
    let service = start(JsonOptions::default()).await;
    for (input, expected) in round_trips() {
        let response = echo(&service, &input).await;
        assert_eq!(
            response.status,
            200,
            "{input}: {}",
            String::from_utf8_lossy(&response.body)
        );
        assert_eq!(response.json(), expected, "for input {input}");
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_json_is_a_400_naming_the_field_and_problem() {
    let service = start(JsonOptions::default()).await;
    let cases: [(&str, &[&str]); 6] = [
        (r#"{"count": "many"}"#, &["at `count`", "invalid"]),
        (
            r#"{"detail": {"kind": "KIND_NOPE"}}"#,
            &["at `detail.kind`", "KIND_NOPE"],
        ),
        (r#"{"created": "yesterday"}"#, &["at `created`"]),
        (r#"{"colour": "red"}"#, &["colour"]),
        (r#"{"id": "a""#, &["EOF"]),
        (r#"{} trailing"#, &["trailing characters"]),
    ];
    for (body, needles) in cases {
        let headers = [("content-type", "application/json")];
        let response = support::post(service.local_addr(), ECHO, &headers, body, false).await;
        assert_eq!(response.status, 400, "{body}");
        let error = response.json();
        assert_eq!(error["code"], "invalid_argument", "{body}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with("invalid JSON for fixtures.types.Item"),
            "{message}"
        );
        for needle in needles {
            assert!(
                message.contains(needle),
                "`{needle}` missing from: {message}"
            );
        }
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn options_change_names_defaults_and_unknown_fields() {
    let options = JsonOptions::default()
        .proto_field_names(true)
        .emit_defaults(true)
        .ignore_unknown_fields(true);
    let service = start(options).await;
    let response = echo(&service, &json!({"maybeCount": "3", "colour": "red"})).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let reply = response.json();
    assert_eq!(reply["maybe_count"], "3");
    assert!(reply.get("maybeCount").is_none());
    assert_eq!(reply["count"], "0");
    assert_eq!(reply["done"], false);
    assert_eq!(reply["tags"], json!([]));
    service.stop().await.unwrap();
}
