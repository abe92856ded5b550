//! Makes one call of each kind over the client's transport, under the call's deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_core::Stream;
use http::uri::PathAndQuery;
use prost::Message;
use tokio::time::{Instant, Sleep};

use super::call::{CallOptions, CallTarget};
use super::{Client, Transport};
use crate::codec::{Codec, Direction, MessageCodec};
use crate::metadata::MetadataMap;
use crate::transcode::method_types;
use crate::{Status, Streaming, deadline};

/// Everything one call needs, resolved from the client and the call's options.
pub(super) struct Invocation {
    pub(super) client: Client,
    pub(super) target: CallTarget,
    pub(super) options: CallOptions,
}

type Grpc = tonic::client::Grpc<Transport>;

impl Invocation {
    pub(super) async fn unary<Req, Resp>(mut self, message: Req) -> Result<Resp, Status>
    where
        Req: Message + Send + 'static,
        Resp: Message + Default + Send + 'static,
    {
        let codec = self.codec()?;
        let (response, _) = self
            .send(message, move |mut grpc, request, path| async move {
                grpc.unary(request, path, codec).await
            })
            .await?;
        Ok(response.into_inner())
    }

    pub(super) async fn server_streaming<Req, Resp>(
        mut self,
        message: Req,
    ) -> Result<Streaming<Resp>, Status>
    where
        Req: Message + Send + 'static,
        Resp: Message + Default + Send + 'static,
    {
        let codec = self.codec()?;
        let (response, deadline) = self
            .send(message, move |mut grpc, request, path| async move {
                grpc.server_streaming(request, path, codec).await
            })
            .await?;
        Ok(self.stream(deadline, response.into_inner()))
    }

    pub(super) async fn client_streaming<Req, Resp, S>(
        mut self,
        messages: S,
    ) -> Result<Resp, Status>
    where
        Req: Message + Send + 'static,
        Resp: Message + Default + Send + 'static,
        S: Stream<Item = Req> + Send + 'static,
    {
        let codec = self.codec()?;
        let (response, _) = self
            .send(messages, move |mut grpc, request, path| async move {
                grpc.client_streaming(request, path, codec).await
            })
            .await?;
        Ok(response.into_inner())
    }

    pub(super) async fn bidi_streaming<Req, Resp, S>(
        mut self,
        messages: S,
    ) -> Result<Streaming<Resp>, Status>
    where
        Req: Message + Send + 'static,
        Resp: Message + Default + Send + 'static,
        S: Stream<Item = Req> + Send + 'static,
    {
        let codec = self.codec()?;
        let (response, deadline) = self
            .send(messages, move |mut grpc, request, path| async move {
                grpc.streaming(request, path, codec).await
            })
            .await?;
        Ok(self.stream(deadline, response.into_inner()))
    }

    /// The message codec the client uses, with the method's descriptors for JSON.
    fn codec<Req, Resp>(&self) -> Result<MessageCodec<Req, Resp>, Status> {
        match self.client.options().codec {
            Codec::Protobuf => Ok(MessageCodec::protobuf()),
            Codec::Json => {
                let types =
                    method_types(self.target.info, self.target.method).map_err(Status::internal)?;
                Ok(MessageCodec::json(
                    &types,
                    Direction::Client,
                    &self.client.options().json,
                ))
            }
        }
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
        let (request, deadline) = self.request(message);
        let path = PathAndQuery::from_static(self.target.method.path);
        let mut grpc = self.client.grpc();
        let sent = async move {
            grpc.ready().await?;
            call(grpc, request, path).await
        };
        let response = self.within(deadline, sent).await?;
        Ok((response, deadline))
    }

    /// The tonic request: message, metadata, `grpc-timeout`, and the target for middleware.
    fn request<T>(&mut self, message: T) -> (tonic::Request<T>, Instant) {
        let defaults = self.client.options();
        let (timeout, header) = match self.options.timeout {
            Some(timeout) => (timeout, deadline::encode(timeout)),
            None => (defaults.timeout, defaults.timeout_header.clone()),
        };
        let mut metadata = std::mem::take(&mut self.options.metadata).into_headers();
        metadata.insert(deadline::GRPC_TIMEOUT.clone(), header);
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = MetadataMap::from_headers(metadata);
        request.extensions_mut().insert(self.target.clone());
        if defaults.codec == Codec::Json {
            request.extensions_mut().insert(Codec::Json);
        }
        (request, Instant::now() + timeout)
    }

    /// Runs `call`, failing with `DEADLINE_EXCEEDED` at the deadline and naming the target in
    /// transport errors.
    async fn within<T>(
        &self,
        deadline: Instant,
        call: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let started = Instant::now();
        match tokio::time::timeout_at(deadline, call).await {
            Ok(result) => result,

            Err(_) => Err(deadline_exceeded(&self.target, started.elapsed())),
        }
    }

    /// Wraps a response stream so that it ends with `DEADLINE_EXCEEDED` at the deadline.
    fn stream<T: Send + 'static>(
        &self,
        deadline: Instant,
        inner: tonic::Streaming<T>,
    ) -> Streaming<T> {
        Streaming::new(Deadline {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            target: Some(self.target.clone()),
            started: Instant::now(),
        })
    }
}

fn deadline_exceeded(target: &CallTarget, elapsed: Duration) -> Status {
    Status::deadline_exceeded(format!(
        "call to {} {} exceeded its deadline after {:.3}s",
        target.service,
        target.method.endpoint,
        elapsed.as_secs_f64()
    ))
}

/// A response stream cut off at the call's deadline.
struct Deadline<T> {
    inner: tonic::Streaming<T>,
    sleep: Pin<Box<Sleep>>,
    /// Taken when the deadline passes, which ends the stream.
    target: Option<CallTarget>,
    started: Instant,
}

impl<T> Stream for Deadline<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.target.is_none() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        match (this.sleep.as_mut().poll(cx), this.target.take()) {
            (Poll::Ready(()), Some(target)) => Poll::Ready(Some(Err(deadline_exceeded(
                &target,
                this.started.elapsed(),
            )))),
            (_, target) => {
                this.target = target;
                Poll::Pending
            }
        }
    }
}
