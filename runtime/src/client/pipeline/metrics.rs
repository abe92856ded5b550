//! The metrics layer: every call counted and timed in `micro_client_request_total` and
//! `micro_client_request_duration_seconds`, by service, endpoint and outcome.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Instant;

use crate::client::CallTarget;
use crate::metrics::Metrics as Registry;
use crate::{Code, Status};

/// Adds [`Metrics`] to a service; without metrics (a client that is not a service's), the
/// service is called as it is.
#[derive(Debug, Clone, Copy)]
pub(in crate::client) struct MetricsLayer<'a> {
    target: &'a CallTarget,
    metrics: Option<&'a Registry>,
}

impl<'a> MetricsLayer<'a> {
    pub(in crate::client) fn new(
        target: &'a CallTarget,
        metrics: Option<&'a Registry>,
    ) -> MetricsLayer<'a> {
        MetricsLayer { target, metrics }
    }
}

impl<'a, S> tower::Layer<S> for MetricsLayer<'a> {
    type Service = Metrics<'a, S>;

    fn layer(&self, inner: S) -> Metrics<'a, S> {
        Metrics {
            inner,
            layer: *self,
        }
    }
}

/// Records each call's outcome and duration once it is over.
#[derive(Debug, Clone)]
pub(in crate::client) struct Metrics<'a, S> {
    inner: S,
    layer: MetricsLayer<'a>,
}

impl<'a, S, R> tower::Service<R> for Metrics<'a, S>
where
    S: tower::Service<R, Error = Status>,
{
    type Response = S::Response;
    type Error = Status;
    type Future = MetricsFuture<'a, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        MetricsFuture {
            inner: self.inner.call(request),
            started: Instant::now(),
            layer: self.layer,
        }
    }
}

pin_project! {
    /// A call's future, recorded when it completes.
    pub(in crate::client) struct MetricsFuture<'a, F> {
        #[pin]
        inner: F,
        started: Instant,
        layer: MetricsLayer<'a>,
    }
}

impl<F, T> Future for MetricsFuture<'_, F>
where
    F: Future<Output = Result<T, Status>>,
{
    type Output = Result<T, Status>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(metrics) = this.layer.metrics {
            let code = result.as_ref().err().map_or(Code::Ok, Status::code);
            let target = this.layer.target;
            metrics.client_call(
                &target.service,
                target.method.endpoint,
                code,
                this.started.elapsed(),
            );
        }
        Poll::Ready(result)
    }
}
