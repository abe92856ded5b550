//! Calls of methods known only at run time, by their descriptors: [`Client`]'s `dynamic_*`
//! methods. Messages are [`DynamicMessage`]s, sent as protobuf, through the same stack as
//! generated clients' calls.

use std::any::Any;

use bytes::{Buf, BufMut, Bytes};
use futures_core::Stream;
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::Method;
use crate::client::{Call, CallOptions, Client, Invocation};
use crate::codec::{Codable, Format};
use crate::middleware::AnyMessage;
use crate::transcode::JsonOptions;
use crate::{Status, Streaming};

impl Client {
    /// Calls the unary `method` of `service` with `request`, a message of the method's input
    /// type. The reply is a message of its output type.
    pub fn dynamic_unary(
        &self,
        service: &str,
        method: &Method,
        request: DynamicMessage,
    ) -> Call<DynamicMessage> {
        let (invoke, codec) = self.dynamic(service, method);
        let decode = move |reply| codec.reply(reply);
        let request = Outgoing(request);
        Call::new(move |options| invoke(options).unary(request, decode))
    }

    /// Calls the server-streaming `method` of `service` with `request`.
    pub fn dynamic_server_streaming(
        &self,
        service: &str,
        method: &Method,
        request: DynamicMessage,
    ) -> Call<Streaming<DynamicMessage>> {
        let (invoke, codec) = self.dynamic(service, method);
        Call::new(move |options| invoke(options).server_streaming(request, codec))
    }

    /// Calls the client-streaming `method` of `service` with the messages of `requests`.
    pub fn dynamic_client_streaming<S>(
        &self,
        service: &str,
        method: &Method,
        requests: S,
    ) -> Call<DynamicMessage>
    where
        S: Stream<Item = DynamicMessage> + Send + 'static,
    {
        let (invoke, codec) = self.dynamic(service, method);
        Call::new(move |options| invoke(options).client_streaming(requests, codec))
    }

    /// Calls the bidirectional streaming `method` of `service` with the messages of
    /// `requests`.
    pub fn dynamic_bidi_streaming<S>(
        &self,
        service: &str,
        method: &Method,
        requests: S,
    ) -> Call<Streaming<DynamicMessage>>
    where
        S: Stream<Item = DynamicMessage> + Send + 'static,
    {
        let (invoke, codec) = self.dynamic(service, method);
        Call::new(move |options| async move {
            Ok(invoke(options)
                .bidi_streaming_started(requests, codec)
                .await)
        })
    }

    /// What every dynamic call starts from: an invocation of `method` in protobuf, whatever
    /// the client's codec, and the codec for its messages.
    fn dynamic(
        &self,
        service: &str,
        method: &Method,
    ) -> (
        impl FnOnce(CallOptions) -> Invocation + Send + 'static,
        DynamicCodec,
    ) {
        let client = self.clone();
        let target = method.target(service);
        let codec = DynamicCodec {
            output: method.output(),
        };
        let invoke = move |options| client.protobuf_invocation(target, options);
        (invoke, codec)
    }
}

/// Encodes dynamic messages as protobuf, and decodes replies as the method's output type.
#[derive(Clone)]
pub(crate) struct DynamicCodec {
    output: MessageDescriptor,
}

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicCodec;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicCodec {
        self.clone()
    }
}

pub(crate) struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|err| Status::internal(format!("cannot encode the request: {err}")))
    }
}

impl DynamicCodec {
    /// A reply message of the method's output type.
    fn reply(&self, bytes: Bytes) -> Result<DynamicMessage, Status> {
        DynamicMessage::decode(self.output.clone(), bytes).map_err(|err| {
            Status::internal(format!(
                "the reply is not a valid {}: {err}",
                self.output.full_name()
            ))
        })
    }
}

impl Decoder for DynamicCodec {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        self.reply(src.copy_to_bytes(src.remaining())).map(Some)
    }
}

/// A dynamic request on the unary path, which takes any [`Codable`] message: sent as the
/// protobuf it already is (its descriptor travels with it).
struct Outgoing(DynamicMessage);

impl Codable for Outgoing {
    fn decode_from(
        _: impl Buf,
        _: Format,
        _: Option<&MessageDescriptor>,
        _: &JsonOptions,
    ) -> Result<Outgoing, Status> {
        Err(Status::internal("dynamic requests are only sent"))
    }

    fn encode_to(
        &self,
        _: Format,
        _: Option<&MessageDescriptor>,
        _: &JsonOptions,
        mut out: impl BufMut,
    ) -> Result<(), Status> {
        (self.0.encode(&mut out))
            .map_err(|err| Status::internal(format!("cannot encode the request: {err}")))
    }

    fn size_hint(&self) -> usize {
        self.0.encoded_len()
    }

    fn needs_descriptor(_: Format) -> bool {
        false
    }

    fn empty() -> Result<Outgoing, Status> {
        Err(Status::internal("dynamic requests are only sent"))
    }
}

impl AnyMessage for Outgoing {
    fn as_any(&self) -> &dyn Any {
        &self.0
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        &mut self.0
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        Box::new(self.0)
    }

    fn encoded(&self) -> Vec<u8> {
        self.0.encode_to_vec()
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<DynamicMessage>()
    }
}
