//! Schemas of a proto covering every mapping, compiled by protox with source info; instances
//! are judged by micro's own JSON reader and by a real JSON Schema validator (Python's
//! `jsonschema`), which must agree.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use micro::JsonOptions;
use micro::dynamic;
use prost_reflect::prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value as PValue};
use serde_json::{Value, json};

use super::*;
use micro_test_support::{output_within, python_with};

const THINGS: &str = r#"syntax = "proto3";

// Things for the schema tests.
package t;

import "google/api/field_behavior.proto";
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

// Keeps things.
service Things {
  // Gets a thing.
  // By name.
  rpc Get(Everything) returns (Everything);
}

// A thing with every kind of field.
message Everything {
  // Its name.
  string name = 1 [(google.api.field_behavior) = REQUIRED];
  int32 i32 = 2;
  uint32 u32 = 3;
  int64 i64 = 4;
  uint64 u64 = 5;
  sint64 s64 = 6;
  float f32 = 7;
  double f64 = 8;
  bool flag = 9;
  bytes data = 10;
  Colour colour = 11;
  repeated string tags = 12;
  map<string, int64> counts = 13;
  map<int32, Everything> children = 14;
  map<bool, string> flags = 15;
  oneof choice {
    string text = 16;
    int32 number = 17;
    Everything nested = 18;
  }
  google.protobuf.Timestamp created_at = 19 [(google.api.field_behavior) = OUTPUT_ONLY];
  google.protobuf.Duration ttl = 20;
  google.protobuf.Struct attributes = 21;
  google.protobuf.Value anything = 22;
  google.protobuf.ListValue list = 23;
  google.protobuf.NullValue nothing = 24;
  google.protobuf.StringValue nickname = 25;
  google.protobuf.Int64Value big = 26;
  google.protobuf.BytesValue blob = 27;
  google.protobuf.Any extra = 28;
  google.protobuf.FieldMask mask = 29;
  google.protobuf.Empty empty = 30;
  optional string maybe = 31; // Proto3 optional: not a oneof in JSON.
  repeated Colour colours = 32;
  Everything parent = 33;
  google.protobuf.DoubleValue ratio = 34;
}

// Colours of things.
enum Colour {
  // Not said.
  COLOUR_UNSPECIFIED = 0;
  RED = 1;
  GREEN = 2;
}
"#;

const LEGACY: &str = r#"syntax = "proto2";
package t2;
message Legacy {
  required string id = 1;
  optional int32 count = 2;
}
"#;

/// Just what the tests need of googleapis' google/api/field_behavior.proto.
const FIELD_BEHAVIOR: &str = r#"syntax = "proto3";
package google.api;
import "google/protobuf/descriptor.proto";
extend google.protobuf.FieldOptions {
  repeated google.api.FieldBehavior field_behavior = 1052 [packed = false];
}
enum FieldBehavior {
  FIELD_BEHAVIOR_UNSPECIFIED = 0;
  OPTIONAL = 1;
  REQUIRED = 2;
  OUTPUT_ONLY = 3;
  INPUT_ONLY = 4;
}
"#;

fn pool() -> DescriptorPool {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("things.proto", THINGS),
        ("legacy.proto", LEGACY),
        ("google/api/field_behavior.proto", FIELD_BEHAVIOR),
    ];
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    protox::Compiler::new([dir.path()])
        .unwrap()
        .include_source_info(true)
        .include_imports(true)
        .open_files(["things.proto", "legacy.proto"])
        .unwrap()
        .descriptor_pool()
}

fn message(name: &str) -> MessageDescriptor {
    pool().get_message_by_name(name).unwrap()
}

#[test]
fn comments_come_from_source_info() {
    let pool = pool();
    let everything = pool.get_message_by_name("t.Everything").unwrap();
    let file = everything.parent_file();
    let text = |path: &[i32]| comment(&file, path);
    assert_eq!(
        text(everything.path()).as_deref(),
        Some("A thing with every kind of field.")
    );
    let name = everything.get_field_by_name("name").unwrap();
    assert_eq!(text(name.path()).as_deref(), Some("Its name."));
    let maybe = everything.get_field_by_name("maybe").unwrap();
    assert_eq!(
        text(maybe.path()).as_deref(),
        Some("Proto3 optional: not a oneof in JSON.")
    );
    let get = pool
        .get_service_by_name("t.Things")
        .unwrap()
        .methods()
        .next();
    let get = get.unwrap();
    assert_eq!(text(get.path()).as_deref(), Some("Gets a thing.\nBy name."));
    assert_eq!(
        text(everything.get_field_by_name("i32").unwrap().path()),
        None
    );

    // Descriptors without source info (as most reflection services serve them) have none.
    let mut bare = DescriptorPool::new();
    let stripped = pool.file_descriptor_protos().cloned().map(|mut proto| {
        proto.source_code_info = None;
        proto
    });
    bare.add_file_descriptor_protos(stripped).unwrap();
    let plain = bare.get_message_by_name("t.Everything").unwrap();
    assert_eq!(comment(&plain.parent_file(), plain.path()), None);
}

#[test]
fn every_mapping_is_in_the_definitions() {
    let mut schemas = Schemas::new("#/components/schemas/");
    let reference = schemas.reference(&message("t.Everything"));
    assert_eq!(
        reference,
        json!({"$ref": "#/components/schemas/t.Everything"})
    );
    let definitions = schemas.into_definitions();
    let everything = &definitions["t.Everything"];
    let property = |name: &str| &everything["properties"][name];
    assert_eq!(everything["type"], "object");
    assert_eq!(everything["additionalProperties"], false);
    assert_eq!(everything["required"], json!(["name"]));
    assert_eq!(property("name")["description"], "Its name.");
    assert_eq!(property("createdAt")["readOnly"], true);
    assert!(property("created_at").is_null(), "JSON names only");
    assert_eq!(property("i32")["maximum"], i32::MAX);
    assert_eq!(property("u64")["anyOf"][1]["maximum"], json!(u64::MAX));
    assert_eq!(property("data")["contentEncoding"], "base64");
    assert_eq!(property("tags")["type"], "array");
    assert_eq!(
        property("flags")["propertyNames"]["pattern"],
        "^(true|false)$"
    );
    assert_eq!(
        property("children")["additionalProperties"]["$ref"],
        "#/components/schemas/t.Everything"
    );
    assert!(property("counts").get("propertyNames").is_none());
    let oneof = everything["allOf"][0]["oneOf"].as_array().unwrap();
    assert_eq!(oneof.len(), 4, "one branch per member and one for none");
    let description = everything["description"].as_str().unwrap();
    assert!(description.contains("At most one of `text`, `number`, `nested`"));
    assert!(
        everything["allOf"].as_array().unwrap().len() == 1,
        "proto3 optional is no oneof"
    );
    let colour = &definitions["t.Colour"];
    assert_eq!(
        colour["anyOf"][0]["enum"],
        json!(["COLOUR_UNSPECIFIED", "RED", "GREEN"])
    );
    assert!(
        colour["description"]
            .as_str()
            .unwrap()
            .contains("`COLOUR_UNSPECIFIED`: Not said.")
    );
    assert_eq!(
        definitions["google.protobuf.Timestamp"]["format"],
        "date-time"
    );
    assert_eq!(
        definitions["google.protobuf.NullValue"],
        json!({"type": "null"})
    );
    assert_eq!(
        definitions["google.protobuf.Any"]["required"],
        json!(["@type"])
    );
    assert_eq!(definitions["google.protobuf.ListValue"]["type"], "array");
    assert_eq!(definitions["google.protobuf.Struct"]["type"], "object");
    assert_eq!(definitions["google.protobuf.FieldMask"]["type"], "string");
    let nickname = &definitions["google.protobuf.StringValue"]["anyOf"];
    assert_eq!(nickname[1]["type"], "null");
    assert_eq!(
        message_definitions(&definitions),
        1,
        "map entries are inlined"
    );
}

/// As served by a program whose reflection leaves out google/api/field_behavior.proto: the
/// annotations are unknown fields of the options, and still read.
#[test]
fn field_behavior_is_read_without_its_file() {
    let set = DescriptorPool::global()
        .get_message_by_name("google.protobuf.FileDescriptorSet")
        .unwrap();
    let mut files = DynamicMessage::decode(set.clone(), pool().encode_to_vec().as_slice()).unwrap();
    let behavior = "google/api/field_behavior.proto";
    let kept: Vec<PValue> = files
        .get_field_by_name("file")
        .unwrap()
        .as_list()
        .unwrap()
        .iter()
        .filter_map(|file| {
            let mut file = file.as_message()?.clone();
            if file.get_field_by_name("name")?.as_str() == Some(behavior) {
                return None;
            }
            let dependencies = file.get_field_by_name("dependency")?.as_list()?.to_vec();
            let dependencies = dependencies
                .into_iter()
                .filter(|d| d.as_str() != Some(behavior));
            file.set_field_by_name("dependency", PValue::List(dependencies.collect()));
            Some(PValue::Message(file))
        })
        .collect();
    files.set_field_by_name("file", PValue::List(kept));
    let bare = DescriptorPool::decode(files.encode_to_vec().as_slice()).unwrap();
    assert!(
        bare.get_extension_by_name("google.api.field_behavior")
            .is_none()
    );
    let everything = bare.get_message_by_name("t.Everything").unwrap();
    let schema = standalone(&everything);
    assert_eq!(schema["required"], json!(["name"]));
    assert_eq!(schema["properties"]["createdAt"]["readOnly"], true);
}

/// How many definitions are of messages in package `t` (map entries would be more).
fn message_definitions(definitions: &std::collections::BTreeMap<String, Value>) -> usize {
    definitions
        .iter()
        .filter(|(name, value)| name.starts_with("t.") && value.get("properties").is_some())
        .count()
}

#[test]
fn a_standalone_schema_is_an_object_at_the_top_and_refers_to_itself_as_the_root() {
    let schema = standalone(&message("t.Everything"));
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["$schema"], DIALECT);
    assert_eq!(schema["properties"]["parent"], json!({"$ref": "#"}));
    assert_eq!(
        schema["properties"]["colour"],
        json!({"$ref": "#/$defs/t.Colour"})
    );
    assert!(schema["$defs"].get("t.Everything").is_none());
    let legacy = standalone(&message("t2.Legacy"));
    assert_eq!(legacy["required"], json!(["id"]));
    assert!(legacy.get("$defs").is_none());
}

/// A JSON instance, whether micro's JSON reader takes it, and whether the schema does.
struct Case {
    json: Value,
    read: bool,
    valid: bool,
}

fn case(json: Value, read: bool, valid: bool) -> Case {
    Case { json, read, valid }
}

fn cases() -> Vec<Case> {
    let every = json!({
        "name": "x", "i32": -2147483648, "u32": 4294967295u32,
        "i64": "-9223372036854775808", "u64": "18446744073709551615", "s64": 5,
        "f32": "NaN", "f64": "-Infinity", "flag": true, "data": "aGk=", "colour": "RED",
        "tags": ["a", "b"], "counts": {"a": "1", "b": 2}, "children": {"-1": {"name": "c"}},
        "flags": {"true": "yes"}, "text": "t", "createdAt": "2024-01-02T03:04:05.5Z",
        "ttl": "1.5s", "attributes": {"k": [1, "x", null, {"d": true}]}, "anything": 4,
        "list": [1, {"a": 2}], "nothing": null, "nickname": "nick", "big": "12",
        "blob": "AAE=", "extra": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "2s"},
        "mask": "name,createdAt", "empty": {}, "maybe": "", "colours": ["GREEN", 7],
        "parent": {"name": "p", "nested": {"name": "n", "number": 3}}, "ratio": 0.5,
    });
    let with = |extra: Value| {
        let mut object = json!({"name": "a"});
        for (key, value) in extra.as_object().unwrap() {
            object[key] = value.clone();
        }
        object
    };
    vec![
        case(json!({"name": "a"}), true, true),
        case(every, true, true),
        case(with(json!({"number": 3})), true, true),
        case(with(json!({"nickname": null, "ratio": null})), true, true),
        case(with(json!({"i64": 12, "u64": 0, "f32": 1.5})), true, true),
        case(with(json!({"text": "t", "number": 1})), false, false),
        case(with(json!({"bogus": 1})), false, false),
        case(with(json!({"colour": "PURPLE"})), false, false),
        case(with(json!({"i32": 2147483648u32})), false, false),
        case(with(json!({"ttl": "5 minutes"})), false, false),
        case(with(json!({"flags": {"maybe": "x"}})), false, false),
        case(
            with(json!({"children": {"x": {"name": "c"}}})),
            false,
            false,
        ),
        case(with(json!({"u64": -1})), false, false),
        case(with(json!({"flag": "yes"})), false, false),
        case(with(json!({"tags": "a"})), false, false),
        case(with(json!({"extra": {"value": "2s"}})), false, false),
        case(with(json!({"parent": {"bogus": 1}})), false, false),
        // Stricter than the reader: field_behavior REQUIRED is documentation to the reader.
        case(json!({"i32": 1}), true, false),
    ]
}

#[test]
fn the_reader_agrees_with_each_case() {
    let everything = message("t.Everything");
    for case in cases() {
        let bytes = serde_json::to_vec(&case.json).unwrap();
        let read = dynamic::from_json(&everything, &bytes, &JsonOptions::default());
        assert_eq!(read.is_ok(), case.read, "{}: {read:?}", case.json);
    }
}

/// Runs Python's `jsonschema` over both schema forms, every case and every JSON micro writes
/// for the cases it reads (with and without default values).
#[test]
fn a_real_validator_agrees_with_the_schemas() {
    let Some(python) = python_with("jsonschema") else {
        return;
    };
    let everything = message("t.Everything");
    let mut instances = Vec::new();
    for case in cases() {
        instances.push(json!({"instance": case.json, "valid": case.valid}));
        if !case.read {
            continue;
        }
        let bytes = serde_json::to_vec(&case.json).unwrap();
        let read = dynamic::from_json(&everything, &bytes, &JsonOptions::default()).unwrap();
        for options in [
            JsonOptions::default(),
            JsonOptions::default().emit_defaults(true),
        ] {
            let written = dynamic::to_json(&read, &options).unwrap();
            let written: Value = serde_json::from_str(&written).unwrap();
            let valid = case.valid || options.emit_defaults;
            instances.push(json!({"instance": written, "valid": valid, "written": true}));
        }
    }
    let mut components = Schemas::new("#/components/schemas/");
    let root = components.reference(&everything);
    let mut document = json!({"components": {"schemas": components.into_definitions()}});
    document["$ref"] = root["$ref"].clone();
    document["$schema"] = json!(DIALECT);
    let dir = tempfile::tempdir().unwrap();
    let schemas = [standalone(&everything), document];
    write(dir.path(), "schemas.json", &json!(schemas));
    write(dir.path(), "instances.json", &json!(instances));
    let output = output_within(
        Command::new(&python)
            .arg("-c")
            .arg(VALIDATE)
            .arg(dir.path()),
        Duration::from_secs(60),
    );
    assert!(
        output.status.success(),
        "jsonschema disagrees:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let checked = String::from_utf8_lossy(&output.stdout);
    assert!(
        checked.contains(&format!("checked {}", 2 * instances.len())),
        "{checked}"
    );
}

/// Checks both schemas against the metaschema, then each instance against both.
const VALIDATE: &str = r#"
import json, sys, pathlib
from jsonschema import Draft202012Validator
root = pathlib.Path(sys.argv[1])
schemas = json.loads((root / "schemas.json").read_text())
instances = json.loads((root / "instances.json").read_text())
wrong, checked = [], 0
for schema in schemas:
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for case in instances:
        errors = [e.message for e in validator.iter_errors(case["instance"])]
        checked += 1
        if (not errors) != case["valid"]:
            wrong.append((case, errors[:3]))
for case, errors in wrong:
    print("expected valid" if case["valid"] else "expected invalid", json.dumps(case["instance"]), errors)
print("checked", checked)
sys.exit(1 if wrong else 0)
"#;

fn write(dir: &Path, name: &str, value: &Value) {
    std::fs::write(dir.join(name), serde_json::to_vec_pretty(value).unwrap()).unwrap();
}
