//! Streaming rules' replies. Server-streaming and bidirectional rules answer with Server-Sent
//! Events, as `micro gateway` does: one `data:` event per reply, then `event: end` (`data:
//! {}`) when the call succeeds, or `event: error` with go-micro's error JSON when it fails
//! after the first reply (before it, the error is the usual JSON answer with its HTTP status).
//! An idle stream sends a comment every [`KEEP_ALIVE`], so proxies and browsers keep it open.
//! A client-streaming rule answers with its one reply as JSON.
//!
//! The call itself is an ordinary gRPC call with JSON messages, served in process: its reply
//! frames are read off the response body and written out.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::stream;
use http::{HeaderValue, header};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};

use crate::Status;
use crate::codec::frame::{PREFIX_LEN, failure_in};
use crate::errors::Error as MicroError;
use crate::server::Body;

/// How often an idle stream sends a comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What the call's response body holds next.
enum Next {
    /// One reply message (JSON).
    Reply(Bytes),
    /// The call ended: `None` when it succeeded.
    End(Option<Status>),
    /// Nothing for [`KEEP_ALIVE`].
    Idle,
}

/// The reply messages of a gRPC response body, one frame at a time.
struct Replies {
    body: Body,
    buffer: BytesMut,
}

impl Replies {
    /// The replies of a gRPC `response`, after its headers; `Err` with the status of a call
    /// that failed at once (trailers only).
    fn of(response: http::Response<Body>) -> Result<(http::response::Parts, Replies), Status> {
        let (parts, body) = response.into_parts();
        if let Some(status) = failure_in(&parts.headers) {
            return Err(status);
        }
        let buffer = BytesMut::new();
        Ok((parts, Replies { body, buffer }))
    }

    async fn next(&mut self) -> Next {
        loop {
            if let Some(message) = take_frame(&mut self.buffer) {
                return Next::Reply(message);
            }
            let frame = match tokio::time::timeout(KEEP_ALIVE, self.body.frame()).await {
                Err(_) => return Next::Idle,
                Ok(None) => return Next::End(None),
                Ok(Some(Err(err))) => return Next::End(Some(Status::from_error(err.into()))),
                Ok(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) => self.buffer.extend_from_slice(&data),
                Err(frame) => {
                    let trailers = frame.into_trailers().unwrap_or_default();
                    return Next::End(failure_in(&trailers));
                }
            }
        }
    }
}

/// The whole gRPC frame at the front of `buffer`, if it has arrived (replies are never
/// compressed: the call asked for no compression).
fn take_frame(buffer: &mut BytesMut) -> Option<Bytes> {
    let header = buffer.get(..PREFIX_LEN)?;
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if buffer.len() < PREFIX_LEN + length {
        return None;
    }
    buffer.advance(PREFIX_LEN);
    Some(buffer.split_to(length).freeze())
}

/// Makes a reply's JSON what the event carries (the rule's `response_body` field, or all).
pub(super) type Narrow = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// Where the event stream is.
enum State {
    /// Replies still to come; the next one already read, if it was.
    Streaming(Replies, Option<Next>),
    /// The last event has been sent.
    Done,
}

/// The event stream of a server-streaming or bidirectional call's gRPC `response`, each reply
/// narrowed by `narrow` (whole when `None`); `Err` with the call's status when it failed
/// before its first reply.
pub(super) async fn respond(
    response: http::Response<Body>,
    service: Arc<str>,
    narrow: Option<Narrow>,
) -> Result<http::Response<Body>, Status> {
    let narrow = narrow.unwrap_or_else(|| Arc::new(<[u8]>::to_vec));
    let (mut parts, mut replies) = Replies::of(response)?;
    // The first reply decides between a stream and an error answer.
    let first = match replies.next().await {
        Next::End(Some(status)) => return Err(status),
        first => first,
    };
    let events = stream::unfold(State::Streaming(replies, Some(first)), move |state| {
        let (service, narrow) = (service.clone(), narrow.clone());
        async move {
            let State::Streaming(mut replies, next) = state else {
                return None;
            };
            let next = match next {
                Some(next) => next,
                None => replies.next().await,
            };
            let (chunk, state) = match next {
                Next::Reply(json) => (event(None, &narrow(&json)), State::Streaming(replies, None)),
                Next::Idle => (
                    Bytes::from_static(b": keep-alive\n\n"),
                    State::Streaming(replies, None),
                ),
                Next::End(None) => (event(Some("end"), b"{}"), State::Done),
                Next::End(Some(status)) => {
                    let error = MicroError::from_status(&status, &service).to_json();
                    (event(Some("error"), error.as_bytes()), State::Done)
                }
            };
            Some((Ok::<_, Infallible>(Frame::data(chunk)), state))
        }
    });
    let headers = &mut parts.headers;
    as_plain_http(headers, "text/event-stream");
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies that buffer responses (nginx) would hold the events back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    let body = Body::new(StreamBody::new(events));
    Ok(http::Response::from_parts(parts, body))
}

/// The one reply of a client-streaming call's gRPC `response`, as a JSON answer (narrowed by
/// `narrow`); `Err` with the call's status when it failed.
pub(super) async fn single(
    response: http::Response<Body>,
    narrow: Option<Narrow>,
) -> Result<http::Response<Body>, Status> {
    let (mut parts, mut replies) = Replies::of(response)?;
    let mut reply = None;
    loop {
        match replies.next().await {
            Next::Reply(json) => reply = Some(json),
            Next::Idle => {}
            Next::End(Some(status)) => return Err(status),
            Next::End(None) => break,
        }
    }
    let reply = reply.ok_or_else(|| Status::internal("the method ended without its reply"))?;
    let mut text = match narrow {
        Some(narrow) => narrow(&reply),
        None => reply.to_vec(),
    };
    text.push(b'\n');
    as_plain_http(&mut parts.headers, "application/json");
    let body = Body::new(Full::new(Bytes::from(text)));
    Ok(http::Response::from_parts(parts, body))
}

/// Makes a gRPC response's headers those of a plain HTTP answer of `content_type`: its
/// `grpc-*` headers and length go (what the method set as metadata stays).
fn as_plain_http(headers: &mut http::HeaderMap, content_type: &'static str) {
    let grpc: Vec<_> = (headers.keys())
        .filter(|name| name.as_str().starts_with("grpc-"))
        .cloned()
        .collect();
    for name in grpc.into_iter().chain([header::CONTENT_LENGTH]) {
        headers.remove(name);
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
}

/// One event: `event: <name>` (unless a plain reply) and its `data:` line.
fn event(name: Option<&str>, data: &[u8]) -> Bytes {
    let mut text = Vec::with_capacity(data.len() + 24);
    if let Some(name) = name {
        text.extend_from_slice(format!("event: {name}\n").as_bytes());
    }
    text.extend_from_slice(b"data: ");
    text.extend_from_slice(data);
    text.extend_from_slice(b"\n\n");
    Bytes::from(text)
}
