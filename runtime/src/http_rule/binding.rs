//! google.api.http rules read from a method's options: which HTTP method and path template
//! call it, and where the request body goes.

use http::Method as HttpMethod;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, MethodDescriptor, Value};

use super::request::{find_field, is_wrapper_or_scalar_like};
use super::template::Template;

/// The extension carrying the rules, from `google/api/annotations.proto`.
const HTTP_EXTENSION: &str = "google.api.http";

/// One HTTP binding of a method.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The HTTP method it answers.
    pub method: HttpMethod,
    /// The path it answers.
    pub template: Template,
    /// Where the body goes: `None` (no body), `Some("*")` (the whole request) or a field.
    pub body: Option<String>,
    /// The reply field sent as the response body; the whole reply when `None`.
    pub response_body: Option<String>,
}

/// The bindings of `method`'s google.api.http rule (with its additional bindings); empty when it
/// has none. Rules that cannot be used are left out with the reason: a bad pattern, or a path
/// variable, `body` or `response_body` naming a field the messages do not have (grpc-gateway's
/// generator refuses these too; served, each would fail every request).
pub fn bindings(method: &MethodDescriptor) -> (Vec<Binding>, Vec<String>) {
    let Some(rule) = http_rule(method) else {
        return (Vec::new(), Vec::new());
    };
    let mut rules = vec![rule.clone()];
    if let Some(Value::List(more)) = rule
        .get_field_by_name("additional_bindings")
        .map(|v| v.into_owned())
    {
        rules.extend(more.into_iter().filter_map(|v| match v {
            Value::Message(rule) => Some(rule),
            _ => None,
        }));
    }
    let (mut found, mut skipped) = (Vec::new(), Vec::new());
    for rule in &rules {
        match binding(rule).and_then(|found| found.map(|b| check(method, b)).transpose()) {
            Ok(Some(binding)) => found.push(binding),
            Ok(None) => {}
            Err(reason) => skipped.push(format!("{}: {reason}", method.full_name())),
        }
    }
    (found, skipped)
}

fn http_rule(method: &MethodDescriptor) -> Option<DynamicMessage> {
    let extension = method.parent_pool().get_extension_by_name(HTTP_EXTENSION)?;
    let options = method.options();
    if !options.has_extension(&extension) {
        return None;
    }
    match options.get_extension(&extension).into_owned() {
        Value::Message(rule) => Some(rule),
        _ => None,
    }
}

fn binding(rule: &DynamicMessage) -> Result<Option<Binding>, String> {
    let Some((method, path)) = pattern(rule)? else {
        return Ok(None);
    };
    let template = Template::parse(&path).map_err(|err| err.to_string())?;
    Ok(Some(Binding {
        method,
        template,
        body: non_empty(text(rule, "body")),
        response_body: non_empty(text(rule, "response_body")),
    }))
}

/// `binding` when every field it names is one of `method`'s messages'.
fn check(method: &MethodDescriptor, binding: Binding) -> Result<Binding, String> {
    let input = method.input();
    for variable in binding.template.variables() {
        variable_field(&input, variable).map_err(|reason| {
            format!(
                "path variable `{variable}` of `{}`: {reason}",
                binding.template.as_str()
            )
        })?;
    }
    if let Some(body) = binding.body.as_deref().filter(|body| *body != "*") {
        find_field(&input, body).ok_or_else(|| no_field("body", body, &input))?;
    }
    if let Some(name) = binding.response_body.as_deref() {
        let output = method.output();
        find_field(&output, name).ok_or_else(|| no_field("response_body", name, &output))?;
    }
    Ok(binding)
}

/// Whether the field path `path` of `input` is one a path segment can set: singular messages
/// down to a scalar (or a well-known type written as one string).
fn variable_field(input: &MessageDescriptor, path: &str) -> Result<(), String> {
    let mut message = input.clone();
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        let field = find_field(&message, name)
            .ok_or_else(|| format!("{} has no field `{name}`", message.full_name()))?;
        let Kind::Message(inner) = field.kind() else {
            return match names.peek() {
                None => Ok(()),
                Some(_) => Err(format!("`{name}` is not a message, so it has no fields")),
            };
        };
        if field.is_list() || field.is_map() {
            return Err(format!("`{name}` is repeated"));
        }
        if names.peek().is_none() && !is_wrapper_or_scalar_like(&inner) {
            return Err(format!("`{name}` is a message ({})", inner.full_name()));
        }
        message = inner;
    }
    Ok(())
}

fn no_field(what: &str, name: &str, message: &MessageDescriptor) -> String {
    let fields: Vec<String> = message.fields().map(|f| f.name().to_owned()).collect();
    format!(
        "{what} `{name}` is not a field of {} (its fields: {})",
        message.full_name(),
        fields.join(", ")
    )
}

/// The rule's HTTP method and path; `None` for a rule without a pattern.
fn pattern(rule: &DynamicMessage) -> Result<Option<(HttpMethod, String)>, String> {
    for (field, method) in [
        ("get", HttpMethod::GET),
        ("put", HttpMethod::PUT),
        ("post", HttpMethod::POST),
        ("delete", HttpMethod::DELETE),
        ("patch", HttpMethod::PATCH),
    ] {
        if rule.has_field_by_name(field) {
            return Ok(Some((method, text(rule, field))));
        }
    }
    if !rule.has_field_by_name("custom") {
        return Ok(None);
    }
    let Some(Value::Message(custom)) = rule.get_field_by_name("custom").map(|v| v.into_owned())
    else {
        return Ok(None);
    };
    let kind = text(&custom, "kind");
    if kind == "*" {
        // http.proto's "any method"; `*` is also a valid method token, never sent.
        return Err("custom HTTP method `*` (any method) is not supported; name one".into());
    }
    let method = HttpMethod::from_bytes(kind.as_bytes())
        .map_err(|_| format!("custom HTTP method `{kind}` is not an HTTP method"))?;
    Ok(Some((method, text(&custom, "path"))))
}

fn text(message: &DynamicMessage, field: &str) -> String {
    message
        .get_field_by_name(field)
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    const RULES: &str = r#"
        syntax = "proto3";
        package t;
        import "google/api/annotations.proto";
        import "google/protobuf/timestamp.proto";

        message Request {
            string name = 1;
            Options options = 2;
            repeated Options many = 3;
            google.protobuf.Timestamp at = 4;
        }
        message Options { string greeting = 1; }
        message Reply { string message = 1; }

        service Rules {
            rpc Good(Request) returns (Reply) {
                option (google.api.http) = {
                    post: "/v1/{name}/{options.greeting}/{at}" body: "options"
                    response_body: "message"
                    additional_bindings { get: "/v1/{no_such}" }
                    additional_bindings { get: "/v1/x/{options}" }
                    additional_bindings { get: "/v1/y/{many.greeting}" }
                    additional_bindings { get: "/v1/z/{name.first}" }
                    additional_bindings { post: "/v1/body" body: "nobody" }
                    additional_bindings { get: "/v1/reply" response_body: "msg" }
                    additional_bindings { post: "/v1/all" body: "*" }
                    additional_bindings { custom { kind: "*" path: "/v1/any" } }
                    additional_bindings { custom { kind: "HEAD" path: "/v1/head" } }
                };
            }
        }
    "#;

    fn pool() -> DescriptorPool {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.proto"), RULES).unwrap();
        let googleapis = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/googleapis");
        let mut compiler = protox::Compiler::new([dir.path(), googleapis.as_ref()]).unwrap();
        compiler.open_file("t.proto").unwrap();
        compiler.descriptor_pool()
    }

    #[test]
    fn rules_naming_missing_fields_or_any_method_are_left_out_with_the_reason() {
        let service = pool().get_service_by_name("t.Rules").unwrap();
        let method = service.methods().next().unwrap();
        let (found, skipped) = bindings(&method);
        let paths: Vec<(&str, &str)> = (found.iter())
            .map(|b| (b.method.as_str(), b.template.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                ("POST", "/v1/{name}/{options.greeting}/{at}"),
                ("POST", "/v1/all"),
                ("HEAD", "/v1/head")
            ]
        );
        let expected = [
            "path variable `no_such` of `/v1/{no_such}`: t.Request has no field `no_such`",
            "path variable `options` of `/v1/x/{options}`: `options` is a message (t.Options)",
            "path variable `many.greeting` of `/v1/y/{many.greeting}`: `many` is repeated",
            "path variable `name.first` of `/v1/z/{name.first}`: `name` is not a message",
            "body `nobody` is not a field of t.Request (its fields: name, options, many, at)",
            "response_body `msg` is not a field of t.Reply (its fields: message)",
            "custom HTTP method `*` (any method) is not supported",
        ];
        assert_eq!(skipped.len(), expected.len(), "{skipped:#?}");
        for (reason, expected) in skipped.iter().zip(expected) {
            assert!(
                reason.starts_with("t.Rules.Good: ") && reason.contains(expected),
                "{reason}\n  expected: {expected}"
            );
        }
    }
}
