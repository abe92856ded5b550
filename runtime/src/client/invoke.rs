//! Makes one call of each kind: its request built, and its exchange (sent down the client's
//! stack, the reply read) run under the call's layers ([`super::pipeline`]).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::FutureExt;
use http::uri::PathAndQuery;
use tokio::time::Instant;
use tonic::codec::Codec;
use tower::ServiceExt;

use super::call::{CallOptions, CallTarget};
use super::headers::{propagate, sanitized};
use super::pipeline::{self, Deadline, DeadlineLayer, Metrics};
use super::route::CallDeadline;
use super::streams::{DeadlineStream, FirstPoll, Started};
use super::{Client, Transport, unary};

use crate::BoxFuture;
use crate::codec::frame::{GRPC_ACCEPT_ENCODING, GRPC_ENCODING, GZIP};
use crate::codec::{Codable, Direction, Format, MessageCodec};
use crate::metadata::MetadataMap;
use crate::middleware::Once;
use crate::transcode::{MethodTypes, method_types};
use crate::{Context, Status, Streaming, deadline};

/// Everything one call needs, resolved from the client and the call's options.
pub(crate) struct Invocation {
    /// How messages are encoded: the client's codec, or protobuf for dynamic calls.
    pub(super) format: Format,
    pub(super) client: Client,
    pub(super) target: CallTarget,
    pub(super) options: CallOptions,
}

type Grpc = tonic::client::Grpc<Transport>;

impl Invocation {
    pub(crate) async fn server_streaming<C>(
        mut self,
        message: C::Encode,
        codec: C,
    ) -> Result<Streaming<C::Decode>, Status>
    where
        C: Codec<Encode: Send + Sync + 'static, Decode: Send + Sync + 'static>,
    {
        let (response, deadline) = self
            .send(message, move |mut grpc, request, path| async move {
                grpc.server_streaming(request, path, codec).await
            })
            .await?;
        Ok(self.stream(deadline, response.into_inner()))
    }

    pub(crate) async fn client_streaming<C, S>(
        mut self,
        messages: S,
        codec: C,
    ) -> Result<C::Decode, Status>
    where
        C: Codec<Encode: Send + Sync + 'static, Decode: Send + Sync + 'static>,
        S: Stream<Item = C::Encode> + Send + 'static,
    {
        // Read as a stream, so that the headers and trailers stay apart (tonic's
        // client-streaming call merges them) and a reply of no or several messages is refused.
        let (response, deadline) = self
            .send(messages, move |mut grpc, request, path| async move {
                grpc.streaming(request, path, codec).await
            })
            .await?;
        let mut replies = response.into_inner();
        let read = async {
            let reply = replies
                .message()
                .await?
                .ok_or_else(unary::missing_message)?;
            if replies.message().await?.is_some() {
                return Err(unary::extra_message());
            }
            if let (Some(capture), Ok(Some(trailers))) =
                (&self.options.capture, replies.trailers().await)
            {
                capture.set_trailers(trailers.into_headers());
            }
            Ok(reply)
        };
        let reply = DeadlineLayer::new(&self.target, deadline)
            .within(read)
            .await;
        if let (Some(capture), Err(status)) = (&self.options.capture, &reply) {
            capture.set_trailers(status.metadata().clone().into_headers());
        }
        reply
    }

    /// Starts a bidirectional call and returns its response stream once the request is on
    /// its way (the transport asked for the first request message), before the server
    /// answers: a server may wait for the first request before it sends anything (grpc-go's
    /// interop server does), and the caller sends that request only once it has the stream.
    /// The call runs in a task under the current call's context; dropping the stream cancels
    /// it and ends the request stream.
    pub(crate) async fn bidi_streaming_started<C, S>(
        self,
        messages: S,
        codec: C,
    ) -> Streaming<C::Decode>
    where
        C: Codec<Encode: Send + Sync + 'static, Decode: Send + Sync + 'static> + Send + 'static,
        S: Stream<Item = C::Encode> + Send + 'static,
    {
        let (messages, stop) = futures_util::stream::abortable(messages);
        let (sending, sent) = tokio::sync::oneshot::channel();
        let messages = FirstPoll {
            inner: Box::pin(messages),
            signal: Some(sending),
        };
        let call = self.bidi_streaming(messages, codec);
        let mut task = match Context::current() {
            Some(ctx) => tokio::spawn(ctx.scope(call).boxed()),
            None => tokio::spawn(call.boxed()),
        };
        let abort = task.abort_handle();
        // The request is on its way, or the call already ended.
        let result: BoxFuture<'static, _> = tokio::select! {
            _ = sent => Box::pin(task),
            ended = &mut task => Box::pin(std::future::ready(ended)),
        };
        Streaming::new(Started {
            result,
            abort,
            responses: None,
            stop,
        })
    }

    async fn bidi_streaming<C, S>(
        mut self,
        messages: S,
        codec: C,
    ) -> Result<Streaming<C::Decode>, Status>
    where
        C: Codec<Encode: Send + Sync + 'static, Decode: Send + Sync + 'static>,
        S: Stream<Item = C::Encode> + Send + 'static,
    {
        let (response, deadline) = self
            .send(messages, move |mut grpc, request, path| async move {
                grpc.streaming(request, path, codec).await
            })
            .await?;
        Ok(self.stream(deadline, response.into_inner()))
    }

    /// The message codec the client uses, with the method's descriptors where it needs them.
    pub(super) fn codec<Req: Codable, Resp: Codable>(
        &self,
    ) -> Result<MessageCodec<Req, Resp>, Status> {
        let needs = Req::needs_descriptor(self.format) || Resp::needs_descriptor(self.format);
        let types = if needs { self.types()? } else { None };
        let json = &self.client.options().json;
        Ok(MessageCodec::new(
            self.format,
            types.as_deref(),
            Direction::Client,
            json,
        ))
    }

    /// The method's message descriptors; none for a proto-less method that has none.
    pub(super) fn types(&self) -> Result<Option<Arc<MethodTypes>>, Status> {
        if self.target.info.file_descriptor_set.is_empty() {
            return Ok(None);
        }
        method_types(self.target.info, self.target.method)
            .map(Some)
            .map_err(Status::internal)
    }

    /// A unary call: the request, one gRPC frame in the call's format (gzipped if the call
    /// asks), goes down the client's stack as it is; the reply, read whole, is checked and
    /// its one message handed to `decode` ([`super::unary`]).
    pub(crate) async fn unary<Req, Resp>(
        mut self,
        message: Req,
        decode: impl FnOnce(Bytes) -> Result<Resp, Status>,
    ) -> Result<Resp, Status>
    where
        Req: Codable,
    {
        let types = match Req::needs_descriptor(self.format) {
            true => self.types()?,
            false => None,
        };
        let input = types.as_ref().map(|types| &types.input);
        let options = self.client.options();
        let limit = options.max_message_size;
        let format = (self.format, input, &*options.json);
        let body = unary::encode(&message, format, self.options.gzip, limit)?;
        drop(message);
        let (mut headers, extensions, deadline) = self.parts()?;
        headers.insert(http::header::TE, TRAILERS);
        let content_type = self.format.grpc_content_type();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
        headers.insert(GRPC_ACCEPT_ENCODING, GZIP);
        if self.options.gzip {
            headers.insert(GRPC_ENCODING, GZIP);
        }
        let mut request = http::Request::new(body);
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = http::Uri::from(PathAndQuery::from_static(self.target.method.path));
        *request.version_mut() = http::Version::HTTP_2;
        *request.headers_mut() = headers;
        *request.extensions_mut() = extensions;
        let (client, capture) = (&self.client, self.options.capture.as_ref());
        let exchange = Once::new(|request| async move {
            let response = client.send(request).await?;
            unary::decode(response, capture, limit, decode).await
        });
        self.layers(exchange, deadline).oneshot(request).await
    }

    /// Sends the request once the transport is ready, all under the call's deadline; returns
    /// the response and the deadline, which a response stream keeps honouring.
    async fn send<T, R, F, Fut>(
        &mut self,
        message: T,
        call: F,
    ) -> Result<(tonic::Response<R>, Instant), Status>
    where
        F: FnOnce(Grpc, tonic::Request<T>, PathAndQuery) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        let (headers, extensions, deadline) = self.parts()?;
        let request =
            tonic::Request::from_parts(MetadataMap::from_headers(headers), extensions, message);
        let path = PathAndQuery::from_static(self.target.method.path);
        let mut grpc = self.client.grpc();
        if self.options.gzip {
            grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        let exchange = Once::new(move |request| async move {
            grpc.ready().await?;
            call(grpc, request, path).await
        });
        let response = self.layers(exchange, deadline).oneshot(request).await;
        if let Some(capture) = &self.options.capture {
            match &response {
                Ok(response) => capture.set_headers(response.metadata().clone().into_headers()),
                Err(status) => capture.set_trailers(status.metadata().clone().into_headers()),
            }
        }
        Ok((response?, deadline))
    }

    /// `exchange` under the call's layers ([`pipeline`]).
    fn layers<S>(&self, exchange: S, deadline: Instant) -> Metrics<'_, Deadline<'_, S>> {
        let metrics = self.client.options().metrics.as_ref();
        pipeline::around(exchange, &self.target, deadline, metrics)
    }

    /// What the request carries besides its message: metadata (with what the current call
    /// passes on), the deadline as `grpc-timeout`, and in its extensions the target and
    /// routing for the layers below.
    fn parts(&mut self) -> Result<(http::HeaderMap, http::Extensions, Instant), Status> {
        let defaults = self.client.options();
        let current = Context::current();
        let (mut timeout, mut header) = match self.options.timeout {
            Some(timeout) => (timeout, Some(deadline::encode(timeout))),
            None => (defaults.timeout, defaults.timeout_header.clone()),
        };
        if let Some(inherited) = current.as_ref().and_then(Context::remaining) {
            if inherited.is_zero() {
                return Err(self.inherited_deadline_passed());
            }
            if inherited < timeout {
                (timeout, header) = (inherited, Some(deadline::encode(inherited)));
            }
        }
        let mut headers = sanitized(std::mem::take(&mut self.options.metadata));
        if let Some(header) = header {
            headers.insert(deadline::GRPC_TIMEOUT.clone(), header);
        }
        propagate(&mut headers, current.as_ref(), defaults);
        let deadline = Instant::now() + timeout;
        let mut extensions = http::Extensions::new();
        extensions.insert(self.target.clone());
        extensions.insert(CallDeadline(deadline));
        if let Some(route) = self.options.route.take() {
            extensions.insert(route);
        }
        if self.format == Format::Json {
            extensions.insert(Format::Json);
        }
        Ok((headers, extensions, deadline))
    }

    fn inherited_deadline_passed(&self) -> Status {
        Status::deadline_exceeded(format!(
            "not calling {} {}: the deadline of the call being served has already passed",
            self.target.service, self.target.method.endpoint
        ))
    }

    /// Wraps a response stream so that it ends with `DEADLINE_EXCEEDED` at the deadline.
    fn stream<T: Send + 'static>(
        &self,
        deadline: Instant,
        inner: tonic::Streaming<T>,
    ) -> Streaming<T> {
        Streaming::new(DeadlineStream {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            target: Some(self.target.clone()),
            started: Instant::now(),
            capture: self.options.capture.clone(),
        })
    }
}

/// `te: trailers`, which gRPC requests carry.
const TRAILERS: http::HeaderValue = http::HeaderValue::from_static("trailers");
