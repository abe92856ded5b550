//! Unary calls over plain HTTP: the request body is one message and so is the response body
//! (Connect's unary protocol and go-micro's `Micro-Endpoint` calls).
//!
//! The reply is the encoded message with status 200, written as the protocol asked; an error is
//! a trailers-only gRPC response (`grpc-status` in the headers) that the protocol layer turns
//! into its own error format.

use std::future::Future;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full, Limited};
use prost::Message;

use super::call::CallMeta;
use super::{Body, PlainReply};
use crate::codec::Format;
use crate::transcode::{from_json, to_json};
use crate::{Context, Status};

/// Reads the request, runs the handler and writes its reply as `reply_as` says.
pub(super) async fn unary<Req, Resp, F, Fut>(
    request: http::Request<Body>,
    meta: CallMeta,
    reply_as: PlainReply,
    handler: F,
) -> http::Response<Body>
where
    Req: Message + Default + 'static,
    Resp: Message + 'static,
    F: FnOnce(Context, Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let codec = reply_as.codec;
    let (parts, body) = request.into_parts();
    let limit = meta.settings.max_message_size;
    let request = read(body, limit)
        .await
        .and_then(|bytes| decode(&meta, codec, &bytes));
    let types = meta.types.clone();
    let json = meta.settings.json.clone();
    let reply = match meta.serve_unary(parts, request, handler).await {
        Ok(reply) => reply,
        Err(status) => return status.into_http(),
    };
    let mut body = BytesMut::with_capacity(reply.encoded_len() * 2 + 16);
    let encoded = match codec {
        Format::Protobuf => reply
            .encode(&mut body)
            .map_err(|err| Status::internal(err.to_string())),
        Format::Json => to_json(&reply, &types.output, &json, &mut body),
    };
    if let Err(status) = encoded {
        return status.into_http();
    }
    if reply_as.newline {
        body.extend_from_slice(b"\n");
    }
    let mut response = http::Response::new(Body::new(Full::new(body.freeze())));
    let content_type = http::HeaderValue::from_static(reply_as.content_type);
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, content_type);
    response
}

/// Adds the handler's response metadata to a plain reply: headers as they are, trailers as
/// `trailer-` headers (Connect's unary form; go-micro has no trailers).
pub(super) fn with_metadata(
    mut response: http::Response<Body>,
    outgoing: &super::Outgoing,
) -> http::Response<Body> {
    let (headers, trailers) = outgoing.take_all();
    let into = response.headers_mut();
    for (name, value) in &headers {
        into.append(name.clone(), value.clone());
    }
    for (name, value) in &trailers {
        if let Ok(name) = http::HeaderName::try_from(format!("trailer-{name}")) {
            into.append(name, value.clone());
        }
    }
    response
}

/// The whole body, up to `limit` bytes.
async fn read(body: Body, limit: usize) -> Result<Bytes, Status> {
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

/// Decodes the request; an empty body is the empty message in either codec, as curl sends.
fn decode<Req: Message + Default>(
    meta: &CallMeta,
    codec: Format,
    bytes: &[u8],
) -> Result<Req, Status> {
    let input = &meta.types.input;
    if bytes.is_empty() {
        return Ok(Req::default());
    }

    match codec {
        Format::Protobuf => Req::decode(bytes).map_err(|err| {
            Status::invalid_argument(format!("invalid protobuf for {}: {err}", input.full_name()))
        }),
        Format::Json => from_json(bytes, input, &meta.settings.json),
    }
}
