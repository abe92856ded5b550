//! How messages travel: protobuf or JSON, inside gRPC framing, whole HTTP bodies or broker
//! messages.

mod codable;
pub(crate) mod frame;
mod limit;
mod message;
mod payload;

pub use codable::Codable;
pub(crate) use codable::short_name;
pub(crate) use frame::Whole;
pub(crate) use limit::FrameLimit;
pub(crate) use message::{Direction, MessageCodec};
pub use payload::{JSON, Json, PROTOBUF, Payload};

/// Largest message accepted or sent unless configured: 4 MiB, as in gRPC and go-micro.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// A message format, chosen by content type: go-micro's codecs for protobuf and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Protobuf binary (`application/grpc`, `application/proto`, `application/protobuf`).
    #[default]
    Protobuf,
    /// Canonical proto3 JSON (`application/grpc+json`, `application/json`).
    Json,
}

impl Format {
    /// The gRPC content type for this format.
    pub const fn grpc_content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/grpc",
            Format::Json => "application/grpc+json",
        }
    }

    /// The format a gRPC-style content-type suffix names (`+proto`, `+json`, none).
    pub(crate) fn from_suffix(suffix: &str) -> Option<Format> {
        match suffix {
            "" | "proto" => Some(Format::Protobuf),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}
