//! The message codec of one streaming call, picked at run time: protobuf or JSON inside gRPC
//! frames, for any [`Codable`] message.

use std::marker::PhantomData;
use std::sync::Arc;

use prost_reflect::MessageDescriptor;
use tonic::codec::{Codec as TonicCodec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

use super::{Codable, Format};
use crate::transcode::{JsonOptions, MethodTypes};

/// Encodes `E` and decodes `D` in the format a call asked for.
pub(crate) struct MessageCodec<E, D> {
    format: Format,
    /// The descriptors of the encoded and the decoded message, where known.
    encode: Option<MessageDescriptor>,
    decode: Option<MessageDescriptor>,
    options: Arc<JsonOptions>,
    /// The code of a message that does not decode, if not the codec's own.
    undecodable: Option<Code>,
    _types: PhantomData<fn(E) -> D>,
}

impl<E, D> MessageCodec<E, D> {
    /// The codec for one call of a method with these message types (if it has descriptors);
    /// `direction` says which of the method's messages are outgoing.
    pub(crate) fn new(
        format: Format,
        types: Option<&MethodTypes>,
        direction: Direction,
        options: &Arc<JsonOptions>,
    ) -> MessageCodec<E, D> {
        let (encode, decode) = match (types, direction) {
            (None, _) => (None, None),
            (Some(types), Direction::Server) => (Some(&types.output), Some(&types.input)),
            (Some(types), Direction::Client) => (Some(&types.input), Some(&types.output)),
        };
        MessageCodec {
            format,
            encode: encode.cloned(),
            decode: decode.cloned(),
            options: options.clone(),
            undecodable: None,
            _types: PhantomData,
        }
    }

    /// Refuses a message that does not decode with `code`, whatever the codec: protocols
    /// differ here (grpc-go answers `INTERNAL`, connect-go `INVALID_ARGUMENT`).
    pub(crate) fn undecodable(mut self, code: Code) -> MessageCodec<E, D> {
        self.undecodable = Some(code);
        self
    }
}

/// Which side of a call is encoding: servers encode responses, clients requests.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Direction {
    Server,
    Client,
}

impl<E: Codable, D: Codable> TonicCodec for MessageCodec<E, D> {
    type Encode = E;
    type Decode = D;
    type Encoder = MessageEncoder<E>;
    type Decoder = MessageDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        MessageEncoder {
            format: self.format,
            descriptor: self.encode.clone(),
            options: self.options.clone(),
            _type: PhantomData,
        }
    }

    fn decoder(&mut self) -> Self::Decoder {
        MessageDecoder {
            format: self.format,
            descriptor: self.decode.clone(),
            options: self.options.clone(),
            undecodable: self.undecodable,
            _type: PhantomData,
        }
    }
}

pub(crate) struct MessageEncoder<E> {
    format: Format,
    descriptor: Option<MessageDescriptor>,
    options: Arc<JsonOptions>,
    _type: PhantomData<fn(E)>,
}

impl<E: Codable> Encoder for MessageEncoder<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode_to(self.format, self.descriptor.as_ref(), &self.options, dst)
    }
}

pub(crate) struct MessageDecoder<D> {
    format: Format,
    descriptor: Option<MessageDescriptor>,
    options: Arc<JsonOptions>,
    undecodable: Option<Code>,
    _type: PhantomData<fn() -> D>,
}

impl<D: Codable> Decoder for MessageDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        let decoded = D::decode_from(src, self.format, self.descriptor.as_ref(), &self.options);
        match (decoded, self.undecodable) {
            (Err(status), Some(code)) if status.code() != code => {
                Err(Status::new(code, status.message()))
            }
            (decoded, _) => decoded.map(Some),
        }
    }
}
