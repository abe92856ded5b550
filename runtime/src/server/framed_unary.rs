//! Unary gRPC calls in protobuf without a compressed request: the request's one frame is read
//! whole and decoded in place, and the reply is encoded into one buffer and sent with its
//! trailers ([`crate::codec::frame`]). tonic's `server::Grpc` does the same through its
//! streaming codec, which compressed requests and JSON messages still go through.

use std::future::Future;

use http::{HeaderMap, HeaderValue, header};
use prost::Message;

use super::call::CallMeta;
use super::{Body, Framed};
use crate::codec::{Format, Whole, frame};
use crate::{Context, Status};

const GRPC_ENCODING: http::HeaderName = http::HeaderName::from_static("grpc-encoding");
const GRPC_ACCEPT_ENCODING: http::HeaderName =
    http::HeaderName::from_static("grpc-accept-encoding");

/// Whether this path can serve `request`: its message is not compressed, nor will the reply
/// be (the service compresses replies and the client accepts gzip).
pub(super) fn serves(request: &http::Request<Body>, meta: &CallMeta) -> bool {
    let headers = request.headers();
    let compressed = headers
        .get(&GRPC_ENCODING)
        .is_some_and(|encoding| encoding != "identity");
    let reply_compressed = meta.settings.compress_responses
        && headers
            .get_all(GRPC_ACCEPT_ENCODING)
            .iter()
            .any(|value| value.as_bytes().windows(4).any(|word| word == b"gzip"));
    !compressed && !reply_compressed
}

/// Reads the request, runs the handler, and replies with its message or its status.
pub(super) async fn serve<Req, Resp, F, Fut>(
    request: http::Request<Body>,
    meta: CallMeta,
    framed: Framed,
    handler: F,
) -> http::Response<Body>
where
    Req: Message + Default + 'static,
    Resp: Message + 'static,
    F: FnOnce(Context, Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let (parts, body) = request.into_parts();
    let request = read::<Req>(body, &meta, framed).await;
    let reply = match meta.serve_unary(parts, request, handler).await {
        Ok(reply) => reply,
        Err(status) => return status.into_http(),
    };
    // Replies are not limited (as in grpc-go and tonic): the client enforces its own limit.
    match frame::encode(&reply, u32::MAX as usize) {
        Ok(data) => ok(data),
        Err(len) => Status::resource_exhausted(format!(
            "the reply of {len} bytes does not fit a gRPC frame (4 GiB at most)"
        ))
        .into_http(),
    }
}

/// The request's one message.
async fn read<Req: Message + Default>(
    body: Body,
    meta: &CallMeta,
    framed: Framed,
) -> Result<Req, Status> {
    let (data, _) = Whole::read(body).await?.into_parts();
    // A unary call with no or several messages is a client using the wrong kind of call:
    // UNIMPLEMENTED, as grpc-go and connect-go answer.
    let data = data.unwrap_or_default();
    if frame::holds_more_than_one(&data) {
        return Err(Status::unimplemented(
            "the request holds more than one message; a unary call sends exactly one",
        ));
    }
    let message = frame::single(data, "the request")?.ok_or_else(|| {
        Status::unimplemented("the request holds no message; a unary call sends exactly one")
    })?;
    Req::decode(message).map_err(|err| {
        Status::new(
            framed.undecodable,
            format!(
                "cannot decode the request as {}: {err}",
                meta.types.input.full_name()
            ),
        )
    })
}

/// A successful reply: the message's frame, then `grpc-status: 0`.
fn ok(data: bytes::Bytes) -> http::Response<Body> {
    let mut trailers = HeaderMap::with_capacity(1);
    trailers.insert(frame::GRPC_STATUS, HeaderValue::from_static("0"));
    let mut response = http::Response::new(Body::new(Whole::new(data, trailers)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(Format::Protobuf.grpc_content_type()),
    );
    response
}
