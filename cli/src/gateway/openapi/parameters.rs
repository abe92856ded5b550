//! Path and query parameters of operations: google.api.http templates as OpenAPI paths, and
//! the request fields the gateway reads from the query string.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value, json};

use crate::schema::Schemas;

/// How deep nested messages are flattened into query parameters (`a.b.c`).
const QUERY_DEPTH: usize = 3;

/// Well-known types read from one query value (the gateway's request.rs agrees).
const ONE_VALUE: [&str; 13] = [
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
    "google.protobuf.NullValue",
];

/// The OpenAPI path of a template (`/v1/{name=shelves/*}:get` → `/v1/{name}:get`) and its
/// variables' field paths; `None` when it has unnamed wildcards (`/v1/*/x`).
pub(super) fn openapi_path(template: &str) -> Option<(String, Vec<String>)> {
    let mut path = String::new();
    let mut variables = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let close = open + rest[open..].find('}')?;
        let inner = &rest[open + 1..close];
        let field = inner.split_once('=').map_or(inner, |(field, _)| field);
        path.push_str(&format!("{{{field}}}"));
        variables.push(field.to_owned());
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    let wildcard = path.split('/').any(|segment| {
        segment
            .split(':')
            .next()
            .is_some_and(|s| s.starts_with('*'))
    });
    (!wildcard).then_some((path, variables))
}

/// The path with its variables unnamed: two paths of one shape are the same to OpenAPI.
pub(super) fn shape(path: &str) -> String {
    let mut shape = String::new();
    let mut in_variable = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_variable = true;
                shape.push_str("{}");
            }
            '}' => in_variable = false,
            c if !in_variable => shape.push(c),
            _ => {}
        }
    }
    shape
}

/// The path parameters for `variables` (field paths of `input`).
pub(super) fn path(
    schemas: &mut Schemas,
    input: &MessageDescriptor,
    variables: &[String],
) -> Vec<Value> {
    variables
        .iter()
        .map(|variable| {
            let schema = field_at(input, variable)
                .map(|field| schemas.field(&field))
                .unwrap_or_else(|| json!({"type": "string"}));
            json!({"name": variable, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

/// The query parameters: every field of `input` (nested ones as `a.b`) not bound by the path
/// or the body (`bound`, field paths), that one query value can set.
pub(super) fn query(
    schemas: &mut Schemas,
    input: &MessageDescriptor,
    bound: &[String],
) -> Vec<Value> {
    let mut found = Vec::new();
    let mut seen = vec![input.full_name().to_owned()];
    collect(schemas, input, "", "", bound, &mut seen, &mut found);
    found
}

/// Adds the parameters of `message`'s fields; `proto` and `json` are the field paths so far.
fn collect(
    schemas: &mut Schemas,
    message: &MessageDescriptor,
    proto: &str,
    json: &str,
    bound: &[String],
    seen: &mut Vec<String>,
    found: &mut Vec<Value>,
) {
    for field in message.fields() {
        let proto = format!("{proto}{}", field.name());
        let name = format!("{json}{}", field.json_name());
        if bound.contains(&proto) || field.is_map() {
            continue;
        }
        let nested = match field.kind() {
            Kind::Message(nested) if !ONE_VALUE.contains(&nested.full_name()) => nested,
            _ => {
                let schema = schemas.field(&field);
                found.push(
                    json!({"name": name, "in": "query", "required": false, "schema": schema}),
                );
                continue;
            }
        };
        let well_known = nested.full_name().starts_with("google.protobuf.");
        let deep = seen.len() > QUERY_DEPTH || seen.iter().any(|s| s == nested.full_name());
        if field.is_list() || well_known || deep {
            continue;
        }
        seen.push(nested.full_name().to_owned());
        let (proto, json) = (format!("{proto}."), format!("{name}."));
        collect(schemas, &nested, &proto, &json, bound, seen, found);
        seen.pop();
    }
}

/// The field at `path` (`name` or `book.id`) of `message`.
fn field_at(message: &MessageDescriptor, path: &str) -> Option<FieldDescriptor> {
    let mut message = message.clone();
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        let field = message
            .get_field_by_name(name)
            .or_else(|| message.get_field_by_json_name(name))?;
        if names.peek().is_none() {
            return Some(field);
        }
        message = field.kind().as_message()?.clone();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_openapi_paths() {
        let path = |t: &str| openapi_path(t).map(|(path, vars)| (path, vars.join(",")));
        assert_eq!(
            path("/v1/greet/{name}"),
            Some(("/v1/greet/{name}".into(), "name".into()))
        );
        assert_eq!(
            path("/v1/{name=shelves/*}/books/{book.id}:publish"),
            Some((
                "/v1/{name}/books/{book.id}:publish".into(),
                "name,book.id".into()
            ))
        );
        assert_eq!(path("/v1/*/x"), None);
        assert_eq!(path("/v1/files/**"), None);
        assert_eq!(shape("/v1/{name}/b/{id}"), "/v1/{}/b/{}");
    }
}
