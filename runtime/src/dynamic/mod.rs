//! Calls to services this program has no generated code for: their descriptors come from
//! gRPC server reflection, requests and replies are [`DynamicMessage`]s read from and written
//! as JSON. The `micro` CLI, the API gateway and the dashboard call services this way.
//!
//! ```no_run
//! # async fn demo(client: micro::Client) -> Result<(), micro::Status> {
//! use micro::dynamic::{self, Descriptors};
//!
//! // Asks a node of `helloworld` (through the registry) for its descriptors.
//! let descriptors = Descriptors::fetch(&client, "helloworld", None).await?;
//! let method = descriptors.method("Helloworld.Greeting")?;
//! let options = micro::JsonOptions::default();
//! let request = dynamic::from_json(&method.input(), br#"{"name":"alice"}"#, &options)?;
//! let reply = client.dynamic_unary("helloworld", &method, request).await?;
//! println!("{}", dynamic::to_json(&reply, &options)?);
//! # Ok(())
//! # }
//! ```

mod call;
mod catalog;
mod health;
mod method;
mod reflection;

pub use catalog::{Catalog, DEFAULT_REFRESH};
pub use health::{HealthStatus, check_health};
pub use method::Method;
pub use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};
pub use reflection::Descriptors;

use crate::Status;
use crate::transcode::JsonOptions;

/// Reads a message of type `descriptor` from JSON (proto3 JSON mapping). Errors are
/// `INVALID_ARGUMENT`, naming the field and the problem.
pub fn from_json(
    descriptor: &MessageDescriptor,
    json: &[u8],
    options: &JsonOptions,
) -> Result<DynamicMessage, Status> {
    crate::transcode::dynamic_from_json(json, descriptor, options)
}

/// Writes `message` as JSON (proto3 JSON mapping).
pub fn to_json(message: &DynamicMessage, options: &JsonOptions) -> Result<String, Status> {
    let mut out = Vec::new();
    crate::transcode::dynamic_to_json(message, options, &mut out)?;
    String::from_utf8(out).map_err(|err| Status::internal(format!("JSON is not UTF-8: {err}")))
}

/// `message` as a JSON value (proto3 JSON mapping), for code that works on the JSON rather
/// than sends it: no text is written and parsed again.
pub fn to_json_value(
    message: &DynamicMessage,
    options: &JsonOptions,
) -> Result<serde_json::Value, Status> {
    crate::transcode::dynamic_to_json_value(message, options)
}
