//! The message codec of one call, picked at run time: protobuf or JSON inside gRPC frames.

use std::sync::Arc;

use prost::Message;
use tonic::codec::{BufferSettings, Codec as TonicCodec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

use super::Format;
use super::json::{JsonCodec, JsonDecoder, JsonEncoder};
use crate::transcode::{JsonOptions, MethodTypes};

/// Encodes `E` and decodes `D` with the codec a call asked for.
pub(crate) struct MessageCodec<E, D> {
    format: FormatCodec<E, D>,
    /// The code of a message that does not decode, if not the codec's own.
    undecodable: Option<Code>,
}

enum FormatCodec<E, D> {
    Protobuf(ProstCodec<E, D>),
    Json(JsonCodec<E, D>),
}

impl<E, D> MessageCodec<E, D> {
    /// The codec for one call of a method with these message types.
    pub(crate) fn new(
        codec: Format,
        types: &MethodTypes,
        direction: Direction,
        options: &Arc<JsonOptions>,
    ) -> MessageCodec<E, D> {
        match codec {
            Format::Protobuf => MessageCodec::protobuf(),
            Format::Json => MessageCodec::json(types, direction, options),
        }
    }

    /// Protobuf, which needs no descriptors.
    pub(crate) fn protobuf() -> MessageCodec<E, D> {
        MessageCodec {
            format: FormatCodec::Protobuf(ProstCodec::default()),
            undecodable: None,
        }
    }

    /// Refuses a message that does not decode with `code`, whatever the codec: protocols
    /// differ here (grpc-go answers `INTERNAL`, connect-go `INVALID_ARGUMENT`).
    pub(crate) fn undecodable(mut self, code: Code) -> MessageCodec<E, D> {
        self.undecodable = Some(code);
        self
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
        MessageCodec {
            format: FormatCodec::Json(JsonCodec::new(
                encode.clone(),
                decode.clone(),
                options.clone(),
            )),
            undecodable: None,
        }
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
        match &mut self.format {
            FormatCodec::Protobuf(codec) => MessageEncoder::Protobuf(codec.encoder()),
            FormatCodec::Json(codec) => MessageEncoder::Json(codec.encoder()),
        }
    }

    fn decoder(&mut self) -> Self::Decoder {
        let format = match &mut self.format {
            FormatCodec::Protobuf(codec) => DecoderFormat::Protobuf(codec.decoder()),
            FormatCodec::Json(codec) => DecoderFormat::Json(codec.decoder()),
        };
        MessageDecoder {
            format,
            undecodable: self.undecodable,
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

pub(crate) struct MessageDecoder<D> {
    format: DecoderFormat<D>,
    undecodable: Option<Code>,
}

enum DecoderFormat<D> {
    Protobuf(ProstDecoder<D>),
    Json(JsonDecoder<D>),
}

impl<D: Message + Default> Decoder for MessageDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        let decoded = match &mut self.format {
            DecoderFormat::Protobuf(decoder) => decoder.decode(src),
            DecoderFormat::Json(decoder) => decoder.decode(src),
        };
        match (decoded, self.undecodable) {
            (Err(status), Some(code)) if status.code() != code => {
                Err(Status::new(code, status.message()))
            }
            (decoded, _) => decoded,
        }
    }

    fn buffer_settings(&self) -> BufferSettings {
        match &self.format {
            DecoderFormat::Protobuf(decoder) => decoder.buffer_settings(),
            DecoderFormat::Json(decoder) => decoder.buffer_settings(),
        }
    }
}
