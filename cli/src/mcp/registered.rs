//! Tools for services that serve no gRPC reflection (go-micro before v6.10), as go-micro's own
//! `micro mcp` builds them: from the endpoints the service registered. Their schemas come from
//! the registry's shapes (`{name, type, values}`, Go type names), so they are loose: fields
//! are typed where the type is known, none is required, and other fields are allowed. The
//! arguments go as JSON, unchecked, through the client stack; the service judges them.

use micro::registry::{Endpoint, Value as Shape};
use serde_json::{Map, Value, json};

use crate::go_type::{GoType, go_type};
use crate::schema::DIALECT;

/// Whether `endpoint` can be a tool: a unary endpoint, not a streaming one (nothing describes
/// its messages well enough to stream) nor a broker subscriber.
pub(super) fn callable(endpoint: &Endpoint) -> bool {
    let flag = |key: &str| endpoint.metadata.get(key).map(String::as_str) == Some("true");
    !flag("stream") && !flag("subscriber")
}

/// The JSON Schema of a registered message shape (`None`: any object).
pub(super) fn schema(shape: Option<&Shape>) -> Map<String, Value> {
    let mut schema = match shape {
        Some(shape) => message(shape),
        None => Map::from_iter([("type".to_owned(), json!("object"))]),
    };
    schema.insert("$schema".into(), json!(DIALECT));
    schema
}

/// An object with the shape's fields as properties.
fn message(shape: &Shape) -> Map<String, Value> {
    let properties: Map<String, Value> = shape
        .values
        .iter()
        .filter(|field| !field.name.is_empty())
        .map(|field| (field.name.clone(), Value::Object(field_schema(field))))
        .collect();
    let mut schema = Map::from_iter([("type".to_owned(), json!("object"))]);
    if !properties.is_empty() {
        schema.insert("properties".into(), Value::Object(properties));
    }
    if !shape.kind.is_empty() {
        schema.insert("title".into(), json!(shape.kind));
    }
    schema
}

fn field_schema(field: &Shape) -> Map<String, Value> {
    let scalar = match go_type(&field.kind) {
        GoType::List(item) => {
            let item = Shape {
                name: String::new(),
                kind: item.to_owned(),
                values: field.values.clone(),
            };
            return Map::from_iter([
                ("type".to_owned(), json!("array")),
                ("items".to_owned(), Value::Object(field_schema(&item))),
            ]);
        }
        GoType::String => Some(json!({"type": "string"})),
        GoType::Bytes => Some(json!({"type": "string", "contentEncoding": "base64"})),
        GoType::Bool => Some(json!({"type": "boolean"})),
        GoType::Float => Some(json!({"type": "number"})),
        GoType::Int { .. } => Some(json!({"type": "integer"})),
        // protojson writes 64-bit integers as strings, encoding/json as numbers.
        GoType::Int64 { .. } => Some(json!({"type": ["integer", "string"]})),
        GoType::Map => Some(json!({"type": "object"})),
        GoType::Other => None,
    };
    match scalar {
        Some(Value::Object(schema)) => schema,
        _ if !field.values.is_empty() => message(field),
        // A type the registry names without fields: anything.
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(name: &str, kind: &str, values: Vec<Shape>) -> Shape {
        Shape {
            name: name.into(),
            kind: kind.into(),
            values,
        }
    }

    #[test]
    fn go_types_map_to_json_schema_types() {
        let request = shape(
            "Request",
            "Request",
            vec![
                shape("name", "string", vec![]),
                shape("count", "int32", vec![]),
                shape("id", "int64", vec![]),
                shape("ok", "bool", vec![]),
                shape("tags", "[]string", vec![]),
                shape("data", "[]byte", vec![]),
                shape("labels", "map[string]string", vec![]),
                shape("items", "[]Item", vec![shape("price", "float64", vec![])]),
                shape("owner", "*User", vec![shape("email", "string", vec![])]),
                shape("opaque", "Any", vec![]),
            ],
        );
        let schema = Value::Object(schema(Some(&request)));
        let properties = &schema["properties"];
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["$schema"], DIALECT);
        assert_eq!(properties["name"], json!({"type": "string"}));
        assert_eq!(properties["count"], json!({"type": "integer"}));
        assert_eq!(properties["id"], json!({"type": ["integer", "string"]}));
        assert_eq!(properties["ok"], json!({"type": "boolean"}));
        assert_eq!(
            properties["tags"],
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_eq!(properties["data"]["contentEncoding"], "base64");
        assert_eq!(properties["labels"], json!({"type": "object"}));
        assert_eq!(
            properties["items"]["items"]["properties"]["price"],
            json!({"type": "number"})
        );
        assert_eq!(
            properties["owner"]["properties"]["email"],
            json!({"type": "string"})
        );
        assert_eq!(properties["opaque"], json!({}));
        assert!(schema.get("required").is_none());
        assert!(schema.get("additionalProperties").is_none());
    }

    #[test]
    fn an_unregistered_shape_is_any_object() {
        assert_eq!(
            Value::Object(schema(None)),
            json!({"type": "object", "$schema": DIALECT})
        );
    }

    #[test]
    fn streams_and_subscribers_are_not_tools() {
        let endpoint = |metadata: &[(&str, &str)]| Endpoint {
            name: "Greeter.Hello".into(),
            request: None,
            response: None,
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert!(callable(&endpoint(&[])));
        assert!(!callable(&endpoint(&[("stream", "true")])));
        assert!(!callable(&endpoint(&[
            ("subscriber", "true"),
            ("topic", "news")
        ])));
    }
}
