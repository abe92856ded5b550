//! Replies as JSON: whole, or only the field a google.api.http rule's `response_body` names.

use std::sync::Arc;

use micro::dynamic::{self, DynamicMessage};
use micro::{JsonOptions, Status};
use prost_reflect::ReflectMessage as _;
use serde_json::Value;

/// How replies are written as JSON (answers, events and WebSocket frames alike). Cheap to
/// clone.
#[derive(Clone)]
pub(super) struct ReplyJson {
    options: JsonOptions,
    /// The rule's `response_body`: only this field of each reply is sent.
    field: Option<Arc<str>>,
}

impl ReplyJson {
    /// Whole replies, or only `response_body` of each when a rule names one.
    pub(super) fn new(options: JsonOptions, response_body: Option<&str>) -> ReplyJson {
        ReplyJson {
            options,
            field: response_body.map(Arc::from),
        }
    }

    /// `reply` as JSON text.
    pub(super) fn text(&self, reply: &DynamicMessage) -> Result<String, Status> {
        let whole = dynamic::to_json(reply, &self.options)?;
        match &self.field {
            None => Ok(whole),
            Some(field) => Ok(field_of(reply, &whole, field).to_string()),
        }
    }
}

/// The value of `field` in `whole` (the reply's JSON), found by its proto or JSON name; `null`
/// when the reply leaves it out.
fn field_of(reply: &DynamicMessage, whole: &str, field: &str) -> Value {
    let mut whole: Value = serde_json::from_str(whole).unwrap_or(Value::Null);
    let json_name = reply
        .descriptor()
        .get_field_by_name(field)
        .map(|f| f.json_name().to_owned());
    let mut take = |name: &str| whole.get_mut(name).map(Value::take);
    take(field)
        .or_else(|| json_name.and_then(|name| take(&name)))
        .unwrap_or(Value::Null)
}
