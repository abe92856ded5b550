//! Canonical proto3 JSON for prost messages, through prost-reflect.

use bytes::BufMut;
use prost::Message;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, MessageDescriptor, ReflectMessage, SerializeOptions,
};

use crate::Status;

/// How messages are written and read as JSON. The defaults follow the proto3 JSON mapping:
/// lowerCamelCase names out (both spellings accepted in), fields at their default values left
/// out, unknown fields rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonOptions {
    /// Write field names as in the `.proto` (`user_id`) instead of lowerCamelCase (`userId`).
    pub proto_field_names: bool,
    /// Write fields that hold their default value (`0`, `""`, `false`, empty lists).
    pub emit_defaults: bool,
    /// Skip unknown fields in requests instead of rejecting them.
    pub ignore_unknown_fields: bool,
}

impl JsonOptions {
    /// The defaults, as a constant: for a `&'static` where no options were given.
    pub(crate) const DEFAULT: JsonOptions = JsonOptions {
        proto_field_names: false,
        emit_defaults: false,
        ignore_unknown_fields: false,
    };

    /// Writes field names as in the `.proto` file.
    pub fn proto_field_names(mut self, yes: bool) -> JsonOptions {
        self.proto_field_names = yes;
        self
    }

    /// Writes fields that hold their default value.
    pub fn emit_defaults(mut self, yes: bool) -> JsonOptions {
        self.emit_defaults = yes;
        self
    }

    /// Skips unknown fields in requests instead of rejecting them.
    pub fn ignore_unknown_fields(mut self, yes: bool) -> JsonOptions {
        self.ignore_unknown_fields = yes;
        self
    }

    fn serialize(&self) -> SerializeOptions {
        SerializeOptions::new()
            .use_proto_field_name(self.proto_field_names)
            .skip_default_fields(!self.emit_defaults)
    }

    fn deserialize(&self) -> DeserializeOptions {
        DeserializeOptions::new().deny_unknown_fields(!self.ignore_unknown_fields)
    }
}

/// Reads a `T` from JSON. Errors are `INVALID_ARGUMENT`, naming the field and the problem.
pub(crate) fn from_json<T: Message + Default>(
    json: &[u8],
    descriptor: &MessageDescriptor,
    options: &JsonOptions,
) -> Result<T, Status> {
    let dynamic = dynamic_from_json(json, descriptor, options)?;
    T::decode(dynamic.encode_to_vec().as_slice()).map_err(|err| {
        Status::internal(format!(
            "cannot convert {} from JSON: {err}",
            descriptor.full_name()
        ))
    })
}

fn parse(
    json: &[u8],
    descriptor: &MessageDescriptor,
    options: &JsonOptions,
) -> Result<DynamicMessage, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let dynamic = DynamicMessage::deserialize_with_options(
        descriptor.clone(),
        &mut deserializer,
        &options.deserialize(),
    )?;
    deserializer.end()?;
    Ok(dynamic)
}

/// Parses JSON that failed to parse again, this time tracking the path to the failing field to
/// say where it is. Valid requests never pay for the tracking.
fn explain(json: &[u8], descriptor: &MessageDescriptor, options: &JsonOptions) -> Status {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut deserializer, &mut track);
    match DynamicMessage::deserialize_with_options(
        descriptor.clone(),
        tracked,
        &options.deserialize(),
    ) {
        Err(err) => invalid_json(descriptor, &track.path().to_string(), &err),
        Ok(_) => match deserializer.end() {
            Err(err) => invalid_json(descriptor, "", &err),
            Ok(()) => {
                Status::invalid_argument(format!("invalid JSON for {}", descriptor.full_name()))
            }
        },
    }
}

/// Writes `message` as JSON into `out`.
pub(crate) fn to_json<T: Message>(
    message: &T,
    descriptor: &MessageDescriptor,
    options: &JsonOptions,
    out: impl BufMut,
) -> Result<(), Status> {
    let dynamic = DynamicMessage::decode(descriptor.clone(), message.encode_to_vec().as_slice())
        .map_err(|err| {
            Status::internal(format!(
                "cannot convert {} to JSON: {err}",
                descriptor.full_name()
            ))
        })?;
    dynamic_to_json(&dynamic, options, out)
}

/// Reads a dynamic message of type `descriptor` from JSON.
pub(crate) fn dynamic_from_json(
    json: &[u8],
    descriptor: &MessageDescriptor,
    options: &JsonOptions,
) -> Result<DynamicMessage, Status> {
    parse(json, descriptor, options).map_err(|_| explain(json, descriptor, options))
}

/// Writes a dynamic message as JSON into `out`.
pub(crate) fn dynamic_to_json(
    message: &DynamicMessage,
    options: &JsonOptions,
    out: impl BufMut,
) -> Result<(), Status> {
    let mut serializer = serde_json::Serializer::new(out.writer());
    message
        .serialize_with_options(&mut serializer, &options.serialize())
        .map_err(|err| unwritable(message, &err))
}

/// `message` as a [`serde_json::Value`] (proto3 JSON mapping).
pub(crate) fn dynamic_to_json_value(
    message: &DynamicMessage,
    options: &JsonOptions,
) -> Result<serde_json::Value, Status> {
    message
        .serialize_with_options(serde_json::value::Serializer, &options.serialize())
        .map_err(|err| unwritable(message, &err))
}

fn unwritable(message: &DynamicMessage, err: &serde_json::Error) -> Status {
    let name = message.descriptor().full_name().to_owned();
    Status::internal(format!("cannot write {name} as JSON: {err}"))
}

fn invalid_json(descriptor: &MessageDescriptor, path: &str, err: &serde_json::Error) -> Status {
    let at = match path {
        // `?`: serde_path_to_error knows no place (a syntax error before any field).
        "" | "." | "?" => String::new(),
        path => format!(" at `{path}`"),
    };
    Status::invalid_argument(format!(
        "invalid JSON for {}{at}: {err}",
        descriptor.full_name()
    ))
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;
    use prost_types::value::Kind;

    use super::*;

    #[test]
    fn errors_name_the_field_only_when_there_is_one() {
        let pool = DescriptorPool::global();
        let descriptor = pool.get_message_by_name("google.protobuf.Api").unwrap();
        let error = |json: &str| {
            let result =
                from_json::<prost_types::Api>(json.as_bytes(), &descriptor, &JsonOptions::DEFAULT);
            result.unwrap_err().message().to_owned()
        };
        let syntax = error("{bad");
        assert!(
            syntax.contains("key must be a string") && !syntax.contains('`'),
            "{syntax}"
        );
        let field = error(r#"{"version": 7}"#);
        assert!(field.contains("at `version`"), "{field}");
    }

    /// Found by fuzzing (fuzz/corpus/json_request/crash-2e4ef319…): serde_json's default float
    /// parser read `92e237` 1 ULP off, so a JSON request changed the double it carried.
    #[test]
    fn doubles_read_exactly() {
        let pool = DescriptorPool::global();
        let descriptor = pool.get_message_by_name("google.protobuf.Value").unwrap();
        for (text, exact) in [("92e237", 92e237), ("6e69", 6e69), ("-0.1", -0.1)] {
            let value: prost_types::Value =
                from_json(text.as_bytes(), &descriptor, &JsonOptions::DEFAULT).unwrap();
            assert_eq!(value.kind, Some(Kind::NumberValue(exact)), "{text}");
        }
    }
}
