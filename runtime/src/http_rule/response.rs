//! A rule's `response_body`: the one reply field sent instead of the whole reply.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::Value;

/// The reply field a rule's `response_body` names, as it appears in the reply's JSON.
#[derive(Debug, Clone)]
pub struct ResponseField {
    key: String,
    default: Value,
}

impl ResponseField {
    /// The field `name` of `reply` (its proto name, or its JSON name), keyed as replies are
    /// written: by proto field names, or by lowerCamelCase JSON names (proto3 JSON's default;
    /// `JsonOptions::proto_field_names`); `None` when the message has no such field.
    pub fn new(reply: &MessageDescriptor, name: &str, proto_field_names: bool) -> Option<Self> {
        let field =
            (reply.get_field_by_name(name)).or_else(|| reply.get_field_by_json_name(name))?;
        let key = match proto_field_names {
            true => field.name().to_owned(),
            false => field.json_name().to_owned(),
        };
        Some(ResponseField {
            key,
            default: default_json(&field),
        })
    }

    /// The field's value in `reply` (the whole reply's JSON); its default value when the
    /// reply leaves it out, as proto3 JSON does with a field at its default.
    pub fn take(&self, mut reply: Value) -> Value {
        (reply.get_mut(&self.key).map(Value::take)).unwrap_or_else(|| self.default.clone())
    }
}

/// The JSON of `field` at its default value.
fn default_json(field: &FieldDescriptor) -> Value {
    if field.is_list() {
        return Value::Array(Vec::new());
    }
    if field.is_map() {
        return Value::Object(Default::default());
    }
    match field.kind() {
        Kind::String | Kind::Bytes => Value::String(String::new()),
        Kind::Bool => Value::Bool(false),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            Value::String("0".into())
        }
        Kind::Enum(enumeration) => enumeration.default_value().name().to_owned().into(),
        Kind::Message(_) => Value::Null,
        _ => Value::from(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;
    use serde_json::json;

    fn message(name: &str) -> MessageDescriptor {
        DescriptorPool::global().get_message_by_name(name).unwrap()
    }

    fn field(name: &str, proto_field_names: bool) -> ResponseField {
        let reply = message("google.protobuf.FieldDescriptorProto");
        ResponseField::new(&reply, name, proto_field_names).unwrap()
    }

    #[test]
    fn the_field_is_taken_by_the_key_replies_are_written_with() {
        let reply = json!({ "jsonName": "userId", "json_name": "other" });
        assert_eq!(field("json_name", false).take(reply.clone()), "userId");
        assert_eq!(field("jsonName", false).take(reply.clone()), "userId");
        assert_eq!(field("json_name", true).take(reply), "other");
    }

    #[test]
    fn a_field_the_reply_leaves_out_is_its_default_not_null() {
        let empty = || json!({});
        assert_eq!(field("json_name", false).take(empty()), "");
        assert_eq!(field("number", false).take(empty()), 0);
        assert_eq!(field("proto3_optional", false).take(empty()), false);
        assert_eq!(field("label", false).take(empty()), "LABEL_OPTIONAL");
        assert_eq!(field("options", false).take(empty()), Value::Null);
        let timestamp = message("google.protobuf.Timestamp");
        let seconds = ResponseField::new(&timestamp, "seconds", false).unwrap();
        assert_eq!(seconds.take(empty()), "0");
        let file = message("google.protobuf.FileDescriptorProto");
        let lists = ResponseField::new(&file, "dependency", false).unwrap();
        assert_eq!(lists.take(empty()), json!([]));
    }

    #[test]
    fn a_field_the_message_does_not_have_is_none() {
        let reply = message("google.protobuf.Timestamp");
        assert!(ResponseField::new(&reply, "minutes", false).is_none());
    }
}
