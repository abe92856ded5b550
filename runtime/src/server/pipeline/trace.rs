//! The trace layer: the call's place in its distributed trace, and its `rpc` span.

use std::task::{Context, Poll};

use tracing::Instrument;
use tracing::instrument::Instrumented;

use crate::Status;
use crate::server::{Body, Incoming};
use crate::telemetry::{Kind, Span};
use crate::trace::{TRACEPARENT_HEADER, TraceContext};

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
/// records the call's status and latency when it is finished. A service that exports spans
/// (OpenTelemetry) starts the call's server span here too, ended with the call's status.
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
        let parent = call.request.headers().get(&TRACEPARENT_HEADER);
        let mut trace = TraceContext::continue_from(parent.and_then(|value| value.to_str().ok()));
        let exported = export(&call, &mut trace);
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
        meta.exported = Some(exported);
        meta.span = span.clone();
        self.inner.call(call).instrument(span)
    }
}

/// The call's exported span, a server span with OpenTelemetry's RPC attributes, if the service
/// exports spans.
fn export(call: &Incoming, trace: &mut TraceContext) -> Span {
    let meta = &call.meta;
    let path = meta.method.path.trim_start_matches('/');
    let mut span = meta
        .settings
        .telemetry
        .start(Kind::Server, || path.to_owned(), trace);
    if !span.is_recording() {
        return span;
    }
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    let headers = call.request.headers();
    span.set("rpc.system", rpc_system(headers));
    span.set("rpc.service", service.to_owned());
    span.set("rpc.method", method.to_owned());
    span.set("micro.service", meta.settings.service.to_string());
    span.set("micro.endpoint", meta.method.endpoint);
    let host = call
        .request
        .uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            headers
                .get(http::header::HOST)
                .and_then(|value| value.to_str().ok())
        });
    if let Some((host, port)) = host.and_then(|host| host.rsplit_once(':')) {
        span.set("server.address", host.to_owned());
        if let Ok(port) = port.parse::<u16>() {
            span.set("server.port", i64::from(port));
        }
    }
    if let Some(peer) = meta.peer {
        span.set("network.peer.address", peer.ip().to_string());
        span.set("network.peer.port", i64::from(peer.port()));
    }
    span
}

/// The protocol a call came in, as `rpc.system` names it: `grpc` (gRPC-Web too),
/// `connect_rpc`, or `go_micro` (go-micro's HTTP protocol).
fn rpc_system(headers: &http::HeaderMap) -> &'static str {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if headers.contains_key("micro-endpoint") {
        "go_micro"
    } else if content_type.starts_with("application/grpc") {
        "grpc"
    } else {
        "connect_rpc"
    }
}
