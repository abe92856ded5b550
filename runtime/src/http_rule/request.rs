//! The request message of a google.api.http route, put together as JSON from the body, the
//! query string and the path's variables (in that order, later ones winning), then read
//! with the message's descriptor.

use percent_encoding::percent_decode_str;
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value};

use super::Binding;
use crate::Status;

/// The request JSON for `binding`: `body` where the rule puts it, then the query parameters
/// (unless the body is `*`), then the path variables.
pub fn compose(
    input: &MessageDescriptor,
    binding: &Binding,
    variables: &[(String, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<Value, Status> {
    let body = binding.body.as_deref().map(|place| (place, body));
    compose_parts(input, body, query_for(binding, query), variables)
}

/// The request JSON of one WebSocket frame on `binding`'s path: the frame goes where the rule
/// puts the body (it is the whole request when the rule has no body), with the query and the
/// path variables as [`compose`] adds them. `None` (an empty first frame) is the request from
/// the path and the query alone.
pub fn compose_frame(
    input: &MessageDescriptor,
    binding: &Binding,
    variables: &[(String, String)],
    query: Option<&str>,
    frame: Option<&[u8]>,
) -> Result<Value, Status> {
    let place = binding.body.as_deref().unwrap_or("*");
    let body = frame.map(|frame| (place, frame));
    compose_parts(input, body, query_for(binding, query), variables)
}

/// The query parameters that fill fields: none when the body is the whole request (`*`).
fn query_for<'a>(binding: &Binding, query: Option<&'a str>) -> Option<&'a str> {
    query.filter(|_| binding.body.as_deref() != Some("*"))
}

/// `body` at its place (`*`: the whole request; a field), then `query`, then `variables`.
fn compose_parts(
    input: &MessageDescriptor,
    body: Option<(&str, &[u8])>,
    query: Option<&str>,
    variables: &[(String, String)],
) -> Result<Value, Status> {
    let mut request = match body {
        None => Value::Object(Map::new()),
        Some(("*", body)) => parse_body(body)?,
        Some((field, body)) => {
            let mut request = Map::new();
            request.insert(field.to_owned(), parse_body(body)?);
            Value::Object(request)
        }
    };
    add_query(&mut request, input, query)?;
    for (path, value) in variables {
        set_field(&mut request, input, path, value, "path variable")?;
    }
    Ok(request)
}

/// The request JSON from the query string alone (`GET` of a server-streaming method).
pub fn from_query(input: &MessageDescriptor, query: Option<&str>) -> Result<Value, Status> {
    let mut request = Value::Object(Map::new());
    add_query(&mut request, input, query)?;
    Ok(request)
}

/// Sets the fields the query parameters name.
fn add_query(
    request: &mut Value,
    input: &MessageDescriptor,
    query: Option<&str>,
) -> Result<(), Status> {
    for (name, value) in query_pairs(query.unwrap_or_default()) {
        set_field(request, input, &name, &value, "query parameter")?;
    }
    Ok(())
}

/// The body as JSON; an empty body is `{}`.
pub fn parse_body(body: &[u8]) -> Result<Value, Status> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|err| {
        Status::invalid_argument(format!(
            "the request body is not valid JSON ({err}); send a JSON object such as {{\"name\":\"alice\"}}"
        ))
    })
}

/// Sets the field at `path` (`name` or `options.greeting`, proto or JSON names) to `raw`,
/// typed by the field's kind; repeated fields collect every value.
pub fn set_field(
    request: &mut Value,
    input: &MessageDescriptor,
    path: &str,
    raw: &str,
    what: &str,
) -> Result<(), Status> {
    let unknown = |name: &str| {
        let fields: Vec<String> = input.fields().map(|f| f.name().to_owned()).collect();
        Status::invalid_argument(format!(
            "{what} `{path}`: {} has no field `{name}`; its fields are {}",
            input.full_name(),
            fields.join(", ")
        ))
    };
    let mut message = input.clone();
    let mut object = request;
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        let field = find_field(&message, name).ok_or_else(|| unknown(name))?;
        let Value::Object(map) = object else {
            return Err(Status::invalid_argument(format!(
                "{what} `{path}`: the body sets `{name}`'s parent to something other than an object"
            )));
        };
        let key = existing_key(map, &field);
        if names.peek().is_none() {
            let value = typed(&field, raw, path, what)?;
            if field.is_list() {
                let list = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                match list {
                    Value::Array(items) => items.push(value),
                    other => *other = Value::Array(vec![value]),
                }
            } else {
                map.insert(key, value);
            }
            return Ok(());
        }
        let Kind::Message(inner) = field.kind() else {
            return Err(Status::invalid_argument(format!(
                "{what} `{path}`: `{name}` is not a message, so it has no fields"
            )));
        };
        if field.is_list() || field.is_map() {
            return Err(Status::invalid_argument(format!(
                "{what} `{path}`: `{name}` is repeated; set it in the JSON body instead"
            )));
        }
        message = inner;
        object = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

pub(super) fn find_field(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .get_field_by_name(name)
        .or_else(|| message.get_field_by_json_name(name))
}

/// The key the body already uses for `field` (proto or JSON name), else the proto name.
fn existing_key(map: &Map<String, Value>, field: &FieldDescriptor) -> String {
    if map.contains_key(field.json_name()) {
        return field.json_name().to_owned();
    }
    field.name().to_owned()
}

/// `raw` as the JSON value the field's kind reads (proto3 JSON takes numbers as strings).
fn typed(field: &FieldDescriptor, raw: &str, path: &str, what: &str) -> Result<Value, Status> {
    match field.kind() {
        Kind::Bool => match raw {
            "true" | "1" | "" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            other => Err(Status::invalid_argument(format!(
                "{what} `{path}`: `{other}` is not a bool; use true or false"
            ))),
        },
        Kind::Message(message) if !is_wrapper_or_scalar_like(&message) => {
            Err(Status::invalid_argument(format!(
                "{what} `{path}`: the field is a message ({}); set it in the JSON body instead",
                message.full_name()
            )))
        }
        _ => Ok(Value::String(raw.to_owned())),
    }
}

/// Well-known types written as one JSON string (timestamps, durations, wrappers, field masks).
pub(super) fn is_wrapper_or_scalar_like(message: &MessageDescriptor) -> bool {
    message.full_name().starts_with("google.protobuf.")
        && !matches!(
            message.full_name(),
            "google.protobuf.Struct" | "google.protobuf.ListValue" | "google.protobuf.Any"
        )
}

/// `a=1&b=x+y&c=%2F` as decoded pairs (`+` is a space).
fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name), decode_component(value))
        })
}

fn decode_component(text: &str) -> String {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::Template;
    use super::*;
    use prost_reflect::DescriptorPool;
    use prost_reflect::prost_types::field_descriptor_proto::{Label, Type};
    use prost_reflect::prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto};
    use serde_json::json;

    fn field(
        name: &str,
        number: i32,
        kind: Type,
        label: Label,
        message: &str,
    ) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.into()),
            json_name: Some(name.into()),
            number: Some(number),
            r#type: Some(kind as i32),
            label: Some(label as i32),
            type_name: (!message.is_empty()).then(|| message.into()),
            ..Default::default()
        }
    }

    /// `t.Request { string name; t.Options options; repeated string tags; }`,
    /// `t.Options { string greeting; uint32 times; bool shout; }`.
    fn request_descriptor() -> MessageDescriptor {
        let optional = Label::Optional;
        let file = FileDescriptorProto {
            name: Some("t.proto".into()),
            package: Some("t".into()),
            syntax: Some("proto3".into()),
            message_type: vec![
                DescriptorProto {
                    name: Some("Request".into()),
                    field: vec![
                        field("name", 1, Type::String, optional, ""),
                        field("options", 2, Type::Message, optional, ".t.Options"),
                        field("tags", 3, Type::String, Label::Repeated, ""),
                    ],
                    ..Default::default()
                },
                DescriptorProto {
                    name: Some("Options".into()),
                    field: vec![
                        field("greeting", 1, Type::String, optional, ""),
                        field("times", 2, Type::Uint32, optional, ""),
                        field("shout", 3, Type::Bool, optional, ""),
                    ],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let mut pool = DescriptorPool::new();
        pool.add_file_descriptor_proto(file).unwrap();
        pool.get_message_by_name("t.Request").unwrap()
    }

    fn binding(template: &str, body: Option<&str>) -> Binding {
        Binding {
            method: http::Method::GET,
            template: Template::parse(template).unwrap(),
            body: body.map(str::to_owned),
            response_body: None,
        }
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn path_and_query_fill_typed_nested_and_repeated_fields() {
        let composed = compose(
            &request_descriptor(),
            &binding("/v1/greet/{name}", None),
            &vars(&[("name", "bob")]),
            Some("options.greeting=Hi&options.shout=true&options.times=2&tags=a&tags=b&name=x"),
            b"ignored without a body rule",
        )
        .unwrap();
        assert_eq!(
            composed,
            json!({
                "name": "bob",
                "options": {"greeting": "Hi", "shout": true, "times": "2"},
                "tags": ["a", "b"],
            })
        );
    }

    #[test]
    fn the_body_goes_where_the_rule_says() {
        let request = request_descriptor();
        let whole = compose(
            &request,
            &binding("/v1/greet/{name}", Some("*")),
            &vars(&[("name", "bob")]),
            Some("tags=ignored"),
            br#"{"name":"overridden","tags":["t"]}"#,
        )
        .unwrap();
        assert_eq!(whole, json!({"name": "bob", "tags": ["t"]}));
        let one_field = compose(
            &request,
            &binding("/v1/greet/{name}", Some("options")),
            &vars(&[("name", "bob")]),
            Some("tags=q"),
            br#"{"greeting":"Howdy"}"#,
        )
        .unwrap();
        assert_eq!(
            one_field,
            json!({"options": {"greeting": "Howdy"}, "name": "bob", "tags": ["q"]})
        );
    }

    #[test]
    fn websocket_frames_go_where_the_rule_puts_the_body() {
        let request = request_descriptor();
        let variables = vars(&[("name", "bob")]);
        let frame = |body: Option<&str>, query: &str, frame: Option<&[u8]>| {
            let binding = binding("/v1/greet/{name}", body);
            compose_frame(&request, &binding, &variables, Some(query), frame).unwrap()
        };
        // A rule without a body takes the whole frame, and the query still applies.
        assert_eq!(
            frame(None, "tags=q", Some(br#"{"options":{"times":2}}"#)),
            json!({"options": {"times": 2}, "tags": ["q"], "name": "bob"})
        );
        // `*`: the frame is the request, the path's variables win, the query is left out.
        assert_eq!(
            frame(Some("*"), "tags=q", Some(br#"{"name":"x","tags":["t"]}"#)),
            json!({"name": "bob", "tags": ["t"]})
        );
        // A field: the frame is that field, and the query fills the rest.
        assert_eq!(
            frame(Some("options"), "tags=q", Some(br#"{"greeting":"Hi"}"#)),
            json!({"options": {"greeting": "Hi"}, "tags": ["q"], "name": "bob"})
        );
        // No frame (an empty first frame): the path and the query alone.
        assert_eq!(
            frame(Some("options"), "tags=q", None),
            json!({"tags": ["q"], "name": "bob"})
        );
    }

    #[test]
    fn unknown_and_mistyped_parameters_are_named() {
        let request = request_descriptor();
        let none = binding("/v1/greet", None);
        for (query, needles) in [
            ("colour=red", &["`colour`", "name, options, tags"][..]),
            (
                "options.shout=loud",
                &["`options.shout`", "true or false"][..],
            ),
            ("options=x", &["`options`", "JSON body"][..]),
            ("name.first=x", &["`name.first`", "not a message"][..]),
        ] {
            let err = compose(&request, &none, &[], Some(query), b"").unwrap_err();
            assert_eq!(err.code(), crate::Code::InvalidArgument, "{query}");
            for needle in needles {
                assert!(err.message().contains(needle), "{query}: {err:?}");
            }
        }
    }

    #[test]
    fn query_strings_decode() {
        let pairs: Vec<_> = query_pairs("a=1&b=x+y&&c=%2F%20&flag").collect();
        let expected = [("a", "1"), ("b", "x y"), ("c", "/ "), ("flag", "")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn empty_bodies_are_empty_objects_and_bad_ones_say_so() {
        assert_eq!(parse_body(b"").unwrap(), serde_json::json!({}));
        assert_eq!(parse_body(b" \n").unwrap(), serde_json::json!({}));
        let err = parse_body(b"{\"name\":").unwrap_err();
        assert_eq!(err.code(), crate::Code::InvalidArgument);
        assert!(err.message().contains("not valid JSON"), "{err:?}");
    }
}
