//! Schemas of values that are not plain messages: scalars, enums, map keys and the well-known
//! types, each as the proto3 JSON mapping writes it (and the gateway reads it).

use prost_reflect::{EnumDescriptor, Kind};
use serde_json::{Value, json};

/// 64-bit integers are written as strings; these are the strings the gateway reads.
const SIGNED: &str = "^-?[0-9]+$";
const UNSIGNED: &str = "^[0-9]+$";
/// Standard or URL-safe base64, padded or not, as the gateway reads bytes.
const BASE64: &str = "^[A-Za-z0-9+/_-]*={0,2}$";
/// A proto3 JSON duration: seconds with up to nine fractional digits, then `s`.
const DURATION: &str = "^-?[0-9]+(\\.[0-9]{1,9})?s$";

/// The schema of a scalar field value (not a message or an enum).
pub(super) fn scalar(kind: &Kind) -> Value {
    match kind {
        Kind::Double => floating("double"),
        Kind::Float => floating("float"),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!({
            "type": "integer", "format": "int32",
            "minimum": i32::MIN, "maximum": i32::MAX,
        }),
        Kind::Uint32 | Kind::Fixed32 => json!({
            "type": "integer", "minimum": 0, "maximum": u32::MAX,
        }),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => wide(i64::MIN.into(), i64::MAX.into()),
        Kind::Uint64 | Kind::Fixed64 => wide(0.into(), u64::MAX.into()),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "contentEncoding": "base64", "pattern": BASE64}),
        Kind::Message(_) | Kind::Enum(_) => json!({}),
    }
}

/// A float or double: a number, or one of the strings for the values JSON lacks.
fn floating(format: &str) -> Value {
    json!({"anyOf": [
        {"type": "number", "format": format},
        {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
    ]})
}

/// A 64-bit integer: a decimal string (as the gateway writes it) or a JSON integer.
fn wide(minimum: Value, maximum: Value) -> Value {
    let pattern = match minimum.as_i64() {
        Some(0) => UNSIGNED,
        _ => SIGNED,
    };
    let format = match pattern {
        UNSIGNED => "uint64",
        _ => "int64",
    };
    json!({"anyOf": [
        {"type": "string", "pattern": pattern, "description": format!("{format}, as a decimal string")},
        {"type": "integer", "format": format, "minimum": minimum, "maximum": maximum},
    ]})
}

/// The pattern of map keys of `kind` (JSON object keys are strings): `None` for string keys.
pub(super) fn key_pattern(kind: &Kind) -> Option<&'static str> {
    match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Some(SIGNED),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Some(SIGNED),
        Kind::Uint32 | Kind::Fixed32 | Kind::Uint64 | Kind::Fixed64 => Some(UNSIGNED),
        Kind::Bool => Some("^(true|false)$"),
        _ => None,
    }
}

/// The value names (as strings) or any 32-bit number; `google.protobuf.NullValue` is `null`.
pub(super) fn enumeration(descriptor: &EnumDescriptor) -> Value {
    if descriptor.full_name() == "google.protobuf.NullValue" {
        return json!({"type": "null"});
    }
    let names: Vec<String> = descriptor.values().map(|v| v.name().to_owned()).collect();
    let mut schema = json!({"anyOf": [
        {"type": "string", "enum": names},
        {"type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX},
    ]});
    let file = descriptor.parent_file();
    let values: Vec<String> = descriptor
        .values()
        .filter_map(|value| {
            let text = super::comment(&file, value.path())?;
            Some(format!("- `{}`: {}", value.name(), text.replace('\n', " ")))
        })
        .collect();
    let own = super::comment(&file, descriptor.path());
    let list = (!values.is_empty()).then(|| values.join("\n"));
    if let Some(text) = super::join(own.into_iter().chain(list)) {
        schema["description"] = Value::String(text);
    }
    schema
}

/// The JSON form of a well-known type, by full name; `None` for other messages.
pub(super) fn well_known(full_name: &str) -> Option<Value> {
    let wrapped = |kind: Kind| nullable(scalar(&kind));
    let schema = match full_name.strip_prefix("google.protobuf.")? {
        "Timestamp" => json!({
            "type": "string", "format": "date-time",
            "description": "An RFC 3339 date-time, e.g. `1972-01-01T10:00:20.021Z`.",
        }),
        "Duration" => json!({
            "type": "string", "pattern": DURATION,
            "description": "Seconds with up to nine fractional digits and an `s`, e.g. `1.5s`.",
        }),
        "FieldMask" => json!({
            "type": "string",
            "description": "Comma-separated lowerCamelCase field paths, e.g. `user.displayName,photo`.",
        }),
        "Struct" => json!({"type": "object"}),
        "ListValue" => json!({"type": "array"}),
        "Value" => json!({"description": "Any JSON value."}),
        "Empty" => json!({"type": "object", "properties": {}, "additionalProperties": false}),
        "Any" => json!({
            "type": "object",
            "properties": {"@type": {"type": "string"}},
            "required": ["@type"],
            "description": "A message of any type: `@type` names it (`type.googleapis.com/pkg.Message`), the other properties are its fields (or `value` for well-known types).",
        }),
        "DoubleValue" => wrapped(Kind::Double),
        "FloatValue" => wrapped(Kind::Float),
        "Int64Value" => wrapped(Kind::Int64),
        "UInt64Value" => wrapped(Kind::Uint64),
        "Int32Value" => wrapped(Kind::Int32),
        "UInt32Value" => wrapped(Kind::Uint32),
        "BoolValue" => wrapped(Kind::Bool),
        "StringValue" => wrapped(Kind::String),
        "BytesValue" => wrapped(Kind::Bytes),
        _ => return None,
    };
    Some(schema)
}

/// `schema`, or `null` (a wrapper that is not set).
fn nullable(schema: Value) -> Value {
    match schema.get("anyOf") {
        Some(Value::Array(branches)) => {
            let mut branches = branches.clone();
            branches.push(json!({"type": "null"}));
            json!({"anyOf": branches})
        }
        _ => json!({"anyOf": [schema, {"type": "null"}]}),
    }
}
