//! Replies as JSON: whole, or only the field a google.api.http rule's `response_body` names.

use std::sync::Arc;

use micro::dynamic::{self, DynamicMessage};
use micro::http_rule::ResponseField;
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
        let Some(name) = &self.field else {
            return dynamic::to_json(reply, &self.options);
        };
        let whole = dynamic::to_json_value(reply, &self.options)?;
        // `http_rule::bindings` leaves out rules whose `response_body` the reply lacks.
        let part =
            match ResponseField::new(&reply.descriptor(), name, self.options.proto_field_names) {
                Some(field) => field.take(whole),
                None => Value::Null,
            };
        Ok(part.to_string())
    }
}
