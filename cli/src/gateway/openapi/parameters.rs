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

/// A parameter of an OpenAPI path: a whole field (`{name}` for `{name}` or `{name=*}`), or
/// one segment of a field whose template spans several (`projectsId` and `topicsId` in
/// `projects/{projectsId}/topics/{topicsId}` for `{topic=projects/*/topics/*}`), as Google's
/// own API documents name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PathParameter {
    /// The parameter's name in the path.
    pub name: String,
    /// The request field it fills (a field path, `book.id`).
    pub field: String,
    /// For a segment, the field's template with the segments named
    /// (`projects/{projectsId}/topics/{topicsId}`).
    pub segment_of: Option<String>,
}

/// The OpenAPI path of a template and its parameters: `/v1/{name=shelves/*}/books/{id}:get`
/// → `/v1/shelves/{shelvesId}/books/{id}:get`. A variable whose template spans segments is
/// written out, so clients send its slashes as slashes (OpenAPI path parameters cannot hold
/// any). `None` for what OpenAPI cannot describe: unnamed wildcards (`/v1/*/x`) and `**`.
pub(super) fn openapi_path(template: &str) -> Option<(String, Vec<PathParameter>)> {
    let mut path = String::new();
    let mut parameters = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let close = open + rest[open..].find('}')?;
        let inner = &rest[open + 1..close];
        let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
        path.push_str(&variable(field, pattern, &mut parameters)?);
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    let wildcard = path.split('/').any(|segment| {
        segment
            .split(':')
            .next()
            .is_some_and(|s| s.starts_with('*'))
    });
    (!wildcard).then_some((path, parameters))
}

/// The path text for the variable `field` of `pattern`, adding its parameters.
fn variable(field: &str, pattern: &str, parameters: &mut Vec<PathParameter>) -> Option<String> {
    if pattern.contains("**") {
        return None;
    }
    if pattern == "*" {
        parameters.push(PathParameter {
            name: field.to_owned(),
            field: field.to_owned(),
            segment_of: None,
        });
        return Some(format!("{{{field}}}"));
    }
    let first = parameters.len();
    let mut written = Vec::new();
    let mut previous = field;
    for segment in pattern.split('/') {
        if segment != "*" {
            written.push(segment.to_owned());
            previous = segment;
            continue;
        }
        let name = unique(&format!("{previous}Id"), parameters);
        written.push(format!("{{{name}}}"));
        parameters.push(PathParameter {
            name,
            field: field.to_owned(),
            segment_of: None,
        });
    }
    let written = written.join("/");
    for parameter in &mut parameters[first..] {
        parameter.segment_of = Some(written.clone());
    }
    Some(written)
}

/// `name`, or `name2`, `name3`… if a parameter already has it.
fn unique(name: &str, parameters: &[PathParameter]) -> String {
    let taken = |candidate: &str| parameters.iter().any(|p| p.name == candidate);
    (1..)
        .map(|n| match n {
            1 => name.to_owned(),
            n => format!("{name}{n}"),
        })
        .find(|candidate| !taken(candidate))
        .unwrap_or_default()
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

/// The OpenAPI parameters of `parameters` (of `input`'s fields): a whole field's schema, or
/// a string segment of one.
pub(super) fn path(
    schemas: &mut Schemas,
    input: &MessageDescriptor,
    parameters: &[PathParameter],
) -> Vec<Value> {
    parameters
        .iter()
        .map(|parameter| {
            let name = &parameter.name;
            let Some(template) = &parameter.segment_of else {
                let schema = field_at(input, &parameter.field)
                    .map(|field| schemas.field(&field))
                    .unwrap_or_else(|| json!({"type": "string"}));
                return json!({"name": name, "in": "path", "required": true, "schema": schema});
            };
            let description = format!(
                "A segment of `{}`, which the path sets to `{template}`.",
                parameter.field
            );
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": description,
                "schema": {"type": "string"},
            })
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
        let path = |t: &str| {
            openapi_path(t).map(|(path, parameters)| {
                let names: Vec<String> = parameters
                    .iter()
                    .map(|p| format!("{}>{}", p.name, p.field))
                    .collect();
                (path, names.join(","))
            })
        };
        assert_eq!(
            path("/v1/greet/{name}"),
            Some(("/v1/greet/{name}".into(), "name>name".into()))
        );
        assert_eq!(
            path("/v1/{name=shelves/*}/books/{book.id}:publish"),
            Some((
                "/v1/shelves/{shelvesId}/books/{book.id}:publish".into(),
                "shelvesId>name,book.id>book.id".into()
            ))
        );
        assert_eq!(
            path("/v1/{topic=projects/*/topics/*}:publish"),
            Some((
                "/v1/projects/{projectsId}/topics/{topicsId}:publish".into(),
                "projectsId>topic,topicsId>topic".into()
            ))
        );
        assert_eq!(
            path("/v1/{parent=projects/*}/{child=projects/*}"),
            Some((
                "/v1/projects/{projectsId}/projects/{projectsId2}".into(),
                "projectsId>parent,projectsId2>child".into()
            ))
        );
        assert_eq!(
            path("/v1/{name=*}"),
            Some(("/v1/{name}".into(), "name>name".into()))
        );
        assert_eq!(path("/v1/*/x"), None);
        assert_eq!(path("/v1/files/**"), None);
        assert_eq!(path("/v1/{name=files/**}"), None);
        assert_eq!(shape("/v1/{name}/b/{id}"), "/v1/{}/b/{}");
    }

    #[test]
    fn segments_say_which_field_they_fill() {
        let (_, parameters) = openapi_path("/v1/{topic=projects/*/topics/*}").unwrap();
        let template = "projects/{projectsId}/topics/{topicsId}";
        assert!(
            parameters
                .iter()
                .all(|p| p.segment_of.as_deref() == Some(template))
        );
    }
}
