//! A tonic codec carrying JSON inside gRPC frames (`application/grpc+json`).

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Buf;
use prost::Message;
use prost_reflect::MessageDescriptor;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::transcode::{JsonOptions, from_json, to_json};

/// Encodes `E` and decodes `D` as canonical proto3 JSON.
pub(crate) struct JsonCodec<E, D> {
    encode: MessageDescriptor,
    decode: MessageDescriptor,
    options: Arc<JsonOptions>,
    _types: PhantomData<fn(E) -> D>,
}

impl<E, D> JsonCodec<E, D> {
    pub(crate) fn new(
        encode: MessageDescriptor,
        decode: MessageDescriptor,
        options: Arc<JsonOptions>,
    ) -> Self {
        JsonCodec {
            encode,
            decode,
            options,
            _types: PhantomData,
        }
    }
}

impl<E, D> Codec for JsonCodec<E, D>
where
    E: Message + Send + 'static,
    D: Message + Default + Send + 'static,
{
    type Encode = E;
    type Decode = D;
    type Encoder = JsonEncoder<E>;
    type Decoder = JsonDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        JsonEncoder {
            descriptor: self.encode.clone(),
            options: self.options.clone(),
            _type: PhantomData,
        }
    }

    fn decoder(&mut self) -> Self::Decoder {
        JsonDecoder {
            descriptor: self.decode.clone(),
            options: self.options.clone(),
            _type: PhantomData,
        }
    }
}

pub(crate) struct JsonEncoder<E> {
    descriptor: MessageDescriptor,
    options: Arc<JsonOptions>,
    _type: PhantomData<fn(E)>,
}

impl<E: Message> Encoder for JsonEncoder<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        to_json(&item, &self.descriptor, &self.options, dst)
    }
}

pub(crate) struct JsonDecoder<D> {
    descriptor: MessageDescriptor,
    options: Arc<JsonOptions>,
    _type: PhantomData<fn() -> D>,
}

impl<D: Message + Default> Decoder for JsonDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        let json = src.copy_to_bytes(src.remaining());
        from_json(&json, &self.descriptor, &self.options).map(Some)
    }
}
