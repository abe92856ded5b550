//! [`Codable`]: what the server and the client need of a message type to carry it, in either
//! [`Format`]. Generated (prost) messages are codable; so are serde types, as [`Json<T>`].

use std::any::Any;

use bytes::{Buf, BufMut};
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Format, Json};
use crate::Status;
use crate::middleware::{AnyMessage, Erase};
use crate::transcode::{JsonOptions, from_json, to_json};

/// A message type calls can carry as protobuf or JSON.
///
/// Every generated (prost) message is one: protobuf natively, JSON through its descriptor.
/// A serde type is one wrapped in [`Json`]: JSON natively (its own field names and serde
/// attributes), protobuf through the descriptor [`micro::handler`](mod@crate::handler) derives
/// from it, when it has one.
///
/// The methods are the runtime's, not a user's: implement neither.
pub trait Codable: AnyMessage + Sized {
    /// Decodes one message in `format`; `descriptor` is the message's, where known.
    #[doc(hidden)]
    fn decode_from(
        bytes: impl Buf,
        format: Format,
        descriptor: Option<&MessageDescriptor>,
        json: &JsonOptions,
    ) -> Result<Self, Status>;

    /// Appends the message, in `format`, to `out`.
    #[doc(hidden)]
    fn encode_to(
        &self,
        format: Format,
        descriptor: Option<&MessageDescriptor>,
        json: &JsonOptions,
        out: impl BufMut,
    ) -> Result<(), Status>;

    /// About how many bytes the message encodes to, to size buffers (0 if unknown).
    #[doc(hidden)]
    fn size_hint(&self) -> usize;

    /// Whether the message needs its descriptor to be carried in `format`.
    #[doc(hidden)]
    fn needs_descriptor(format: Format) -> bool;

    /// The message an empty unframed body stands for (curl without `-d`).
    #[doc(hidden)]
    fn empty() -> Result<Self, Status>;
}

impl<M: prost::Message + Default + Sync + 'static> Codable for M {
    fn decode_from(
        bytes: impl Buf,
        format: Format,
        descriptor: Option<&MessageDescriptor>,
        json: &JsonOptions,
    ) -> Result<M, Status> {
        match format {
            Format::Protobuf => M::decode(bytes).map_err(|err| {
                let name = descriptor.map_or(std::any::type_name::<M>(), |d| d.full_name());
                Status::invalid_argument(format!("cannot decode {name} from protobuf: {err}"))
            }),
            Format::Json => from_json(&copied(bytes), needs(descriptor)?, json),
        }
    }

    fn encode_to(
        &self,
        format: Format,
        descriptor: Option<&MessageDescriptor>,
        json: &JsonOptions,
        mut out: impl BufMut,
    ) -> Result<(), Status> {
        match format {
            Format::Protobuf => self
                .encode(&mut out)
                .map_err(|err| Status::internal(err.to_string())),
            Format::Json => to_json(self, needs(descriptor)?, json, out),
        }
    }

    fn size_hint(&self) -> usize {
        self.encoded_len()
    }

    fn needs_descriptor(format: Format) -> bool {
        format == Format::Json
    }

    fn empty() -> Result<M, Status> {
        Ok(M::default())
    }
}

/// A generated message's descriptor, which its JSON form needs; generated code always has one.
fn needs(descriptor: Option<&MessageDescriptor>) -> Result<&MessageDescriptor, Status> {
    descriptor.ok_or_else(|| Status::internal("a generated message lacks its descriptor"))
}

fn copied(mut bytes: impl Buf) -> bytes::Bytes {
    bytes.copy_to_bytes(bytes.remaining())
}

impl<T> Codable for Json<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn decode_from(
        bytes: impl Buf,
        format: Format,
        descriptor: Option<&MessageDescriptor>,
        _json: &JsonOptions,
    ) -> Result<Json<T>, Status> {
        match format {
            Format::Json => from_serde_json(&copied(bytes)),
            Format::Protobuf => {
                let descriptor = described(descriptor)?;
                let message = DynamicMessage::decode(descriptor.clone(), bytes).map_err(|err| {
                    let name = descriptor.full_name();
                    Status::invalid_argument(format!("cannot decode {name} from protobuf: {err}"))
                })?;
                let options = SerializeOptions::new()
                    .use_proto_field_name(true)
                    .stringify_64_bit_integers(false)
                    .skip_default_fields(false);
                let value = message
                    .serialize_with_options(serde_json::value::Serializer, &options)
                    .map_err(|err| Status::internal(err.to_string()))?;
                T::deserialize(value).map(Json).map_err(|err| {
                    let name = descriptor.full_name();
                    Status::invalid_argument(format!("invalid {name}: {err}"))
                })
            }
        }
    }

    fn encode_to(
        &self,
        format: Format,
        descriptor: Option<&MessageDescriptor>,
        _json: &JsonOptions,
        mut out: impl BufMut,
    ) -> Result<(), Status> {
        let unencodable = |err: &dyn std::fmt::Display| {
            Status::internal(format!(
                "cannot encode {}: {err}",
                std::any::type_name::<T>()
            ))
        };
        match format {
            Format::Json => {
                serde_json::to_writer((&mut out).writer(), &self.0).map_err(|err| unencodable(&err))
            }
            Format::Protobuf => {
                let descriptor = described(descriptor)?;
                let value = serde_json::to_value(&self.0).map_err(|err| unencodable(&err))?;
                let options = DeserializeOptions::new().deny_unknown_fields(false);
                let message =
                    DynamicMessage::deserialize_with_options(descriptor.clone(), value, &options)
                        .map_err(|err| unencodable(&err))?;
                prost::Message::encode(&message, &mut out).map_err(|err| unencodable(&err))
            }
        }
    }

    fn size_hint(&self) -> usize {
        // A guess that fits most replies in one allocation: serde cannot tell the length.
        128
    }

    fn needs_descriptor(format: Format) -> bool {
        format == Format::Protobuf
    }

    fn empty() -> Result<Json<T>, Status> {
        from_serde_json(b"{}")
    }
}

// What wrappers see of a codable message: the message itself, boxed.
impl<M: Codable> Erase for M {
    fn erase(self) -> Option<Box<dyn AnyMessage>> {
        Some(Box::new(self))
    }

    fn restore(message: Option<Box<dyn AnyMessage>>) -> Option<M> {
        message?.into_any().downcast().ok().map(|message| *message)
    }
}

impl<T: Serialize + Send + Sync + 'static> AnyMessage for Json<T> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }

    fn encoded(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).unwrap_or_default()
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

/// A proto-less message's descriptor, which protobuf needs.
fn described(descriptor: Option<&MessageDescriptor>) -> Result<&MessageDescriptor, Status> {
    descriptor.ok_or_else(|| {
        Status::unimplemented(
            "this endpoint's types have no protobuf description (see micro::handler); call it \
             with JSON: application/json, application/grpc+json or application/connect+json",
        )
    })
}

/// Reads a `T` from JSON; an error names the field and what was wrong with it.
pub(crate) fn from_serde_json<T: DeserializeOwned>(json: &[u8]) -> Result<Json<T>, Status> {
    match serde_json::from_slice(json) {
        Ok(value) => Ok(Json(value)),
        Err(_) => Err(explain::<T>(json)),
    }
}

/// Parses JSON that failed to parse again, this time tracking the path to the failing field to
/// say where it is. Valid requests never pay for the tracking.
fn explain<T: DeserializeOwned>(json: &[u8]) -> Status {
    let name = short_name::<T>();
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let err = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(_) => match deserializer.end() {
            Err(err) => return Status::invalid_argument(format!("invalid JSON for {name}: {err}")),
            Ok(()) => return Status::invalid_argument(format!("invalid JSON for {name}")),
        },
        Err(err) => err,
    };
    let path = err.path().to_string();
    let at = match path.as_str() {
        "." | "" => String::new(),
        path => format!(" at `{path}`"),
    };
    Status::invalid_argument(format!("invalid JSON for {name}{at}: {}", err.into_inner()))
}

/// `helloworld::Request` → `Request`, as users name their types.
pub(crate) fn short_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let path = full.split('<').next().unwrap_or(full);
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Request {
        name: String,
        count: u32,
    }

    fn decode(json: &str) -> Result<Json<Request>, Status> {
        Json::decode_from(json.as_bytes(), Format::Json, None, &JsonOptions::default())
    }

    #[test]
    fn json_errors_name_the_type_and_the_field() {
        let err = decode(r#"{"name": 5, "count": 1}"#).unwrap_err();
        assert_eq!(err.code(), crate::Code::InvalidArgument);
        assert!(err.message().contains("Request at `name`"), "{err:?}");
        assert!(err.message().contains("expected a string"), "{err:?}");
        let err = decode(r#"{"name": "a"}"#).unwrap_err();
        assert!(err.message().contains("missing field `count`"), "{err:?}");
        let err = decode(r#"{"name": "a", "count": 1} x"#).unwrap_err();
        assert!(err.message().contains("trailing characters"), "{err:?}");
    }

    #[test]
    fn json_round_trips_and_protobuf_needs_a_descriptor() {
        let Json(request) = decode(r#"{"name": "alice", "count": 2}"#).unwrap();
        let mut out = Vec::new();
        Json(request)
            .encode_to(Format::Json, None, &JsonOptions::default(), &mut out)
            .unwrap();
        assert_eq!(out, br#"{"name":"alice","count":2}"#);
        let err =
            Json::<Request>::decode_from(&b""[..], Format::Protobuf, None, &JsonOptions::default())
                .unwrap_err();
        assert_eq!(err.code(), crate::Code::Unimplemented);
        assert!(err.message().contains("application/json"), "{err:?}");
    }
}
