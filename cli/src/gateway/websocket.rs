//! Calls of any kind over WebSocket: `GET` with `Upgrade: websocket` on a method's path
//! (`/<service>/<Service.Method>` and the other path styles) or on a google.api.http rule's.
//!
//! Each text frame the client sends is one request message as JSON; an empty (or blank) text
//! frame ends the requests, like gRPC's half-close. Each reply is one text frame of JSON. On a
//! rule's path, each frame goes where the rule puts the body, completed by the path's variables
//! and the query, and each reply is cut to the rule's `response_body`. Once
//! the call succeeds the gateway closes with 1000; when it fails, it sends go-micro's error
//! JSON as the last text frame and closes with 4000 + the error's HTTP status (4400, 4404,
//! 4503, …; 1011 if the status is not an HTTP error) and the detail as the reason. A Close
//! from the client, or the connection dropping, cancels the call.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use futures_util::stream::{self, BoxStream, SplitSink, SplitStream, StreamExt, TryStreamExt};
use http::request::Parts;
use http::{HeaderMap, Method as HttpMethod, StatusCode, header};
use micro::dynamic::{self, DynamicMessage, Method};
use micro::errors::Error;
use micro::server::RpcKind;
use micro::{Call, Status, Streaming};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::error::{GATEWAY_ID, GatewayError};
use super::handler::{self, MAX_BODY};
use super::reply::ReplyJson;
use super::route::Target;
use super::table::Matched;
use super::{Shared, headers};
use micro::http_rule;

/// How long the gateway waits for the client's Close after sending its own.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The most a message may be before the socket refuses to read it. Messages over
/// [`MAX_BODY`] but under this are read whole and refused cleanly (the connection stays in
/// step, so the client sees the Close); larger ones break the connection's framing, and the
/// client may see the connection reset instead.
const MAX_FRAMED: usize = 2 * MAX_BODY;

/// Request messages waiting to be sent upstream.
const REQUEST_BUFFER: usize = 16;

/// What a WebSocket upgrade calls.
pub(super) enum Socket {
    /// A method's path (`/<service>/<Service.Method>` and the other path styles), and the
    /// upgrade's query string.
    Method(Target, Option<String>),
    /// A google.api.http rule's path, and the upgrade's query string.
    Rule(Matched, Option<String>),
}

/// What `request` calls, if it is a WebSocket upgrade. Rules come first, as for other
/// requests; a path that fits a path style but names no method known yet is checked against
/// a fresh rule table first.
pub(super) async fn target(gateway: &Shared, request: &Parts) -> Option<Socket> {
    let upgrade = request
        .headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !upgrade || request.method != HttpMethod::GET {
        return None;
    }
    let (path, query) = (request.uri.path(), request.uri.query());
    let rule = |matched| Socket::Rule(matched, query.map(str::to_owned));
    let method = |target| Socket::Method(target, query.map(str::to_owned));
    if let Some(matched) = gateway.routes.find_socket(path) {
        return Some(rule(matched));
    }
    let target = gateway.path_target(path).await;
    if target.as_ref().is_some_and(|target| gateway.knows(target)) {
        return target.map(method);
    }
    gateway.routes.refresh_on_miss().await;
    match gateway.routes.find_socket(path) {
        Some(matched) => Some(rule(matched)),
        None => target.map(method),
    }
}

/// Accepts the upgrade and runs the call on the socket. Errors after the upgrade (an
/// unknown service, a bad message) are sent on the socket, where browsers can read them.
pub(super) async fn upgrade(gateway: Arc<Shared>, socket: Socket, mut parts: Parts) -> Response {
    if let Some(origin) = foreign_origin(&parts).filter(|origin| !gateway.origins.allow(origin)) {
        let detail = format!(
            "a WebSocket opened by a page of another origin ({origin}) is refused: the gateway \
             serves browser pages of its own origin only, unless it is started with \
             `--cors-origin {origin}`"
        );
        return GatewayError::new(StatusCode::FORBIDDEN, detail).into_response();
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let error = GatewayError::new(rejection.status(), rejection.body_text());
            return error.into_response();
        }
    };
    let headers = parts.headers;
    upgrade
        .max_message_size(MAX_FRAMED)
        .max_frame_size(MAX_FRAMED)
        .on_upgrade(move |websocket| serve(gateway, socket, headers, websocket))
}

/// The `Origin` of a browser page on another origin than the gateway's, if one opened the
/// socket. Browsers apply no same-origin policy to WebSockets (they send `Origin` instead), so
/// without this check any web page could call services through the gateway, with its
/// `--token`, and read the replies, which the CORS policy ([`super::Origins`]) denies `fetch`.
/// Clients that are not browsers send no `Origin`.
fn foreign_origin(parts: &Parts) -> Option<String> {
    let origin = parts.headers.get(header::ORIGIN)?;
    let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
    let host = match parts.headers.get(header::HOST) {
        Some(host) => host.to_str().ok(),
        None => parts.uri.authority().map(|authority| authority.as_str()),
    };
    let origin_host = origin.split_once("://").map(|(_, host)| host);
    match (origin_host, host) {
        (Some(origin_host), Some(host)) if origin_host.eq_ignore_ascii_case(host) => None,
        _ => Some(origin),
    }
}

/// How a call on a socket ended, when it did not succeed.
enum Ended {
    /// The call failed: the client is told why.
    Failed(Error),
    /// The client closed the socket or went away: the call is cancelled.
    Gone,
}

impl From<GatewayError> for Ended {
    fn from(error: GatewayError) -> Ended {
        Ended::Failed(error.error().clone())
    }
}

/// Runs the call on the socket, then closes it as the outcome says.
async fn serve(gateway: Arc<Shared>, socket: Socket, headers: HeaderMap, websocket: WebSocket) {
    let (mut sink, mut incoming) = websocket.split();
    let outcome = match Exchange::open(&gateway, socket, &headers).await {
        Ok(call) => call.run(&mut sink, &mut incoming).await,
        Err(error) => Err(error.into()),
    };
    let close = match outcome {
        Ok(()) => CloseFrame {
            code: 1000,
            reason: "".into(),
        },
        Err(Ended::Failed(error)) => {
            if error.http_status().is_server_error() {
                tracing::warn!("gateway: websocket call failed: {}", error.detail);
            }
            let _ = sink.send(Message::Text(error.to_json().into())).await;
            close_frame(&error)
        }
        Err(Ended::Gone) => {
            // Flushes the Close reply the socket queued when it read the client's Close.
            let _ = sink.close().await;
            return;
        }
    };
    if sink.send(Message::Close(Some(close))).await.is_err() {
        return;
    }
    drain(incoming).await;
}

/// Reads until the client's Close (the closing handshake) or the end of the connection, for
/// at most [`CLOSE_WAIT`]. Whatever the client still sends is read and dropped: closing a
/// connection with unread data resets it, and the client could lose the Close sent to it.
async fn drain(mut incoming: Incoming) {
    let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
    while let Ok(frame) = tokio::time::timeout_at(deadline, incoming.next()).await {
        match frame {
            None | Some(Ok(Message::Close(_))) => return,
            Some(Ok(_)) => {}
            // After a frame that could not be read (too large), errors may follow until the
            // client's data is through; they are not worth a busy loop.
            Some(Err(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// 4000 + the error's HTTP status, with its detail (cut to the 123 bytes a Close allows).
fn close_frame(error: &Error) -> CloseFrame {
    let code = match u16::try_from(error.code) {
        Ok(status @ 400..=599) => 4000 + status,
        _ => 1011,
    };
    let mut end = error.detail.len().min(123);
    while !error.detail.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code,
        reason: error.detail[..end].into(),
    }
}

type Sink = SplitSink<WebSocket, Message>;
type Incoming = SplitStream<WebSocket>;
type Replies = BoxStream<'static, Result<DynamicMessage, Status>>;

/// One call on a socket.
struct Exchange<'a> {
    gateway: &'a Shared,
    headers: &'a HeaderMap,
    service: String,
    method: Method,
    frames: Frames,
}

/// How the socket's text frames become request messages, and replies text frames.
struct Frames {
    /// On a rule's path: the rule, its variables and the query, which complete every frame.
    /// `None` on a method's path, where each frame is the whole request.
    rule: Option<(Matched, Option<String>)>,
    /// The request of a unary or server-streaming call whose first frame is empty.
    empty: DynamicMessage,
    replies: ReplyJson,
}

impl<'a> Exchange<'a> {
    /// The call `socket` names. An unknown method or a path variable its request cannot take
    /// fails it before any frame is read.
    async fn open(
        gateway: &'a Shared,
        socket: Socket,
        headers: &'a HeaderMap,
    ) -> Result<Exchange<'a>, GatewayError> {
        let (service, method, frames) = match socket {
            Socket::Method(target, query) => {
                let method = gateway.method(&target.service, &target.endpoint).await?;
                // An empty first frame is the request of the query string, as GET's events.
                let json = http_rule::from_query(&method.input(), query.as_deref())?;
                let frames = Frames {
                    rule: None,
                    empty: handler::decode(gateway, &method.input(), &json)?,
                    replies: gateway.replies(),
                };
                (target.service, method, frames)
            }
            Socket::Rule(matched, query) => {
                let route = matched.route.clone();
                let mut frames = Frames {
                    rule: Some((matched, query)),
                    empty: DynamicMessage::new(route.method.input()),
                    replies: gateway.rule_replies(&route),
                };
                // An empty first frame is the request of the path and the query alone.
                frames.empty = frames.request(&route.method, gateway, None)?;
                (route.service.clone(), route.method.clone(), frames)
            }
        };
        Ok(Exchange {
            gateway,
            headers,
            service,
            method,
            frames,
        })
    }

    /// Reads request frames and relays replies at the same time, until the call ends or
    /// the client goes away.
    async fn run(&self, sink: &mut Sink, incoming: &mut Incoming) -> Result<(), Ended> {
        let (sender, requests) = mpsc::channel(REQUEST_BUFFER);
        tokio::select! {
            ended = self.read(incoming, sender) => Err(ended),
            relayed = self.relay(sink, requests) => relayed,
        }
    }

    /// Turns text frames into request messages until the client closes the socket; only a
    /// failure or the client leaving ends it.
    async fn read(&self, incoming: &mut Incoming, sender: mpsc::Sender<DynamicMessage>) -> Ended {
        let one_request = matches!(
            self.method.kind(),
            RpcKind::Unary | RpcKind::ServerStreaming
        );
        let mut sender = Some(sender);
        let mut count = 0usize;
        loop {
            let text = match incoming.next().await {
                None | Some(Ok(Message::Close(_))) => return Ended::Gone,
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Binary(_))) => {
                    return bad_request(
                        "binary frame: send each request message as a text frame of JSON",
                    );
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => return unreadable(&err),
            };
            if text.len() > MAX_BODY {
                return too_large(&format!("{} bytes", text.len()));
            }
            if text.trim().is_empty() {
                sender = None;
                continue;
            }
            let Some(requests) = &sender else {
                return bad_request(
                    "a message after the empty frame that ended the requests; send every \
                     request message before it",
                );
            };
            if one_request && count == 1 {
                return bad_request(format!(
                    "`{}` takes one request message, and it was sent; wait for the replies",
                    self.method.endpoint()
                ));
            }
            count += 1;
            let frame = Some(text.as_bytes());
            match self.frames.request(&self.method, self.gateway, frame) {
                // The call may be over already; its end is reported by `relay`.
                Ok(message) => drop(requests.send(message).await),
                Err(error) => {
                    return bad_request(format!("message {count}: {}", error.error().detail));
                }
            }
        }
    }

    /// Makes the call and sends each reply as a text frame.
    async fn relay(
        &self,
        sink: &mut Sink,
        requests: mpsc::Receiver<DynamicMessage>,
    ) -> Result<(), Ended> {
        let mut replies = self.call(requests).await;
        while let Some(reply) = replies.next().await {
            let reply = reply
                .map_err(|status| Ended::Failed(Error::from_status(&status, &self.service)))?;
            let text = self
                .frames
                .replies
                .text(&reply)
                .map_err(|status| Ended::Failed(Error::from_status(&status, GATEWAY_ID)))?;
            if sink.send(Message::Text(text.into())).await.is_err() {
                return Err(Ended::Gone);
            }
        }
        Ok(())
    }

    /// The call's replies. Unary and server-streaming calls start with the first request
    /// message (an empty one if the requests ended without any).
    async fn call(&self, mut requests: mpsc::Receiver<DynamicMessage>) -> Replies {
        let (client, service, method) = (&self.gateway.env.client, &*self.service, &self.method);
        match method.kind() {
            RpcKind::Unary => {
                let request = self.first(&mut requests).await;
                let call = client.dynamic_unary(service, method, request);
                stream::once(self.forward(call).into_future()).boxed()
            }
            RpcKind::ServerStreaming => {
                let request = self.first(&mut requests).await;
                let call = client.dynamic_server_streaming(service, method, request);
                flatten(self.forward(call).into_future())
            }
            RpcKind::ClientStreaming => {
                let requests = ReceiverStream::new(requests);
                let call = client.dynamic_client_streaming(service, method, requests);
                stream::once(self.forward(call).into_future()).boxed()
            }
            RpcKind::BidiStreaming => {
                let requests = ReceiverStream::new(requests);
                let call = client.dynamic_bidi_streaming(service, method, requests);
                flatten(self.forward(call).into_future())
            }
        }
    }

    /// `call` with the request's headers as metadata.
    fn forward<T: Send + 'static>(&self, call: Call<T>) -> Call<T> {
        headers::forward(&self.gateway.env, self.headers, call)
    }

    /// The first request message, or the empty request if the requests ended without any.
    async fn first(&self, requests: &mut mpsc::Receiver<DynamicMessage>) -> DynamicMessage {
        let first = requests.recv().await;
        first.unwrap_or_else(|| self.frames.empty.clone())
    }
}

impl Frames {
    /// The request message of `frame` (`None`: the empty request).
    fn request(
        &self,
        method: &Method,
        gateway: &Shared,
        frame: Option<&[u8]>,
    ) -> Result<DynamicMessage, GatewayError> {
        let input = method.input();
        match (&self.rule, frame) {
            (None, Some(frame)) => {
                dynamic::from_json(&input, frame, &gateway.json).map_err(GatewayError::from)
            }
            (None, None) => Ok(self.empty.clone()),
            (Some((matched, query)), frame) => {
                let (binding, variables) = (&matched.route.binding, &matched.variables);
                let json =
                    http_rule::compose_frame(&input, binding, variables, query.as_deref(), frame)?;
                handler::decode(gateway, &input, &json)
            }
        }
    }
}

/// The replies of a call that answers with a stream.
fn flatten(
    call: impl Future<Output = Result<Streaming<DynamicMessage>, Status>> + Send + 'static,
) -> Replies {
    stream::once(call).try_flatten().boxed()
}

fn bad_request(detail: impl Into<String>) -> Ended {
    Ended::Failed(GatewayError::bad_request(detail).error().clone())
}

/// A frame that could not be read: too large, or not WebSocket.
fn unreadable(err: &axum::Error) -> Ended {
    let text = err.to_string();
    // tungstenite's capacity errors: "Space limit exceeded: Message too long: …".
    if text.contains("Message too long") || text.contains("Space limit exceeded") {
        return too_large(&text);
    }
    bad_request(format!("cannot read a WebSocket frame: {text}"))
}

fn too_large(size: &str) -> Ended {
    let detail = format!(
        "a message is larger than the gateway's limit of {} MiB ({size}); send less, or call \
         the service over gRPC",
        MAX_BODY >> 20
    );
    let error = GatewayError::new(StatusCode::PAYLOAD_TOO_LARGE, detail);
    Ended::Failed(error.error().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::builder().uri("/streaming/Streamer.Shout");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn only_pages_of_the_gateways_origin_may_open_sockets() {
        let host = ("host", "localhost:8080");
        assert_eq!(foreign_origin(&parts(&[host])), None);
        let same = parts(&[host, ("origin", "http://LOCALHOST:8080")]);
        assert_eq!(foreign_origin(&same), None);
        for origin in ["http://evil.example", "http://localhost:8081", "null"] {
            let other = parts(&[host, ("origin", origin)]);
            assert_eq!(foreign_origin(&other).as_deref(), Some(origin));
        }
    }

    #[test]
    fn close_codes_carry_the_http_status_and_a_short_reason() {
        let error = Error::new("svc", "é".repeat(100), 404);
        let close = close_frame(&error);
        assert_eq!(close.code, 4404);
        assert!(close.reason.len() <= 123);
        assert!(close.reason.starts_with('é'));
        assert_eq!(close_frame(&Error::new("svc", "odd", 200)).code, 1011);
        assert_eq!(close_frame(&Error::new("svc", "busy", 503)).code, 4503);
    }
}
