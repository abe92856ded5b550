//! The message codec of one call, picked at run time: protobuf or JSON inside gRPC frames.

use std::sync::Arc;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec as TonicCodec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

use super::Codec;
use super::json::{JsonCodec, JsonDecoder, JsonEncoder};
use crate::transcode::{JsonOptions, MethodTypes};

/// Encodes `E` and decodes `D` with the codec a call asked for.
pub(crate) enum MessageCodec<E, D> {
    Protobuf(ProstCodec<E, D>),
    Json(JsonCodec<E, D>),
}

impl<E, D> MessageCodec<E, D> {
    /// The codec for one call of a method with these message types.
    pub(crate) fn new(
        codec: Codec,
        types: &MethodTypes,
        direction: Direction,
        options: &Arc<JsonOptions>,
    ) -> MessageCodec<E, D> {
        match codec {
            Codec::Protobuf => MessageCodec::protobuf(),
            Codec::Json => MessageCodec::json(types, direction, options),
        }
    }

    /// Protobuf, which needs no descriptors.
    pub(crate) fn protobuf() -> MessageCodec<E, D> {
        MessageCodec::Protobuf(ProstCodec::default())
    }

    /// JSON; `direction` says which of the method's messages are outgoing.
    pub(crate) fn json(
        types: &MethodTypes,
        direction: Direction,
        options: &Arc<JsonOptions>,
    ) -> MessageCodec<E, D> {
        let (encode, decode) = match direction {
            Direction::Server => (&types.output, &types.input),
            Direction::Client => (&types.input, &types.output),
        };
        MessageCodec::Json(JsonCodec::new(
            encode.clone(),
            decode.clone(),
            options.clone(),
        ))
    }
}

/// Which side of a call is encoding: servers encode responses, clients requests.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Direction {
    Server,
    Client,
}

impl<E, D> TonicCodec for MessageCodec<E, D>
where
    E: Message + Send + 'static,
    D: Message + Default + Send + 'static,
{
    type Encode = E;
    type Decode = D;
    type Encoder = MessageEncoder<E>;
    type Decoder = MessageDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        match self {
            MessageCodec::Protobuf(codec) => MessageEncoder::Protobuf(codec.encoder()),
            MessageCodec::Json(codec) => MessageEncoder::Json(codec.encoder()),
        }
    }

    fn decoder(&mut self) -> Self::Decoder {
        match self {
            MessageCodec::Protobuf(codec) => MessageDecoder::Protobuf(codec.decoder()),
            MessageCodec::Json(codec) => MessageDecoder::Json(codec.decoder()),
        }
    }
}

pub(crate) enum MessageEncoder<E> {
    Protobuf(ProstEncoder<E>),
    Json(JsonEncoder<E>),
}

impl<E: Message> Encoder for MessageEncoder<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        match self {
            MessageEncoder::Protobuf(encoder) => encoder.encode(item, dst),
            MessageEncoder::Json(encoder) => encoder.encode(item, dst),
        }
    }

    fn buffer_settings(&self) -> BufferSettings {
        match self {
            MessageEncoder::Protobuf(encoder) => encoder.buffer_settings(),
            MessageEncoder::Json(encoder) => encoder.buffer_settings(),
        }
    }
}

pub(crate) enum MessageDecoder<D> {
    Protobuf(ProstDecoder<D>),
    Json(JsonDecoder<D>),
}

impl<D: Message + Default> Decoder for MessageDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        match self {
            MessageDecoder::Protobuf(decoder) => decoder.decode(src),
            MessageDecoder::Json(decoder) => decoder.decode(src),
        }
    }

    fn buffer_settings(&self) -> BufferSettings {
        match self {
            MessageDecoder::Protobuf(decoder) => decoder.buffer_settings(),
            MessageDecoder::Json(decoder) => decoder.buffer_settings(),
        }
    }
}
