//! A tool call's arguments read into request messages; what is wrong with them is a 400 that
//! names the field.

use micro::JsonOptions;
use micro::dynamic::{self, DynamicMessage, Method};
use micro::errors::Error;
use serde_json::{Map, Value};

use super::toolbox::sends_many;
use super::{Callee, MCP_ID, Tool};

/// The messages a call sends.
pub(super) enum Requests {
    /// The request of a unary or server-streaming call.
    One(DynamicMessage),
    /// The messages of a client or bidi stream, in order.
    Many(Vec<DynamicMessage>),
    /// The request of a registered endpoint, as the caller wrote it (nothing describes it
    /// exactly enough to check).
    Json(Value),
}

/// Reads `arguments` as `tool`'s request, or as `{"requests": […]}` for a stream of them.
pub(super) fn read(tool: &Tool, arguments: Option<Map<String, Value>>) -> Result<Requests, Error> {
    let arguments = arguments.unwrap_or_default();
    let method = match &tool.callee {
        Callee::Method(method) => method,
        Callee::Registered(_) => return Ok(Requests::Json(Value::Object(arguments))),
    };
    if !sends_many(method.kind()) {
        return message(method, &Value::Object(arguments), "the arguments").map(Requests::One);
    }
    let Some(Value::Array(items)) = arguments.get("requests") else {
        return Err(bad(format!(
            "{} streams its requests: pass them as {{\"requests\": [<message>, …]}}",
            tool.name
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(at, item)| message(method, item, &format!("requests[{at}]")))
        .collect::<Result<_, _>>()
        .map(Requests::Many)
}

fn message(method: &Method, json: &Value, what: &str) -> Result<DynamicMessage, Error> {
    let input = method.input();
    if !json.is_object() {
        return Err(bad(format!(
            "{what} must be a JSON object (a {})",
            input.full_name()
        )));
    }
    let bytes = serde_json::to_vec(json).unwrap_or_default();
    dynamic::from_json(&input, &bytes, &JsonOptions::default()).map_err(|status| {
        bad(format!(
            "{what} are not a valid {}: {}",
            input.full_name(),
            status.message()
        ))
    })
}

fn bad(detail: String) -> Error {
    Error::bad_request(MCP_ID, detail)
}
