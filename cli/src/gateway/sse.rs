//! Server-streaming (and posted bidirectional) calls answered as Server-Sent Events: one
//! `data:` event per reply, then `event: end` when the call succeeds, or `event: error` with
//! go-micro's error JSON when it fails after the first reply (before it, the error is the usual
//! JSON answer and status).

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use http::{HeaderMap, HeaderValue};
use micro::dynamic::{DynamicMessage, Method};
use micro::errors::Error;
use micro::{Status, Streaming};

use super::error::{GATEWAY_ID, GatewayError};
use super::reply::ReplyJson;
use super::{Shared, headers};

/// How often an idle stream sends a comment, so that proxies and browsers keep it open.
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Calls the server-streaming `method` of `service` and answers with its replies as events.
/// An error before the first reply is returned, to be answered with its HTTP status.
pub(super) async fn respond(
    gateway: &Shared,
    service: &str,
    method: &Method,
    request: DynamicMessage,
    headers: &HeaderMap,
    replies: ReplyJson,
) -> Result<Response, GatewayError> {
    let call = gateway
        .env
        .client
        .dynamic_server_streaming(service, method, request);
    let stream = headers::forward(&gateway.env, headers, call)
        .await
        .map_err(|status| GatewayError::from_status(&status, service))?;
    answer(stream, service, replies).await
}

/// Answers with the replies of a call's reply `stream` as events. An error before the first
/// reply is returned, to be answered with its HTTP status.
pub(super) async fn answer(
    mut stream: Streaming<DynamicMessage>,
    service: &str,
    replies: ReplyJson,
) -> Result<Response, GatewayError> {
    let failed = |status: Status| GatewayError::from_status(&status, service);
    // The first reply decides between a stream and an error answer.
    let first = match stream.next().await {
        Some(Ok(reply)) => Some(reply),
        Some(Err(status)) => return Err(failed(status)),
        None => None,
    };
    let events = events(first, stream, replies, service.to_owned());
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Proxies that buffer responses (nginx) would hold the events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Where the event stream is.
enum State {
    /// Replies still to come, the first one already read (if any).
    Replying(Option<DynamicMessage>, Streaming<DynamicMessage>),
    /// The last event has been sent.
    Done,
}

/// The replies as events, then `end` or `error`. Dropping the stream (the client went away)
/// drops the call's reply stream, which cancels the call.
fn events(
    first: Option<DynamicMessage>,
    replies: Streaming<DynamicMessage>,
    json: ReplyJson,
    service: String,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let events: BoxStream<'static, Event> =
        stream::unfold(State::Replying(first, replies), move |state| {
            let (json, service) = (json.clone(), service.clone());
            async move {
                let State::Replying(first, mut replies) = state else {
                    return None;
                };
                let next = match first {
                    Some(reply) => Some(Ok(reply)),
                    None => replies.next().await,
                };
                let event = match next {
                    Some(Ok(reply)) => match json.text(&reply) {
                        Ok(text) => {
                            return Some((
                                Event::default().data(text),
                                State::Replying(None, replies),
                            ));
                        }
                        Err(status) => error_event(&Error::from_status(&status, GATEWAY_ID)),
                    },
                    Some(Err(status)) => error_event(&Error::from_status(&status, &service)),
                    None => Event::default().event("end").data("{}"),
                };
                Some((event, State::Done))
            }
        })
        .boxed();
    events.map(Ok)
}

/// `event: error` with go-micro's error JSON.
fn error_event(error: &Error) -> Event {
    if error.http_status().is_server_error() {
        tracing::warn!("gateway: stream failed: {}", error.detail);
    }
    Event::default().event("error").data(error.to_json())
}
