//! Runs a generated handler method for one call, one function per RPC kind.
//!
//! Unary calls, on every protocol, take one path (`unary.rs`); for streams, tonic's
//! `server::Grpc` does the wire work (framing, compression, size limits, status trailers).
//! These functions build the handler's [`Context`] and run the handler under
//! [`CallMeta::observe`], which holds it to the deadline and finishes the call.

use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use crate::codec::Codable;
use crate::stream::QueueReceiver;
use futures_core::Stream;
use futures_util::StreamExt;

use super::call::CallMeta;
use super::{Body, Incoming, ResponseFuture, Wire};
use crate::BoxFuture;
use crate::codec::MessageCodec;
use crate::context::outgoing::{self, Outgoing, Requests};
use crate::middleware::Once;
use crate::middleware::Streamed;
use crate::{Context, Sender, Status, Streaming};

/// How many responses a streaming handler may queue before `send` waits for the client.
const STREAM_BUFFER: usize = 16;

/// Serves a unary call: one request, one response.
pub fn unary<Req, Resp, F, Fut>(call: Incoming, handler: F) -> ResponseFuture
where
    Req: Codable,
    Resp: Codable,
    F: FnOnce(Context, Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let Incoming {
        request,
        meta,
        wire,
        ..
    } = call;
    // One future, boxed once: the unary path adds the handler's response metadata itself.
    Box::pin(super::unary::serve(request, meta, wire, handler))
}

/// Adds the handler's response headers and trailers to the response `future` resolves to.
fn finish(
    outgoing: Arc<Outgoing>,
    future: impl Future<Output = http::Response<Body>> + Send + 'static,
    returned: Returned,
) -> ResponseFuture {
    let returned = matches!(returned, Returned::First);
    Box::pin(async move { outgoing.finish(future.await, returned) })
}

/// Whether a call's handler returns before its response starts (unary and client
/// streaming), or streams the response while it runs.
enum Returned {
    First,
    WhileStreaming,
}

/// Serves a server-streaming call: one request, responses sent through a [`Sender`].
pub fn server_streaming<Req, Resp, F, Fut>(call: Incoming, handler: F) -> ResponseFuture
where
    Req: Codable,
    Resp: Codable,
    F: FnOnce(Context, Req, Sender<Resp>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    server_streaming_as::<Req, Resp, Resp, F, Fut>(call, handler)
}

/// [`server_streaming`] for a handler that sends `Out`s, each sent as the `Resp` it converts
/// to (a proto-less handler's serde type, sent as [`Json`](crate::codec::Json)).
pub(crate) fn server_streaming_as<Req, Resp, Out, F, Fut>(
    call: Incoming,
    handler: F,
) -> ResponseFuture
where
    Req: Codable,
    Resp: Codable + From<Out>,
    Out: Send + 'static,
    F: FnOnce(Context, Req, Sender<Out>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let Incoming {
        request,
        meta,
        wire,
        ..
    } = call;
    let Wire::Grpc(framed) = wire else {
        return streams_need_framing(&meta, wire);
    };
    grpc_server_streaming(meta.grpc::<Resp, Req>(framed), meta, request, handler)
}

fn grpc_server_streaming<Req, Resp, Out, F, Fut>(
    mut grpc: tonic::server::Grpc<MessageCodec<Resp, Req>>,
    meta: CallMeta,
    request: http::Request<Body>,
    handler: F,
) -> ResponseFuture
where
    Req: Codable,
    Resp: Codable + From<Out>,
    Out: Send + 'static,
    F: FnOnce(Context, Req, Sender<Out>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let outgoing = meta.outgoing.clone();
    // Served as a stream of requests, so that no request or a second one is refused as
    // grpc-go and connect-go refuse them (tonic's server-streaming path takes the first).
    let service = Once::new(move |request: tonic::Request<tonic::Streaming<Req>>| {
        let (ctx, requests) = meta.context(request);
        let outgoing = meta.outgoing.clone();
        async move {
            let message = only_request(requests).await?;
            let (sender, receiver) = Sender::channel(STREAM_BUFFER);
            let run = move |ctx, message| handler(ctx, message, sender);
            let handler = meta.wrapped_stream(ctx.clone(), message, run);
            let handler = meta.observe(ctx, handler);
            Responses::new(receiver, handler)
                .when_headers_ready(outgoing)
                .await
                .map(converted)
        }
    });
    finish(
        outgoing,
        async move { grpc.streaming(service, request).await },
        Returned::WhileStreaming,
    )
}

/// A response stream of `Out`s as the `Resp`s they convert to.
fn converted<Out, Resp: From<Out>>(
    response: tonic::Response<Responses<Out>>,
) -> tonic::Response<impl Stream<Item = Result<Resp, Status>>> {
    response.map(|responses| responses.map(|item| item.map(Resp::from)))
}

/// The one request of a server-streaming call: UNIMPLEMENTED if there are none or several.
async fn only_request<Req>(mut requests: tonic::Streaming<Req>) -> Result<Req, Status> {
    let exactly_one = |what: &str| {
        Status::unimplemented(format!(
            "the request holds {what}; a server-streaming call sends exactly one"
        ))
    };
    let message = requests
        .message()
        .await?
        .ok_or_else(|| exactly_one("no message"))?;
    match requests.message().await? {
        None => Ok(message),
        Some(_) => Err(exactly_one("more than one message")),
    }
}

/// Serves a client-streaming call: requests arrive on a [`Streaming`], one response.
pub fn client_streaming<Req, Resp, F, Fut>(call: Incoming, handler: F) -> ResponseFuture
where
    Req: Codable,
    Resp: Codable,
    F: FnOnce(Context, Streaming<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let Incoming {
        request,
        meta,
        wire,
        ..
    } = call;
    let Wire::Grpc(framed) = wire else {
        return streams_need_framing(&meta, wire);
    };
    grpc_client_streaming(meta.grpc(framed), meta, request, handler)
}

fn grpc_client_streaming<Req, Resp, F, Fut>(
    mut grpc: tonic::server::Grpc<MessageCodec<Resp, Req>>,
    meta: CallMeta,
    request: http::Request<Body>,
    handler: F,
) -> ResponseFuture
where
    Req: Codable,
    Resp: Codable,
    F: FnOnce(Context, Streaming<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let outgoing = meta.outgoing.clone();
    let service = Once::new(move |request: tonic::Request<tonic::Streaming<Req>>| {
        let (ctx, requests) = meta.context(request);
        let run = move |ctx, Streamed| handler(ctx, Streaming::new(requests));
        let handler = meta.wrapped(ctx.clone(), Streamed, run);
        let response = meta.observe(ctx, handler);
        async move { response.await.map(tonic::Response::new) }
    });
    let response = async move { grpc.client_streaming(service, request).await };
    finish(outgoing, response, Returned::First)
}

/// Serves a bidirectional call: requests on a [`Streaming`], responses through a [`Sender`].
pub fn bidi_streaming<Req, Resp, F, Fut>(call: Incoming, handler: F) -> ResponseFuture
where
    Req: Codable,
    Resp: Codable,
    F: FnOnce(Context, Streaming<Req>, Sender<Resp>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    bidi_streaming_as::<Req, Resp, Resp, F, Fut>(call, handler)
}

/// [`bidi_streaming`] for a handler that sends `Out`s, each sent as the `Resp` it converts to.
pub(crate) fn bidi_streaming_as<Req, Resp, Out, F, Fut>(
    call: Incoming,
    handler: F,
) -> ResponseFuture
where
    Req: Codable,
    Resp: Codable + From<Out>,
    Out: Send + 'static,
    F: FnOnce(Context, Streaming<Req>, Sender<Out>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let Incoming {
        request,
        meta,
        wire,
        ..
    } = call;
    let Wire::Grpc(framed) = wire else {
        return streams_need_framing(&meta, wire);
    };
    grpc_bidi_streaming(meta.grpc::<Resp, Req>(framed), meta, request, handler)
}

fn grpc_bidi_streaming<Req, Resp, Out, F, Fut>(
    mut grpc: tonic::server::Grpc<MessageCodec<Resp, Req>>,
    meta: CallMeta,
    request: http::Request<Body>,
    handler: F,
) -> ResponseFuture
where
    Req: Codable,
    Resp: Codable + From<Out>,
    Out: Send + 'static,
    F: FnOnce(Context, Streaming<Req>, Sender<Out>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let outgoing = meta.outgoing.clone();
    let service = Once::new(move |request: tonic::Request<tonic::Streaming<Req>>| {
        let (ctx, requests) = meta.context(request);
        let requests = Streaming::new(Requests::new(requests, meta.outgoing.clone()));
        let (sender, receiver) = Sender::channel(STREAM_BUFFER);
        let outgoing = meta.outgoing.clone();
        let run = move |ctx, Streamed| handler(ctx, requests, sender);
        let handler = meta.wrapped_stream(ctx.clone(), Streamed, run);
        let handler = meta.observe(ctx, handler);
        let response = Responses::new(receiver, handler).when_headers_ready(outgoing);
        async move { response.await.map(converted) }
    });
    finish(
        outgoing,
        async move { grpc.streaming(service, request).await },
        Returned::WhileStreaming,
    )
}

/// Answers a method index the handler does not know; the router never sends one.
pub fn unknown_method(call: Incoming) -> ResponseFuture {
    let status = Status::unimplemented(format!("unknown method {}", call.meta.method.path));
    Box::pin(ready(call.wire.failed(status)))
}

/// Streaming methods only run over gRPC framing; the router checks before it gets here.
fn streams_need_framing(meta: &CallMeta, wire: Wire) -> ResponseFuture {
    let message = format!(
        "{} streams; call it with gRPC or Connect streaming",
        meta.method.endpoint
    );
    Box::pin(ready(wire.failed(Status::unimplemented(message))))
}

/// The response stream of a streaming handler. It drives the handler itself, so dropping it
/// (the client went away) cancels the handler.
struct Responses<T> {
    /// A message taken early, while waiting to send the headers; sent first.
    first: Option<T>,
    receiver: QueueReceiver<T>,
    handler: Option<BoxFuture<'static, Result<(), Status>>>,
    status: Option<Status>,
}

impl<T> Responses<T> {
    fn new(
        receiver: QueueReceiver<T>,
        handler: impl Future<Output = Result<(), Status>> + Send + 'static,
    ) -> Responses<T> {
        Responses {
            first: None,
            receiver,
            handler: Some(Box::pin(handler)),
            status: None,
        }
    }

    /// The response, once its headers may go out ([`outgoing::headers_ready`]); a handler
    /// that fails before sending anything gets a trailers-only response.
    async fn when_headers_ready(
        mut self,
        outgoing: Arc<Outgoing>,
    ) -> Result<tonic::Response<Responses<T>>, Status> {
        match outgoing::headers_ready(&mut self, &outgoing).await {
            Some(Some(Err(status))) if !outgoing.has_headers() => return Err(status),
            Some(Some(Err(status))) => self.status = Some(status),
            Some(Some(Ok(message))) => self.first = Some(message),
            Some(None) | None => {}
        }
        Ok(tonic::Response::new(self))
    }
}

// Messages are never pinned: they are only moved in and out.
impl<T> Unpin for Responses<T> {}

impl<T> Stream for Responses<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(message) = this.first.take() {
            return Poll::Ready(Some(Ok(message)));
        }
        loop {
            // What the handler queued, without registering for a wake-up: the handler runs
            // inside this poll, so its sends need not wake the task that is polling it.
            if let Some(message) = this.receiver.try_recv() {
                return Poll::Ready(Some(Ok(message)));
            }
            let Some(handler) = this.handler.as_mut() else {
                // The handler returned and everything it queued went out: its status.
                return Poll::Ready(this.status.take().map(Err));
            };
            match handler.as_mut().poll(cx) {
                Poll::Ready(result) => {
                    this.handler = None;
                    this.status = result.err();
                }
                // Waiting for room in the buffer it filled, or on something else; sends from
                // elsewhere (a clone of its sender in another task) wake this one.
                Poll::Pending => {
                    return match this.receiver.poll_recv(cx) {
                        Poll::Ready(Some(message)) => Poll::Ready(Some(Ok(message))),
                        _ => Poll::Pending,
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    async fn collect(responses: Responses<u32>) -> Vec<Result<u32, tonic::Code>> {
        responses
            .map(|item| item.map_err(|status| status.code()))
            .collect()
            .await
    }

    #[tokio::test]
    async fn messages_then_end_when_the_handler_succeeds() {
        let (sender, receiver) = Sender::channel(1);
        let handler = async move {
            for n in 0..3 {
                sender.send(n).await?;
            }
            Ok(())
        };
        assert_eq!(
            collect(Responses::new(receiver, handler)).await,
            [Ok(0), Ok(1), Ok(2)]
        );
    }

    #[tokio::test]
    async fn queued_messages_come_before_the_handlers_error() {
        let (sender, receiver) = Sender::channel(4);
        let handler = async move {
            sender.send(7).await?;
            Err(Status::not_found("gone"))
        };
        let items = collect(Responses::new(receiver, handler)).await;
        assert_eq!(items, [Ok(7), Err(tonic::Code::NotFound)]);
    }

    #[tokio::test]
    async fn the_stream_ends_when_the_handler_returns_even_if_a_sender_lives_on() {
        let (sender, receiver) = Sender::channel(4);
        let kept = sender.clone();
        let handler = async move {
            sender.send(1).await?;
            Ok(())
        };
        assert_eq!(collect(Responses::new(receiver, handler)).await, [Ok(1)]);
        assert!(kept.is_closed());
    }
}
