//! Client and bidirectional streaming calls over a plain `POST`: the body is a sequence of JSON
//! messages (newline-delimited JSON, as grpc-gateway takes them; [`JsonSequence`]). The gateway
//! reads the whole body and checks every message before it calls, so a bad message fails the
//! request with a 400 naming it and the method never sees part of the requests. A client
//! stream answers with its reply as JSON, a bidirectional one with Server-Sent Events, as a
//! server stream does. A conversation (replies while requests are still being sent) needs a
//! WebSocket ([`super::websocket`]), or the service's own port.

use axum::body::Bytes;
use axum::response::Response;
use futures_util::stream;
use http::{HeaderMap, StatusCode};
use http_body_util::Full;
use micro::dynamic::{DynamicMessage, Method};
use micro::http_rule::JsonSequence;
use micro::server::RpcKind;
use micro::{Code, Status};

use super::error::GatewayError;
use super::handler::{MAX_BODY, json_response};
use super::reply::ReplyJson;
use super::{Shared, headers, sse};

/// Whether `method` takes a stream of requests, which a `POST` sends as JSON messages.
pub(super) fn takes_requests(method: &Method) -> bool {
    matches!(
        method.kind(),
        RpcKind::ClientStreaming | RpcKind::BidiStreaming
    )
}

/// The request messages of `body`, each made by `decode`; the first that is not JSON, or
/// that `decode` refuses, is a 400 naming it. An empty body is no message.
pub(super) async fn requests(
    body: Bytes,
    decode: impl Fn(&[u8]) -> Result<DynamicMessage, GatewayError>,
) -> Result<Vec<DynamicMessage>, GatewayError> {
    let mut body = Full::new(body);
    let mut sequence = JsonSequence::new();
    let mut requests = Vec::new();
    loop {
        let message = sequence.next_in(&mut body, MAX_BODY).await;
        let message = match message.map_err(unreadable)? {
            Some(message) => message,
            None => return Ok(requests),
        };
        let request = decode(&message).map_err(|error| {
            let detail = &error.error().detail;
            GatewayError::bad_request(format!("request message {}: {detail}", sequence.count()))
        })?;
        requests.push(request);
    }
}

/// Calls the client or bidirectional streaming `method` of `service` with `requests`: the
/// reply as JSON, or the replies as events.
pub(super) async fn respond(
    gateway: &Shared,
    service: &str,
    method: &Method,
    requests: Vec<DynamicMessage>,
    headers: &HeaderMap,
    replies: ReplyJson,
) -> Result<Response, GatewayError> {
    let (client, env) = (&gateway.env.client, &gateway.env);
    let failed = |status: Status| GatewayError::from_status(&status, service);
    let requests = stream::iter(requests);
    if method.kind() == RpcKind::ClientStreaming {
        let call = client.dynamic_client_streaming(service, method, requests);
        let reply = headers::forward(env, headers, call).await.map_err(failed)?;
        return Ok(json_response(replies.text(&reply)?));
    }
    let call = client.dynamic_bidi_streaming(service, method, requests);
    let stream = headers::forward(env, headers, call).await.map_err(failed)?;
    sse::answer(stream, service, replies).await
}

/// The JSON sequence's error: not JSON (400), or a message over the body limit (413).
fn unreadable(status: Status) -> GatewayError {
    let code = match status.code() {
        Code::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    GatewayError::new(code, status.message())
}
