//! The trace layer: the call's place in its distributed trace, and its `rpc` span.

use std::task::{Context, Poll};

use tracing::Instrument;
use tracing::instrument::Instrumented;

use crate::Status;
use crate::server::{Body, Incoming};
use crate::trace::{TRACEPARENT, TraceContext};

/// Adds [`Trace`] to a service.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TraceLayer;

impl<S> tower::Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Trace<S> {
        Trace { inner }
    }
}

/// Continues the caller's trace from its `traceparent` header (or starts one) and runs the
/// rest of the call in an `rpc` span naming the service, endpoint, trace and peer. The span
/// records the call's status and latency when it is finished.
#[derive(Debug, Clone)]
pub(crate) struct Trace<S> {
    inner: S,
}

impl<S> tower::Service<Incoming> for Trace<S>
where
    S: tower::Service<Incoming, Response = http::Response<Body>, Error = Status>,
{
    type Response = S::Response;
    type Error = Status;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut call: Incoming) -> Self::Future {
        let parent = call.request.headers().get(TRACEPARENT);
        let trace = TraceContext::continue_from(parent.and_then(|value| value.to_str().ok()));
        let meta = &mut call.meta;
        let span = tracing::info_span!(
            "rpc",
            service = %meta.settings.service,
            endpoint = meta.method.endpoint,
            trace_id = %trace.trace_id(),
            peer = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_us = tracing::field::Empty,
        );
        if let Some(peer) = meta.peer {
            span.record("peer", tracing::field::display(peer));
        }
        meta.trace = Some(trace);
        meta.span = span.clone();
        self.inner.call(call).instrument(span)
    }
}
