//! How messages travel: protobuf or JSON, inside gRPC framing, whole HTTP bodies or broker
//! messages.

pub(crate) mod frame;
mod json;
mod limit;
mod message;
mod payload;

pub(crate) use frame::Whole;
pub(crate) use limit::FrameLimit;
pub(crate) use message::{Direction, MessageCodec};
pub use payload::{JSON, Json, PROTOBUF, Payload};

/// Largest message accepted or sent unless configured: 4 MiB, as in gRPC and go-micro.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// A message encoding, chosen by content type: go-micro's codecs for protobuf and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// Protobuf binary (`application/grpc`, `application/proto`, `application/protobuf`).
    #[default]
    Protobuf,
    /// Canonical proto3 JSON (`application/grpc+json`, `application/json`).
    Json,
}

impl Codec {
    /// The gRPC content type for this codec.
    pub const fn grpc_content_type(self) -> &'static str {
        match self {
            Codec::Protobuf => "application/grpc",
            Codec::Json => "application/grpc+json",
        }
    }

    /// The codec a gRPC-style content-type suffix names (`+proto`, `+json`, none).
    pub(crate) fn from_suffix(suffix: &str) -> Option<Codec> {
        match suffix {
            "" | "proto" => Some(Codec::Protobuf),
            "json" => Some(Codec::Json),
            _ => None,
        }
    }
}
