//! What generated code uses from the runtime, and nothing else. Not a public API: it changes
//! together with protoc-gen-micro, which always emits `::micro::codegen::` paths.

pub use futures_core::Stream;
pub use prost;
pub use prost_types;

pub use crate::client::{Call, CallTarget, Client};
pub use crate::server::{
    Handler, Incoming, MethodInfo, ResponseFuture, RpcKind, ServiceInfo, bidi_streaming,
    client_streaming, server_streaming, unary, unknown_method,
};
pub use crate::{Context, Sender, Status, Streaming};
