//! JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1 and MCP) for protobuf messages as
//! the gateway reads and writes them: the proto3 JSON mapping, from descriptors alone.
//!
//! - Properties are the lowerCamelCase JSON names the gateway writes. Requests may also use
//!   the `.proto` names, but the schemas list one spelling, so that they describe replies
//!   exactly and requests by their canonical form.
//! - Objects have `additionalProperties: false`: the gateway rejects unknown fields.
//! - Messages and enums are `$ref`s to definitions named by their full name, so recursive
//!   messages work; well-known types are defined by their JSON form (`google.protobuf.Timestamp`
//!   is a date-time string).
//! - Comments in the `.proto` (when the descriptors carry source info) become `description`s.
//!
//! ```
//! # fn demo(message: &prost_reflect::MessageDescriptor) {
//! let mut schemas = micro_cli::schema::Schemas::new("#/components/schemas/");
//! let body = schemas.reference(message); // {"$ref": "#/components/schemas/pkg.Request"}
//! let definitions = schemas.into_definitions(); // pkg.Request and all it reaches
//! # }
//! ```

mod options;
mod scalar;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use prost_reflect::{
    Cardinality, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
    OneofDescriptor,
};
use serde_json::{Map, Value, json};

/// The dialect every schema is written in.
pub(crate) const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1 and MCP) for protobuf messages in
/// their proto3 JSON mapping.
#[derive(Debug, Clone)]
pub struct Schemas {
    prefix: String,
    /// Definitions by full name; `Null` while one is being built (so recursion stops).
    definitions: BTreeMap<String, Value>,
    /// The message a standalone schema describes at its top, referred to as `#`.
    root: Option<String>,
}

impl Schemas {
    /// References point at `{prefix}{message full name}`, e.g. prefix
    /// `"#/components/schemas/"` or `"#/$defs/"`.
    pub fn new(prefix: impl Into<String>) -> Schemas {
        Schemas {
            prefix: prefix.into(),
            definitions: BTreeMap::new(),
            root: None,
        }
    }

    /// `{"$ref": …}` to `message`, whose definition (and of every message and enum it
    /// reaches) is added.
    pub fn reference(&mut self, message: &MessageDescriptor) -> Value {
        let name = message.full_name();
        if self.root.as_deref() == Some(name) {
            return json!({"$ref": "#"});
        }
        if !self.definitions.contains_key(name) {
            self.definitions.insert(name.to_owned(), Value::Null);
            let definition = self.message(message);
            self.definitions.insert(name.to_owned(), definition);
        }
        self.link(name)
    }

    /// The definitions added so far, by full name.
    pub fn into_definitions(self) -> BTreeMap<String, Value> {
        self.definitions
    }

    /// The schema of one field's value as JSON (a list, map or single value), with its
    /// comment; for callers describing single fields (path and query parameters).
    pub(crate) fn field(&mut self, field: &FieldDescriptor) -> Value {
        let mut schema = match (field.is_map(), field.is_list()) {
            (true, _) => self.map(field),
            (false, true) => json!({"type": "array", "items": self.kind(&field.kind())}),
            (false, false) => self.kind(&field.kind()),
        };
        let description = field_description(field);
        if let (Some(text), Value::Object(object)) = (description, &mut schema) {
            object.insert("description".into(), Value::String(text));
        }
        schema
    }

    fn link(&self, full_name: &str) -> Value {
        json!({"$ref": format!("{}{full_name}", self.prefix)})
    }

    fn enumeration(&mut self, descriptor: &EnumDescriptor) -> Value {
        let name = descriptor.full_name();
        if !self.definitions.contains_key(name) {
            let definition = scalar::enumeration(descriptor);
            self.definitions.insert(name.to_owned(), definition);
        }
        self.link(name)
    }

    fn kind(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Message(message) => self.reference(message),
            Kind::Enum(descriptor) => self.enumeration(descriptor),
            scalar => scalar::scalar(scalar),
        }
    }

    fn map(&mut self, field: &FieldDescriptor) -> Value {
        let Kind::Message(entry) = field.kind() else {
            return json!({"type": "object"});
        };
        let key = entry.map_entry_key_field().kind();
        let value = self.kind(&entry.map_entry_value_field().kind());
        let mut schema = json!({"type": "object", "additionalProperties": value});
        if let Some(pattern) = scalar::key_pattern(&key) {
            schema["propertyNames"] = json!({"pattern": pattern});
        }
        schema
    }

    /// The definition of `message`: its well-known JSON form (described for JSON, not by its
    /// .proto comment about the binary form), or an object of its fields.
    fn message(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(known) = scalar::well_known(message.full_name()) {
            return known;
        }
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in message.fields() {
            let mut schema = self.field(&field);
            let behaviors = options::field_behaviors(&field);
            if behaviors.output_only {
                schema["readOnly"] = Value::Bool(true);
            }
            if behaviors.input_only {
                schema["writeOnly"] = Value::Bool(true);
            }
            if behaviors.required || field.cardinality() == Cardinality::Required {
                required.push(Value::String(field.json_name().to_owned()));
            }
            properties.insert(field.json_name().to_owned(), schema);
        }
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        let oneofs: Vec<OneofDescriptor> = message
            .oneofs()
            .filter(|oneof| !oneof.is_synthetic())
            .collect();
        if !oneofs.is_empty() {
            schema["allOf"] = oneofs.iter().map(at_most_one).collect();
        }
        let notes = oneofs.iter().map(oneof_note);
        let description = message_comment(message).into_iter().chain(notes);
        with_description(schema, join(description))
    }
}

/// A self-contained schema for `message`: its own object schema at the top (`"type":"object"`,
/// as MCP requires of a tool's inputSchema), with `$defs` for what it reaches (a reference
/// back to the root is `{"$ref":"#"}`).
pub fn standalone(message: &MessageDescriptor) -> Value {
    let mut schemas = Schemas::new("#/$defs/");
    schemas.root = Some(message.full_name().to_owned());
    let mut schema = schemas.message(message);
    let definitions: Map<String, Value> = schemas.into_definitions().into_iter().collect();
    if let Value::Object(object) = &mut schema {
        object.insert("$schema".into(), Value::String(DIALECT.into()));
        if !definitions.is_empty() {
            object.insert("$defs".into(), Value::Object(definitions));
        }
    }
    schema
}

/// The comment written above (or after) an element in its .proto, trimmed, if the
/// descriptors carry source info.
pub fn comment(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info
        .location
        .iter()
        .find(|location| location.path == path)?;
    let text = location
        .leading_comments
        .as_deref()
        .filter(|text| !text.trim().is_empty())
        .or(location.trailing_comments.as_deref())?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn message_comment(message: &MessageDescriptor) -> Option<String> {
    comment(&message.parent_file(), message.path())
}

fn field_description(field: &FieldDescriptor) -> Option<String> {
    let own = comment(&field.parent_file(), field.path());
    let oneof = field
        .containing_oneof()
        .filter(|oneof| !oneof.is_synthetic())
        .map(|oneof| oneof_note(&oneof));
    join(own.into_iter().chain(oneof))
}

/// Valid when at most one member of `oneof` is present: exactly one branch matches, either
/// the one member that is there or "none is there".
fn at_most_one(oneof: &OneofDescriptor) -> Value {
    let names: Vec<String> = oneof.fields().map(|f| f.json_name().to_owned()).collect();
    let mut branches: Vec<Value> = names.iter().map(|n| json!({"required": [n]})).collect();
    let any: Vec<Value> = branches.clone();
    branches.push(json!({"not": {"anyOf": any}}));
    json!({"oneOf": branches})
}

fn oneof_note(oneof: &OneofDescriptor) -> String {
    let names: Vec<String> = oneof
        .fields()
        .map(|f| format!("`{}`", f.json_name()))
        .collect();
    format!(
        "At most one of {} is set (oneof `{}`).",
        names.join(", "),
        oneof.name()
    )
}

fn join(parts: impl Iterator<Item = String>) -> Option<String> {
    let parts: Vec<String> = parts.collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

fn with_description(mut schema: Value, description: Option<String>) -> Value {
    if let (Some(text), Value::Object(object)) = (description, &mut schema) {
        object.insert("description".into(), Value::String(text));
    }
    schema
}
