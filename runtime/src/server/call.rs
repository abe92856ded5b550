//! What the router knows about one call before the handler runs, and the call's bookkeeping:
//! deadline, tracing span, outcome.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::future::Either;
use futures_util::{FutureExt, TryFutureExt};
use tokio::time::Instant;
use tonic::codec::CompressionEncoding;
use tracing::{Instrument, Span};

use super::wrapper::{self, HandlerService};
use super::{Framed, MethodInfo};
use crate::auth::Gatekeeper;
use crate::codec::Codable;
use crate::codec::{Direction, MessageCodec};
use crate::context::ContextParts;
use crate::context::outgoing::Outgoing;
use crate::metadata::MetadataMap;
use crate::metrics::CallMetrics;
use crate::middleware::{Erase, Streamed};
use crate::trace::TraceContext;
use crate::transcode::{JsonOptions, MethodTypes};
use crate::{Code, Context, Status};

/// Settings every call on a server shares.
#[derive(Debug, Clone)]
pub(crate) struct CallSettings {
    /// The name the service runs under.
    pub(crate) service: Arc<str>,
    /// Largest request message accepted, in bytes; replies are not limited.
    pub(crate) max_message_size: usize,
    /// Whether gRPC responses are gzipped for clients that accept it.
    pub(crate) compress_responses: bool,
    /// How JSON requests and responses are read and written.
    pub(crate) json: Arc<JsonOptions>,
    /// Who may call what, if the service checks auth.
    pub(crate) gatekeeper: Option<Arc<Gatekeeper>>,
    /// Where calls are counted, unless metrics are off.
    pub(crate) metrics: Option<crate::metrics::Metrics>,
    /// The handler wrappers every call goes through, if there are any.
    pub(crate) wrappers: Option<HandlerService>,
    /// Where calls' spans are exported, if anywhere.
    pub(crate) telemetry: crate::telemetry::Telemetry,
}

/// One call, as the router resolved it.
pub(crate) struct CallMeta {
    pub(crate) settings: Arc<CallSettings>,
    pub(crate) method: &'static MethodInfo,
    /// The method's message types, if it has descriptors (a proto-less handler's types may
    /// have none).
    pub(crate) types: Option<Arc<MethodTypes>>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) started: Instant,
    /// When the caller stops waiting (set by the deadline layer).
    pub(crate) deadline: Option<Instant>,
    /// The call's `rpc` span (opened by the trace layer).
    pub(crate) span: Span,
    /// This call's span in its trace (set by the trace layer).
    pub(crate) trace: Option<TraceContext>,
    /// The call's exported span (started by the trace layer), until the call is finished.
    pub(crate) exported: Option<crate::telemetry::Span>,
    /// The call's count and duration, if the server keeps metrics (started by the metrics
    /// layer).
    pub(crate) metrics: Option<CallMetrics>,
    /// The response headers and trailers the handler sets.
    pub(crate) outgoing: Arc<Outgoing>,
}

impl CallMeta {
    /// A call of `method` that arrived `started` from `peer`, before the pipeline's layers
    /// add its deadline, span, trace and metrics.
    pub(crate) fn new(
        settings: Arc<CallSettings>,
        method: &'static MethodInfo,
        types: Option<Arc<MethodTypes>>,
        peer: Option<SocketAddr>,
        started: Instant,
    ) -> CallMeta {
        CallMeta {
            settings,
            method,
            types,
            peer,
            started,
            deadline: None,
            span: Span::none(),
            trace: None,
            exported: None,
            metrics: None,
            outgoing: Default::default(),
        }
    }

    /// tonic's per-call protocol handler for `framed`, configured with this server's limits.
    pub(crate) fn grpc<Resp, Req>(
        &self,
        framed: Framed,
    ) -> tonic::server::Grpc<MessageCodec<Resp, Req>>
    where
        Resp: Codable,
        Req: Codable,
    {
        let codec = MessageCodec::new(
            framed.codec,
            self.types.as_deref(),
            Direction::Server,
            &self.settings.json,
        )
        .undecodable(framed.undecodable);
        let grpc = tonic::server::Grpc::new(codec)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(self.settings.max_message_size)
            .max_encoding_message_size(usize::MAX);
        match self.settings.compress_responses {
            true => grpc.send_compressed(CompressionEncoding::Gzip),
            false => grpc,
        }
    }

    /// Splits tonic's request into the handler's context and message.
    pub(crate) fn context<T>(&self, request: tonic::Request<T>) -> (Context, T) {
        let (metadata, extensions, message) = request.into_parts();
        (self.context_from(metadata, extensions), message)
    }

    /// The handler's context for a call with this metadata and these extensions.
    pub(crate) fn context_from(
        &self,
        metadata: MetadataMap,
        extensions: http::Extensions,
    ) -> Context {
        Context::new(ContextParts {
            service: self.settings.service.clone(),
            method: self.method,
            metadata,
            extensions,
            deadline: self.deadline,
            peer: self.peer,
            trace: self.trace,
            outgoing: self.outgoing.clone(),
        })
    }

    /// Runs the handler's future under the call's deadline and span, with `ctx` as the task's
    /// [`Context::current`], then finishes the call with its outcome. A handler that panics
    /// fails the call with `INTERNAL`; the connection and other calls on it go on.
    pub(crate) fn observe<T>(
        self,
        ctx: Context,
        handler: impl Future<Output = Result<T, Status>> + Send,
    ) -> impl Future<Output = Result<T, Status>> + Send {
        let span = self.span.clone();
        let mut this = self;
        let call = async move {
            let handler = AssertUnwindSafe(handler).catch_unwind();
            let outcome = match this.deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, handler).await {
                    Ok(outcome) => outcome,
                    Err(_) => Ok(Err(this.deadline_exceeded())),
                },
                None => handler.await,
            };
            let result = outcome.unwrap_or_else(|panic| Err(this.panicked(&*panic)));
            this.finish(result.as_ref().err());
            result
        };
        ctx.scope(call).instrument(span)
    }

    /// The status of a call whose handler panicked with `panic`, which goes to the log (not
    /// to the caller).
    fn panicked(&self, panic: &(dyn std::any::Any + Send)) -> Status {
        let message = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string payload");
        let endpoint = self.method.endpoint;
        tracing::error!(endpoint, panic = message, "handler panicked");
        Status::internal(format!(
            "the handler of {endpoint} panicked; the service's log has the panic message"
        ))
    }

    fn deadline_exceeded(&self) -> Status {
        Status::deadline_exceeded(format!(
            "{} did not finish within the caller's deadline ({} ms)",
            self.method.endpoint,
            self.started.elapsed().as_millis()
        ))
    }

    /// Serves a unary call whose request was read as `request`: runs `handler` on it with the
    /// call's metadata and extensions in its context (see [`observe`](Self::observe)), or
    /// counts and refuses a request that could not be read.
    pub(crate) async fn serve_unary<Req, Resp, F, Fut>(
        mut self,
        parts: http::request::Parts,
        request: Result<Req, Status>,
        handler: F,
    ) -> Result<Resp, Status>
    where
        Req: Erase,
        Resp: Erase,
        F: FnOnce(Context, Req) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        let message = match request {
            Ok(message) => message,
            Err(status) => {
                self.finish(Some(&status));
                return Err(status);
            }
        };
        let ctx = self.context_from(MetadataMap::from_headers(parts.headers), parts.extensions);
        let handler = self.wrapped(ctx.clone(), message, handler);
        self.observe(ctx, handler).await
    }

    /// `handler` run with `ctx` and `request` through the service's handler wrappers, if it
    /// has any.
    pub(crate) fn wrapped<Req, Resp, F, Fut>(
        &self,
        ctx: Context,
        request: Req,
        handler: F,
    ) -> impl Future<Output = Result<Resp, Status>> + Send + 'static + use<Req, Resp, F, Fut>
    where
        Req: Erase,
        Resp: Erase,
        F: FnOnce(Context, Req) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        match &self.settings.wrappers {
            None => Either::Left(handler(ctx, request)),
            // Boxed, so that unwrapped calls' futures stay as small as they were.
            Some(wrappers) => Either::Right(Box::pin(wrapper::run(
                wrappers.clone(),
                ctx,
                request,
                handler,
            ))),
        }
    }

    /// [`wrapped`](Self::wrapped) for a handler that streams its responses.
    pub(crate) fn wrapped_stream<Req, F, Fut>(
        &self,
        ctx: Context,
        request: Req,
        handler: F,
    ) -> impl Future<Output = Result<(), Status>> + Send + 'static + use<Req, F, Fut>
    where
        Req: Erase,
        F: FnOnce(Context, Req) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Status>> + Send + 'static,
    {
        let handler = move |ctx, request| handler(ctx, request).map_ok(|()| Streamed);
        self.wrapped(ctx, request, handler).map_ok(|Streamed| ())
    }

    /// Finishes the call with its outcome: `error`, or success. Counts it (once, however often
    /// this runs), records its status and latency on its span, and logs it. Every call ends
    /// here: refused by a layer, undecodable, or answered by its handler.
    pub(crate) fn finish(&mut self, error: Option<&Status>) {
        let code = error.map_or(Code::Ok, Status::code);
        if let Some(metrics) = &mut self.metrics {
            metrics.finish(code);
        }
        let latency_us = self.started.elapsed().as_micros() as u64;
        self.span.record("status", tracing::field::debug(code));
        self.span.record("latency_us", latency_us);
        if let Some(exported) = self.exported.take() {
            exported.end_rpc(crate::telemetry::Kind::Server, error);
        }
        match error {
            Some(status) if is_server_fault(code) => {
                tracing::warn!(message = status.message(), "call failed")
            }
            Some(status) => tracing::debug!(message = status.message(), "call rejected"),
            None => tracing::debug!("call succeeded"),
        }
    }
}

/// Codes that point at the server rather than the caller, worth a warning.
fn is_server_fault(code: Code) -> bool {
    matches!(
        code,
        Code::Internal | Code::Unknown | Code::DataLoss | Code::Unimplemented
    )
}
