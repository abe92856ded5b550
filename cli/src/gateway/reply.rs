//! Replies as JSON: whole, or only the field a google.api.http rule's `response_body` names.

use std::sync::Arc;

use micro::dynamic::{self, DynamicMessage};
use micro::http_rule::ResponseField;
use micro::{JsonOptions, Status};

/// How replies are written as JSON (answers, events and WebSocket frames alike). Cheap to
/// clone.
#[derive(Clone)]
pub(super) struct ReplyJson {
    options: JsonOptions,
    /// The rule's `response_body`: only this field of each reply is sent.
    field: Option<Arc<ResponseField>>,
}

impl ReplyJson {
    /// Whole replies, or only `field` of each.
    pub(super) fn new(options: JsonOptions, field: Option<ResponseField>) -> ReplyJson {
        ReplyJson {
            options,
            field: field.map(Arc::new),
        }
    }

    /// `reply` as JSON text.
    pub(super) fn text(&self, reply: &DynamicMessage) -> Result<String, Status> {
        let Some(field) = &self.field else {
            return dynamic::to_json(reply, &self.options);
        };
        let whole = dynamic::to_json_value(reply, &self.options)?;
        Ok(field.take(whole).to_string())
    }
}
