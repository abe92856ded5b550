//! The shapes of request and response messages, for registry endpoints: go-micro's `Value`s
//! (name, type, fields), read from the embedded descriptors.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use crate::registry::Value;
use crate::rpc::{MethodInfo, ServiceInfo};

/// Fields are described this many messages deep, as go-micro's extractor does.
const MAX_DEPTH: usize = 3;

/// The request and response shapes of `method`; `None` where the descriptors lack them.
pub(crate) fn endpoint_values(
    service: &'static ServiceInfo,
    method: &'static MethodInfo,
) -> (Option<Value>, Option<Value>) {
    if service.file_descriptor_set.is_empty() {
        // A proto-less handler whose types could not describe themselves.
        return (None, None);
    }
    match super::method_types(service, method) {
        Ok(types) => (
            Some(message_value(&types.input, 0)),
            Some(message_value(&types.output, 0)),
        ),
        Err(err) => {
            tracing::warn!(endpoint = method.endpoint, error = %err, "cannot describe the endpoint's messages");
            (None, None)
        }
    }
}

fn message_value(message: &MessageDescriptor, depth: usize) -> Value {
    let values = if depth < MAX_DEPTH {
        message
            .fields()
            .map(|field| field_value(&field, depth + 1))
            .collect()
    } else {
        Vec::new()
    };
    Value {
        name: message.name().to_owned(),
        kind: message.name().to_owned(),
        values,
    }
}

fn field_value(field: &FieldDescriptor, depth: usize) -> Value {
    let name = field.name().to_owned();
    if field.is_map() {
        let entry = match field.kind() {
            Kind::Message(entry) => entry,
            _ => {
                return Value {
                    name,
                    kind: "map".into(),
                    values: Vec::new(),
                };
            }
        };
        let key = entry.map_entry_key_field();
        let value = entry.map_entry_value_field();
        let kind = format!(
            "map[{}]{}",
            type_name(&key.kind()),
            type_name(&value.kind())
        );
        return Value {
            name,
            kind,
            values: Vec::new(),
        };
    }
    let prefix = if field.is_list() { "[]" } else { "" };
    let kind = format!("{prefix}{}", type_name(&field.kind()));
    let values = match field.kind() {
        Kind::Message(message) if depth < MAX_DEPTH => message_value(&message, depth).values,
        _ => Vec::new(),
    };
    Value { name, kind, values }
}

/// Go's name for a proto type, as go-micro's extractor would report the generated Go field.
fn type_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "float64".into(),
        Kind::Float => "float32".into(),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => "int32".into(),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => "int64".into(),
        Kind::Uint32 | Kind::Fixed32 => "uint32".into(),
        Kind::Uint64 | Kind::Fixed64 => "uint64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "[]uint8".into(),
        Kind::Message(message) => message.name().to_owned(),
        Kind::Enum(enumeration) => enumeration.name().to_owned(),
    }
}
