//! google.api.http rules read from a method's options: which HTTP method and path template
//! call it, and where the request body goes.

use http::Method as HttpMethod;
use prost_reflect::{DynamicMessage, MethodDescriptor, Value};

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
/// has none. Rules that cannot be used are left out with the reason.
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
        match binding(rule) {
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
