//! Well-known types in every field, through the records example: what gRPC stores, JSON reads
//! back the same, and the other way round.

mod support;

use std::process::Command;
use std::time::Duration;

use examples::records::{GetRequest, Record, RecordsClient, Tag};
use micro::codegen::prost::Message;
use micro::codegen::prost_types::{self, value::Kind};
use serde_json::{Value, json};
use support::Example;

const RECORDS: &str = env!("CARGO_BIN_EXE_records");

/// POSTs `body` as JSON with `Micro-Endpoint: endpoint`, as go-micro's curl does.
fn curl_endpoint(example: &Example, endpoint: &str, body: &Value) -> (u16, Value) {
    let output = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}", "-XPOST"])
        .args(["-H", "Content-Type: application/json"])
        .args(["-H", &format!("Micro-Endpoint: {endpoint}")])
        .args(["-d", &body.to_string(), &example.url()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), serde_json::from_str(body).unwrap())
}

fn client(example: &Example) -> RecordsClient {
    RecordsClient::new(micro::Client::connect(&example.addr.to_string()).unwrap())
}

fn full_record() -> Record {
    let tag = Tag {
        name: "blue".into(),
    };
    Record {
        id: "r1".into(),
        created: Some(prost_types::Timestamp {
            seconds: 1_796_292_000,
            nanos: 250_000_000,
        }),
        ttl: Some(prost_types::Duration {
            seconds: 3,
            nanos: 500_000_000,
        }),
        attributes: Some(prost_types::Struct {
            fields: [
                ("owner".to_owned(), prost_types::Value::from("ann")),
                ("rank".to_owned(), prost_types::Value::from(2.0)),
            ]
            .into(),
        }),
        extra: Some(prost_types::Any {
            type_url: "type.googleapis.com/records.Tag".into(),
            value: tag.encode_to_vec(),
        }),
        note: Some("first".into()),
        version: Some(7),
        archived: Some(false),
        score: Some(0.5),
        anything: Some(prost_types::Value {
            kind: Some(Kind::ListValue(prost_types::ListValue {
                values: vec![
                    true.into(),
                    prost_types::Value {
                        kind: Some(Kind::NullValue(0)),
                    },
                ],
            })),
        }),
    }
}

/// `full_record()` in proto3's JSON mapping.
fn full_record_json() -> Value {
    json!({
        "id": "r1",
        "created": "2026-12-03T10:00:00.250Z",
        "ttl": "3.500s",
        "attributes": {"owner": "ann", "rank": 2.0},
        "extra": {"@type": "type.googleapis.com/records.Tag", "name": "blue"},
        "note": "first",
        "version": "7",
        "archived": false,
        "score": 0.5,
        "anything": [true, null]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_round_trips_every_well_known_type() {
    let example = Example::start(RECORDS, &[]);
    let records = client(&example);
    let stored = records.put(full_record()).await.unwrap();
    assert_eq!(
        stored,
        full_record(),
        "created was set, so the server kept it"
    );
    let read = records.get(GetRequest { id: "r1".into() }).await.unwrap();
    assert_eq!(read, full_record());
}

#[tokio::test(flavor = "multi_thread")]
async fn json_reads_what_grpc_stored_and_grpc_reads_what_json_stored() {
    let example = Example::start(RECORDS, &[]);
    let records = client(&example);
    records.put(full_record()).await.unwrap();
    let (code, read) = curl_endpoint(&example, "Records.Get", &json!({"id": "r1"}));
    assert_eq!((code, &read), (200, &full_record_json()));

    let mut from_json = full_record_json();
    from_json["id"] = json!("r2");
    let (code, stored) = curl_endpoint(&example, "Records.Put", &from_json);
    assert_eq!((code, &stored), (200, &from_json));
    let read = records.get(GetRequest { id: "r2".into() }).await.unwrap();
    assert_eq!(
        read,
        Record {
            id: "r2".into(),
            ..full_record()
        }
    );
    let tag = Tag::decode(read.extra.unwrap().value.as_slice()).unwrap();
    assert_eq!(tag.name, "blue");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_stamps_created_and_absent_wrappers_stay_absent() {
    let example = Example::start(RECORDS, &[]);
    let (code, stored) = curl_endpoint(&example, "Records.Put", &json!({"id": "bare"}));
    assert_eq!(code, 200);
    let created = stored["created"].as_str().expect("created is stamped");
    assert!(created.ends_with('Z') && created.len() >= 20, "{created}");
    for absent in [
        "ttl",
        "attributes",
        "extra",
        "note",
        "version",
        "archived",
        "score",
    ] {
        assert!(
            stored.get(absent).is_none(),
            "{absent} should be absent: {stored}"
        );
    }
    let read = client(&example)
        .get(GetRequest { id: "bare".into() })
        .await
        .unwrap();
    assert_eq!((read.note, read.version, read.archived), (None, None, None));
    let age = std::time::SystemTime::now()
        .duration_since(read.created.unwrap().try_into().unwrap())
        .unwrap_or_default();
    assert!(age < Duration::from_secs(60), "created {age:?} ago");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_well_known_values_are_clear_errors() {
    let example = Example::start(RECORDS, &[]);
    for (field, value) in [
        ("created", json!("yesterday")),
        ("ttl", json!("3.5 seconds")),
        (
            "extra",
            json!({"@type": "type.googleapis.com/records.Nowhere"}),
        ),
        ("version", json!("seven")),
    ] {
        let (code, error) =
            curl_endpoint(&example, "Records.Put", &json!({"id": "x", field: value}));
        assert_eq!(code, 400, "{field}: {error}");
        let detail = error["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(field), "{field}: {error}");
    }
}
