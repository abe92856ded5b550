//! Unary calls on every protocol, one path: the request's one message is read (from its gRPC
//! frame, or as the whole body for Connect unary and go-micro), decoded by the call's codec,
//! handed to the handler, and the reply written back the same way.
//!
//! The framing decides only what each protocol's reference implementation decides: a message
//! that does not decode is `INTERNAL` in gRPC and gRPC-Web (grpc-go) and `INVALID_ARGUMENT` in
//! Connect (connect-go), which go-micro's JSON route answers with 400; an empty gRPC body is no
//! message (`UNIMPLEMENTED`), an empty unframed body the empty message (as curl sends).
//!
//! A gRPC error leaves as a trailers-only response; an unframed call's error reaches its
//! protocol adapter as a typed [`Failure`](super::Failure), written in that protocol's form.

use std::future::Future;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, header};
use http_body_util::{BodyExt, Full, Limited};
use prost_reflect::MessageDescriptor;

use super::call::CallMeta;
use super::{Body, Outgoing, UnframedReply, Wire};
use crate::codec::frame::{GRPC_ACCEPT_ENCODING, GRPC_ENCODING, GZIP};
use crate::codec::{Codable, Format, Whole, frame};
use crate::transcode::{JsonOptions, MethodTypes};
use crate::{Code, Context, Status};

/// Reads the request, runs the handler, and replies with its message or its status, with the
/// handler's response headers and trailers.
pub(super) async fn serve<Req, Resp, F, Fut>(
    request: http::Request<Body>,
    meta: CallMeta,
    wire: Wire,
    handler: F,
) -> http::Response<Body>
where
    Req: Codable,
    Resp: Codable,
    F: FnOnce(Context, Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let (parts, body) = request.into_parts();
    let compression = Compression::of(&parts.headers, &meta, wire);
    let request = match compression.request {
        Ok(gzipped) => read(body, &meta, wire, gzipped)
            .await
            .and_then(|message| decode(&message, &meta, wire)),
        Err(ref status) => Err(status.clone()),
    };
    let writer = Writer::new(&meta, wire, compression.reply);
    let outgoing = meta.outgoing.clone();
    let refused_encoding = compression.request.is_err();
    let result = match meta.serve_unary(parts, request, handler).await {
        Ok(reply) => writer.write(&reply),
        Err(status) => Err(status),
    };
    let response = result.unwrap_or_else(|status| {
        let mut response = wire.failed(status);
        if refused_encoding {
            response.headers_mut().insert(GRPC_ACCEPT_ENCODING, GZIP);
        }
        response
    });
    match wire {
        Wire::Grpc(_) => outgoing.finish(response, true),
        Wire::Unframed(_) => with_metadata(response, &outgoing),
    }
}

/// How a gRPC call's messages are compressed.
struct Compression {
    /// Whether the request is gzipped, or the status refusing its encoding.
    request: Result<bool, Status>,
    /// Whether to gzip the reply.
    reply: bool,
}

impl Compression {
    fn of(headers: &HeaderMap, meta: &CallMeta, wire: Wire) -> Compression {
        if matches!(wire, Wire::Unframed(_)) {
            // Connect unary's Content-Encoding was undone by the router; go-micro has none.
            return Compression {
                request: Ok(false),
                reply: false,
            };
        }
        let request = match headers.get(&GRPC_ENCODING).map(HeaderValue::as_bytes) {
            None | Some(b"identity") => Ok(false),
            Some(b"gzip") => Ok(true),
            Some(other) => Err(Status::unimplemented(format!(
                "unsupported grpc-encoding `{}`; this server accepts gzip",
                String::from_utf8_lossy(other)
            ))),
        };
        let reply = meta.settings.compress_responses
            && headers
                .get_all(GRPC_ACCEPT_ENCODING)
                .iter()
                .any(|value| value.as_bytes().windows(4).any(|word| word == b"gzip"));
        Compression { request, reply }
    }
}

/// The request's one message.
async fn read(body: Body, meta: &CallMeta, wire: Wire, gzipped: bool) -> Result<Bytes, Status> {
    let Wire::Grpc(_) = wire else {
        return read_whole(body, meta.settings.max_message_size).await;
    };
    let (data, _) = Whole::read(body).await?.into_parts();
    // A unary call with no or several messages is a client using the wrong kind of call:
    // UNIMPLEMENTED, as grpc-go and connect-go answer.
    let data = data.unwrap_or_default();
    if frame::holds_more_than_one(&data) {
        return Err(Status::unimplemented(
            "the request holds more than one message; a unary call sends exactly one",
        ));
    }
    let limit = meta.settings.max_message_size;
    let message = match gzipped {
        true => frame::single_gzip(data, "the request", limit)?,
        false => frame::single(data, "the request")?,
    };
    message.ok_or_else(|| {
        Status::unimplemented("the request holds no message; a unary call sends exactly one")
    })
}

/// The whole body, up to `limit` bytes.
pub(super) async fn read_whole(body: Body, limit: usize) -> Result<Bytes, Status> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            Err(Status::resource_exhausted(format!(
                "the request body exceeds the limit of {limit} bytes; send smaller messages or \
                 raise the limit (--server-max-message-size)"
            )))
        }
        Err(err) => Err(Status::from_error(err)),
    }
}

/// Decodes the request in the call's codec; an empty unframed JSON body is the empty message.
fn decode<Req: Codable>(message: &[u8], meta: &CallMeta, wire: Wire) -> Result<Req, Status> {
    let (codec, undecodable) = match wire {
        Wire::Grpc(framed) => (framed.codec, framed.undecodable),
        // curl without `-d`; an empty protobuf body is the default message, decoded as such.
        Wire::Unframed(reply) if message.is_empty() && reply.codec == Format::Json => {
            return Req::empty();
        }
        Wire::Unframed(reply) => (reply.codec, Code::InvalidArgument),
    };
    let input = meta.types.as_ref().map(|types| &types.input);
    let decoded = Req::decode_from(message, codec, input, &meta.settings.json);
    decoded.map_err(|status| match status.code() {
        // A proto-less endpoint asked for protobuf: not bad input, a protocol it lacks.
        Code::Unimplemented => status,
        code if code == undecodable => status,
        _ => Status::new(undecodable, status.message()),
    })
}

/// Writes the reply as the call's protocol carries it.
struct Writer {
    wire: Wire,
    /// The method's types, for a reply in a format the message needs them for.
    types: Option<Arc<MethodTypes>>,
    json: Arc<JsonOptions>,
    /// The handler's response metadata, which may turn compression off, if the reply may be
    /// gzipped.
    gzip: Option<Arc<Outgoing>>,
}

impl Writer {
    fn new(meta: &CallMeta, wire: Wire, gzip: bool) -> Writer {
        Writer {
            wire,
            types: meta.types.clone(),
            json: meta.settings.json.clone(),
            gzip: gzip.then(|| meta.outgoing.clone()),
        }
    }

    fn write<Resp: Codable>(&self, reply: &Resp) -> Result<http::Response<Body>, Status> {
        match self.wire {
            Wire::Grpc(framed) => self.grpc(reply, framed.codec),
            Wire::Unframed(reply_as) => self.unframed(reply, reply_as),
        }
    }

    /// A gRPC reply: the message's frame, then `grpc-status: 0`.
    fn grpc<Resp: Codable>(
        &self,
        reply: &Resp,
        codec: Format,
    ) -> Result<http::Response<Body>, Status> {
        let gzip = self
            .gzip
            .as_ref()
            .is_some_and(|outgoing| !outgoing.uncompressed());
        let output = self.output();
        let limit = u32::MAX as usize;
        let data = frame::message_frame(reply, codec, output, &self.json, gzip, limit, too_big)?;
        let mut trailers = HeaderMap::with_capacity(1);
        trailers.insert(frame::GRPC_STATUS, HeaderValue::from_static("0"));
        let mut response = http::Response::new(Body::new(Whole::new(data, trailers)));
        let headers = response.headers_mut();
        let content_type = HeaderValue::from_static(codec.grpc_content_type());
        headers.insert(header::CONTENT_TYPE, content_type);
        if gzip {
            headers.insert(GRPC_ENCODING, GZIP);
        }
        Ok(response)
    }

    /// A Connect unary or go-micro reply: the message is the body.
    fn unframed<Resp: Codable>(
        &self,
        reply: &Resp,
        reply_as: UnframedReply,
    ) -> Result<http::Response<Body>, Status> {
        let mut body = BytesMut::with_capacity(reply.size_hint() * 2 + 16);
        reply.encode_to(reply_as.codec, self.output(), &self.json, &mut body)?;
        if reply_as.newline {
            body.extend_from_slice(b"\n");
        }
        let mut response = http::Response::new(Body::new(Full::new(body.freeze())));
        let content_type = HeaderValue::from_static(reply_as.content_type);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
        Ok(response)
    }

    /// The reply's descriptor, if the method has descriptors.
    fn output(&self) -> Option<&MessageDescriptor> {
        self.types.as_ref().map(|types| &types.output)
    }
}

// Replies are not limited (as in grpc-go and tonic): the client enforces its own limit.
fn too_big(len: usize) -> Status {
    Status::resource_exhausted(format!(
        "the reply of {len} bytes does not fit a gRPC frame (4 GiB at most)"
    ))
}

/// Adds the handler's response metadata to an unframed reply: headers as they are, trailers as
/// `trailer-` headers (Connect's unary form; go-micro has no trailers).
fn with_metadata(mut response: http::Response<Body>, outgoing: &Outgoing) -> http::Response<Body> {
    let (headers, trailers) = outgoing.take_all();
    let into = response.headers_mut();
    for (name, value) in &headers {
        into.append(name.clone(), value.clone());
    }
    for (name, value) in &trailers {
        if let Ok(name) = HeaderName::try_from(format!("trailer-{name}")) {
            into.append(name, value.clone());
        }
    }
    response
}
