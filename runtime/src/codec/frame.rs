//! One gRPC message in a whole body, as unary calls carry it: encoded straight into a buffer of
//! its exact size, and read back in place. tonic's streaming codec encodes every message
//! through a stream into an 8 KiB buffer and decodes through another, which a unary call, whose
//! body is read whole anyway, does not need.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http_body::Frame;
use http_body_util::BodyExt;
use prost_reflect::MessageDescriptor;

use super::{Codable, Format};
use crate::Status;
use crate::rpc::Body;
use crate::transcode::JsonOptions;

/// A gRPC message prefix: a compression flag and a big-endian `u32` length.
pub(crate) const PREFIX_LEN: usize = 5;

/// The header (or trailer) with a call's status code; a constant, so lookups skip parsing its
/// name.
pub(crate) const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");

/// `grpc-encoding`: how a call's messages are compressed.
pub(crate) const GRPC_ENCODING: http::HeaderName = http::HeaderName::from_static("grpc-encoding");

/// `grpc-accept-encoding`: the compressions a peer accepts for the messages it receives.
pub(crate) const GRPC_ACCEPT_ENCODING: http::HeaderName =
    http::HeaderName::from_static("grpc-accept-encoding");

/// gzip, the one message compression micro speaks.
pub(crate) const GZIP: http::HeaderValue = http::HeaderValue::from_static("gzip");

/// The status these headers (or trailers) carry, if any. Nearly every response carries none in
/// its headers, so the name is looked up before tonic parses (and copies) the map.
pub(crate) fn status_in(headers: &http::HeaderMap) -> Option<Status> {
    if !headers.contains_key(&GRPC_STATUS) {
        return None;
    }
    Status::from_header_map(headers)
}

/// The status these headers (or trailers) carry if it is a failure; `None` for none or `OK`.
pub(crate) fn failure_in(headers: &http::HeaderMap) -> Option<Status> {
    status_in(headers).filter(|status| status.code() != crate::Code::Ok)
}

/// `message` in one gRPC frame, encoded in `format` (JSON needs the message's descriptor, if
/// it is a generated one), gzipped if `gzip`. A message that encodes to more than `limit`
/// bytes fails with `too_long` of its length.
///
/// Uncompressed, the message is encoded straight into the frame's buffer, after room left for
/// its prefix.
pub(crate) fn message_frame<M: Codable>(
    message: &M,
    format: Format,
    descriptor: Option<&MessageDescriptor>,
    json: &JsonOptions,
    gzip: bool,
    limit: usize,
    too_long: impl FnOnce(usize) -> Status,
) -> Result<Bytes, Status> {
    let mut buffer = BytesMut::with_capacity(PREFIX_LEN + message.size_hint());
    buffer.put_bytes(0, PREFIX_LEN);
    message.encode_to(format, descriptor, json, &mut buffer)?;
    let len = buffer.len() - PREFIX_LEN;
    if len > limit {
        return Err(too_long(len));
    }
    if gzip {
        return framed(&buffer[PREFIX_LEN..], true);
    }
    let prefix = u32::try_from(len).map_err(|_| too_long(len))?;
    buffer[1..PREFIX_LEN].copy_from_slice(&prefix.to_be_bytes());
    Ok(buffer.freeze())
}

/// `message` in one gRPC frame, gzipped (and flagged compressed) if `gzip`.
pub(crate) fn framed(message: &[u8], gzip: bool) -> Result<Bytes, Status> {
    let compressed;
    let payload = match gzip {
        false => message,
        true => {
            compressed = gzipped(message)?;
            &compressed[..]
        }
    };
    let len = u32::try_from(payload.len()).map_err(|_| {
        Status::resource_exhausted(format!(
            "a message of {} bytes does not fit a gRPC frame (4 GiB at most)",
            payload.len()
        ))
    })?;
    let mut frame = BytesMut::with_capacity(PREFIX_LEN + payload.len());
    frame.put_u8(u8::from(gzip));
    frame.put_u32(len);
    frame.extend_from_slice(payload);
    Ok(frame.freeze())
}

fn gzipped(message: &[u8]) -> Result<Vec<u8>, Status> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(message)
        .and_then(|()| encoder.finish())
        .map_err(|err| Status::internal(format!("cannot gzip a message: {err}")))
}

/// The payload of the one gRPC frame in `data`, or `None` if `data` is empty. `whose` names the
/// message in errors ("the request", "the reply").
pub(crate) fn single(mut data: Bytes, whose: &str) -> Result<Option<Bytes>, Status> {
    if data.is_empty() {
        return Ok(None);
    }
    let Some(&[flag, a, b, c, d]) = data.get(..PREFIX_LEN) else {
        return Err(Status::internal(format!(
            "{whose}'s gRPC frame prefix is cut short"
        )));
    };
    if flag != 0 {
        return Err(Status::internal(format!(
            "{whose} is compressed without a grpc-encoding that says how"
        )));
    }
    let len = u32::from_be_bytes([a, b, c, d]) as usize;
    let end = PREFIX_LEN + len;
    match data.len() {
        total if total < end => Err(Status::internal(format!(
            "{whose}'s message is cut short: {} of {len} bytes",
            total - PREFIX_LEN
        ))),
        total if total > end => Err(Status::internal(format!(
            "{whose} holds more than one message, in a unary call"
        ))),
        _ => Ok(Some(data.split_off(PREFIX_LEN))),
    }
}

/// Whether `data` holds a complete frame followed by more bytes.
pub(crate) fn holds_more_than_one(data: &[u8]) -> bool {
    match data.get(..PREFIX_LEN) {
        Some(&[_, a, b, c, d]) => {
            data.len() > PREFIX_LEN + u32::from_be_bytes([a, b, c, d]) as usize
        }
        _ => false,
    }
}

/// Like [`single`], for a body whose `grpc-encoding` is gzip: a frame flagged compressed is
/// inflated, up to `limit` bytes.
pub(crate) fn single_gzip(data: Bytes, whose: &str, limit: usize) -> Result<Option<Bytes>, Status> {
    let Some(&flag) = data.first() else {
        return Ok(None);
    };
    let mut plain = data;
    if flag == 1 {
        let mut copy = BytesMut::from(plain.as_ref());
        copy[0] = 0;
        plain = copy.freeze();
    }
    let Some(payload) = single(plain, whose)? else {
        return Ok(None);
    };
    if flag == 0 {
        return Ok(Some(payload));
    }
    gunzip(&payload, whose, limit, crate::Code::Internal).map(Some)
}

/// `data` inflated, up to `limit` bytes. Data that is not gzip fails with `invalid` (grpc-go
/// answers `INTERNAL`, connect-go `INVALID_ARGUMENT`); more than `limit` bytes with
/// `RESOURCE_EXHAUSTED`. `whose` names the data in errors.
pub(crate) fn gunzip(
    data: &[u8],
    whose: &str,
    limit: usize,
    invalid: crate::Code,
) -> Result<Bytes, Status> {
    let mut inflated = Vec::new();
    let decoder = flate2::read::GzDecoder::new(data);
    let mut reader = std::io::Read::take(decoder, limit as u64 + 1);
    std::io::Read::read_to_end(&mut reader, &mut inflated)
        .map_err(|err| Status::new(invalid, format!("{whose} is not valid gzip: {err}")))?;
    if inflated.len() > limit {
        return Err(Status::resource_exhausted(format!(
            "{whose} inflates to more than the limit of {limit} bytes"
        )));
    }
    Ok(Bytes::from(inflated))
}

/// A body read whole, or made whole: its data (one frame, as unary messages come), its
/// trailers, or the error that stopped the reading where the reader should see it.
#[derive(Debug, Default)]
pub(crate) struct Whole {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
    error: Option<Status>,
}

impl Whole {
    /// Reads `body` to its end.
    pub(crate) async fn read(mut body: Body) -> Result<Whole, Status> {
        let mut whole = Whole::default();
        let mut joined: Option<BytesMut> = None;
        while let Some(frame) = body.frame().await {
            let frame = match frame?.into_data() {
                Ok(chunk) => {
                    match (&whole.data, &mut joined) {
                        (None, _) => whole.data = Some(chunk),
                        (Some(first), None) => {
                            let mut buffer = BytesMut::from(first.as_ref());
                            buffer.extend_from_slice(&chunk);
                            joined = Some(buffer);
                        }
                        (Some(_), Some(buffer)) => buffer.extend_from_slice(&chunk),
                    }
                    continue;
                }
                Err(frame) => frame,
            };
            if let Ok(trailers) = frame.into_trailers() {
                whole.trailers = Some(trailers);
            }
        }
        if let Some(joined) = joined {
            whole.data = Some(joined.freeze());
        }
        Ok(whole)
    }

    /// A body of `data` then `trailers`.
    pub(crate) fn new(data: Bytes, trailers: http::HeaderMap) -> Whole {
        Whole {
            data: Some(data),
            trailers: Some(trailers),
            error: None,
        }
    }

    /// A body failing with `status` when read.
    #[cfg(test)]
    pub(crate) fn failed(status: Status) -> Whole {
        Whole {
            error: Some(status),
            ..Whole::default()
        }
    }

    #[cfg(test)]
    pub(crate) fn trailers(&self) -> Option<&http::HeaderMap> {
        self.trailers.as_ref()
    }

    /// The data and the trailers.
    pub(crate) fn into_parts(self) -> (Option<Bytes>, Option<http::HeaderMap>) {
        (self.data, self.trailers)
    }
}

impl http_body::Body for Whole {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(status) = self.error.take() {
            return Poll::Ready(Some(Err(status)));
        }
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(
            self.trailers
                .take()
                .map(|trailers| Ok(Frame::trailers(trailers))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.error.is_none() && self.data.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;

    fn body(frames: Vec<Result<Frame<Bytes>, Status>>) -> Body {
        Body::new(StreamBody::new(futures_util::stream::iter(frames)))
    }

    #[tokio::test]
    async fn frames_are_joined_and_trailers_kept() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let whole = Whole::read(body(vec![
            Ok(Frame::data(Bytes::from_static(b"ab"))),
            Ok(Frame::data(Bytes::from_static(b"c"))),
            Ok(Frame::trailers(trailers.clone())),
        ]))
        .await
        .unwrap();
        assert_eq!(whole.trailers(), Some(&trailers));
        let collected = Body::new(whole).collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), Bytes::from_static(b"abc"));
    }

    #[tokio::test]
    async fn an_error_midway_is_the_result() {
        let err = Whole::read(body(vec![
            Ok(Frame::data(Bytes::from_static(b"ab"))),
            Err(Status::internal("reset")),
        ]))
        .await
        .unwrap_err();
        assert_eq!(err.message(), "reset");
        let failed = Body::new(Whole::failed(Status::resource_exhausted("too big")));
        let err = failed.collect().await.unwrap_err();
        assert_eq!(err.code(), crate::Code::ResourceExhausted);
    }
}
