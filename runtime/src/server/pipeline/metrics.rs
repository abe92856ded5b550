//! The metrics layer: calls in flight, counted by outcome and timed.

use std::task::{Context, Poll};

use crate::Status;
use crate::server::{Body, Incoming};

/// Adds [`Metrics`] to a service.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MetricsLayer;

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Metrics<S> {
        Metrics { inner }
    }
}

/// Starts the call's metrics (in flight from here) if the server keeps them. The call counts
/// with its status code and duration when it is finished, however it ends: refused by a
/// layer, undecodable, or answered by its handler.
#[derive(Debug, Clone)]
pub(crate) struct Metrics<S> {
    inner: S,
}

impl<S> tower::Service<Incoming> for Metrics<S>
where
    S: tower::Service<Incoming, Response = http::Response<Body>, Error = Status>,
{
    type Response = S::Response;
    type Error = Status;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut call: Incoming) -> S::Future {
        if let Some(endpoint) = call.target.metrics.take() {
            call.meta.metrics = Some(endpoint.start(call.meta.started));
        }
        self.inner.call(call)
    }
}
