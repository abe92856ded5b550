//! Doors for the fuzz targets in `fuzz/` into parsers of outside input that are not public, so
//! that fuzzing runs the real code. Compiled only with the `fuzzing` feature (off by default);
//! not an API, nothing here is stable.
//!
//! Each function calls the parser as the server (or client, or registry) calls it, with no logic
//! of its own beyond building the input and polling futures that are ready at once (the bodies
//! are in memory).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use prost_reflect::MessageDescriptor;
use tonic::codec::{Codec, CompressionEncoding, Streaming};

use crate::codec::frame;
use crate::codec::{Codable, Direction, Format, FrameLimit, MessageCodec, Whole};
use crate::registry::mdns::{self, packet, txt};
use crate::server::Body;
use crate::transcode::{JsonOptions, MethodTypes};
use crate::{Status, registry};

/// Most messages decoded from one stream before the fuzz target stops reading.
pub const MAX_STREAMED: usize = 1024;

/// A body of these chunks, in order.
pub fn body(chunks: Vec<Bytes>) -> Body {
    let frames = chunks
        .into_iter()
        .map(|c| Ok::<_, Infallible>(Frame::data(c)));
    Body::new(StreamBody::new(futures_util::stream::iter(frames)))
}

/// `body` read whole through the size limit on gRPC frames (`FrameLimit`), as every framed
/// request is.
pub fn frame_limit(chunks: Vec<Bytes>, limit: usize) -> Result<Bytes, Status> {
    let limited = FrameLimit::new(body(chunks), limit);
    ready(limited.collect()).map(|collected| collected.to_bytes())
}

/// The one message of a unary gRPC request, read as the server reads it: through
/// `FrameLimit`, whole, then its single frame (inflated if `gzipped`).
pub fn grpc_unary(
    chunks: Vec<Bytes>,
    gzipped: bool,
    limit: usize,
) -> Result<Option<Bytes>, Status> {
    let limited = Body::new(FrameLimit::new(body(chunks), limit));
    let (data, _) = ready(Whole::read(limited))?.into_parts();
    let data = data.unwrap_or_default();
    if frame::holds_more_than_one(&data) {
        return Err(Status::unimplemented("more than one message"));
    }
    match gzipped {
        true => frame::single_gzip(data, "the request", limit),
        false => frame::single(data, "the request"),
    }
}

/// `message` in one gRPC frame, gzipped if `gzip`.
pub fn grpc_framed(message: &[u8], gzip: bool) -> Result<Bytes, Status> {
    frame::framed(message, gzip)
}

/// `message` encoded in `format` into one gRPC frame, refused past `limit` bytes.
pub fn message_frame<M: Codable>(
    message: &M,
    format: Format,
    descriptor: Option<&MessageDescriptor>,
    limit: usize,
) -> Result<Bytes, Status> {
    frame::message_frame(
        message,
        format,
        descriptor,
        &JsonOptions::DEFAULT,
        false,
        limit,
        |len| Status::resource_exhausted(format!("{len} bytes")),
    )
}

/// The messages of a framed request stream (gRPC, Connect streaming, or gRPC-Web once
/// translated), decoded as the server decodes them: `FrameLimit`, then tonic's stream
/// decoder with micro's codec for `M` in `format`. Stops at the first error.
pub fn framed_stream<M: Codable>(
    chunks: Vec<Bytes>,
    format: Format,
    descriptor: Option<&MessageDescriptor>,
    gzip: bool,
    limit: usize,
) -> Vec<Result<M, Status>> {
    let body = Body::new(FrameLimit::new(body(chunks), limit));
    decode_stream(body, format, descriptor, gzip, limit)
}

fn decode_stream<M: Codable>(
    body: Body,
    format: Format,
    descriptor: Option<&MessageDescriptor>,
    gzip: bool,
    limit: usize,
) -> Vec<Result<M, Status>> {
    let types = descriptor.map(|descriptor| MethodTypes {
        input: descriptor.clone(),
        output: descriptor.clone(),
        no_side_effects: false,
        http: Vec::new(),
    });
    let options = Arc::new(JsonOptions::DEFAULT);
    let mut codec = MessageCodec::<M, M>::new(format, types.as_ref(), Direction::Server, &options);
    let encoding = gzip.then_some(CompressionEncoding::Gzip);
    let mut stream = Streaming::new_request(codec.decoder(), body, encoding, Some(limit));
    let mut messages = Vec::new();
    while messages.len() < MAX_STREAMED {
        match stream.next().now_or_never().flatten() {
            Some(Ok(message)) => messages.push(Ok(message)),
            Some(Err(status)) => {
                messages.push(Err(status));
                break;
            }
            None => break,
        }
    }
    messages
}

/// A gRPC-Web request with this `content_type` and body, translated by tonic-web as the server
/// translates it, then decoded as [`framed_stream`] decodes.
pub fn grpc_web<M: Codable>(
    content_type: &str,
    chunks: Vec<Bytes>,
    descriptor: Option<&MessageDescriptor>,
    limit: usize,
) -> Vec<Result<M, Status>> {
    use crate::server::protocol::grpc_web;
    let format = match content_type.ends_with("+json") {
        true => Format::Json,
        false => Format::Protobuf,
    };
    let Ok(mut request) = http::Request::post("/fuzz.Fuzz/Call")
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body(chunks))
    else {
        return Vec::new();
    };
    grpc_web::before(&mut request, format);
    let decoded = Arc::new(Mutex::new(Vec::new()));
    let inner = {
        let decoded = decoded.clone();
        let descriptor = descriptor.cloned();
        tower::service_fn(move |request: http::Request<Body>| {
            let format = grpc_web::codec_after(&request);
            let body = Body::new(FrameLimit::new(request.into_body(), limit));
            let messages = decode_stream::<M>(body, format, descriptor.as_ref(), false, limit);
            if let Ok(mut decoded) = decoded.lock() {
                *decoded = messages;
            }
            std::future::ready(Ok::<_, Infallible>(http::Response::new(Body::empty())))
        })
    };
    let web = tower::Layer::layer(&tonic_web::GrpcWebLayer::new(), inner);
    if let Some(Ok(response)) = tower::ServiceExt::oneshot(web, request).now_or_never() {
        let _ = ready(response.into_body().collect());
    }
    let mut decoded = decoded
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::mem::take(&mut *decoded)
}

/// A Connect GET request (`uri` with its query) made into the `POST` it encodes, inflated as the
/// server inflates unary bodies: the body and whether it is JSON.
pub fn connect_get(uri: &str, limit: usize) -> Result<(Bytes, bool), Status> {
    use crate::server::protocol::connect_unary;
    let request = http::Request::get(uri)
        .body(Body::empty())
        .map_err(|err| Status::invalid_argument(err.to_string()))?;
    if !connect_unary::is_get(&request) {
        return Err(Status::invalid_argument("not a Connect GET"));
    }
    let (request, format) = connect_unary::from_get(request)?;
    let request = ready(connect_unary::decompress(request, limit))?;
    let body = ready(request.into_body().collect())?.to_bytes();
    Ok((body, format == Format::Json))
}

/// A Connect unary body with this `Content-Encoding`, inflated as the server inflates it.
pub fn connect_unary_body(
    body: Bytes,
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Bytes, Status> {
    use crate::server::protocol::connect_unary;
    let mut request = http::Request::post("/fuzz.Fuzz/Call");
    if let Some(encoding) = content_encoding {
        request = request.header(http::header::CONTENT_ENCODING, encoding);
    }
    let request = request
        .body(Body::new(Full::new(body)))
        .map_err(|err| Status::invalid_argument(err.to_string()))?;
    let request = ready(connect_unary::decompress(request, limit))?;
    Ok(ready(request.into_body().collect())?.to_bytes())
}

/// The services an mDNS packet announces, read as the mDNS registry reads a response: the
/// packet parsed, its records collected, each instance's TXT decoded. `None` if the packet does
/// not parse.
pub fn mdns_packet(bytes: &[u8]) -> Option<Vec<registry::Service>> {
    let message = packet::parse(bytes)?;
    let mut collector = packet::Collector::default();
    collector.read(&message);
    Some(
        collector
            .instances
            .values()
            .filter_map(mdns::seen_service)
            .collect(),
    )
}

/// The packet the mDNS registry sends to announce one node of `service` (PTR, SRV, TXT and
/// the host's address), with go-micro's TXT payload for `node`: for seeds.
pub fn mdns_announcement(
    service: &registry::Service,
    node: &registry::Node,
    ip: std::net::IpAddr,
    port: u16,
) -> Result<Vec<u8>, String> {
    let payload = txt::Txt {
        metadata: node.metadata.clone(),
        service: service.name.clone(),
        version: service.version.clone(),
        endpoints: service.endpoints.clone(),
    };
    let instance = packet::Instance {
        service: service.name.clone(),
        instance: node.id.clone(),
        host: format!("{}.local.", node.id),
        ip: Some(ip),
        port,
        txt: txt::encode(&payload),
    };
    let (ptr, records) = instance.records(120)?;
    packet::response(0, vec![ptr], records)
        .to_vec()
        .map_err(|err| err.to_string())
}

/// go-micro's mDNS TXT strings decoded, encoded again and decoded again: the encoded strings
/// and whether both decodings agree, or why the strings do not decode.
pub fn mdns_txt(strings: &[String]) -> Result<(Vec<String>, bool), String> {
    let payload = txt::decode(strings)?;
    let encoded = txt::encode(&payload);
    let again = txt::decode(&encoded)?;
    Ok((encoded, again == payload))
}

/// go-micro's reply to a call over its RPC protocol (mucp), read as micro's client reads it
/// (`client/mucp.rs`): turned into a gRPC response, then read as a unary reply, giving the
/// reply message or the call's status.
pub fn mucp_reply(
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
) -> Result<Bytes, Status> {
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    let (parts, ()) = response.into_parts();
    ready(crate::client::mucp::read_reply(parts, body))
}

/// What micro's server reads from the headers of a go-micro request (`server/protocol`).
#[derive(Debug)]
pub struct MicroRequest {
    /// Served as go-micro's protocol, in this codec (`None`: another protocol or refused).
    pub format: Option<Format>,
    /// Refused: no protocol this port speaks.
    pub unsupported: bool,
    /// The endpoint called (`Micro-Endpoint` and the headers go-micro reads after it).
    pub endpoint: String,
    /// The caller's timeout: `grpc-timeout`, `connect-timeout-ms` or go-micro's `timeout`.
    pub timeout: Result<Option<std::time::Duration>, Status>,
}

/// Reads a request's headers as the server does before it routes a go-micro call.
pub fn micro_request(headers: &http::HeaderMap) -> MicroRequest {
    use crate::server::protocol::Protocol;
    use crate::server::protocol::micro::Caller;

    let protocol = Protocol::detect(headers);
    MicroRequest {
        format: match protocol {
            Protocol::Micro(format) => Some(format),
            _ => None,
        },
        unsupported: matches!(protocol, Protocol::Unsupported(_)),
        endpoint: Caller::of(headers).endpoint().to_owned(),
        timeout: crate::deadline::from_headers(headers),
    }
}

/// The response the server sends a go-micro request (with these headers) whose call failed
/// with `status` in `service`: go-micro's error JSON in `Micro-Error`, and in the body for a
/// caller that is not a go-micro client.
pub fn micro_error(
    headers: &http::HeaderMap,
    status: &Status,
    service: &str,
) -> (http::StatusCode, http::HeaderMap, Bytes) {
    let response = crate::server::protocol::micro::Caller::of(headers).error(status, service);
    let (parts, body) = response.into_parts();
    let body = ready(body.collect()).map(|collected| collected.to_bytes());
    (parts.status, parts.headers, body.unwrap_or_default())
}

/// Polls a future that is ready at once (everything it reads is in memory).
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = futures_util::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        // A harness bug, not a finding: everything polled here is in memory.
        std::task::Poll::Pending => panic!("fuzzing: an in-memory future is not ready"),
    }
}
