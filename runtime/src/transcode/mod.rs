//! JSON ↔ protobuf for generated messages, driven by the descriptors embedded in generated code.
//!
//! Messages are prost structs; JSON goes through prost-reflect's canonical proto3 JSON mapping
//! (lowerCamelCase names, 64-bit integers as strings, well-known types, …), so no serde code is
//! generated.

mod descriptors;
mod json;
mod shape;

pub use json::JsonOptions;

pub(crate) use descriptors::{MethodTypes, method_types};
pub(crate) use json::{
    dynamic_from_json, dynamic_to_json, dynamic_to_json_value, from_json, to_json,
};
pub(crate) use shape::endpoint_values;
