//! The deadline layer: a call that has not finished by its deadline fails with
//! `DEADLINE_EXCEEDED`, naming its target and how long it ran.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Timeout};

use crate::Status;
use crate::client::CallTarget;

/// Adds [`Deadline`] to a service.
#[derive(Debug, Clone, Copy)]
pub(in crate::client) struct DeadlineLayer<'a> {
    target: &'a CallTarget,
    deadline: Instant,
}

impl<'a> DeadlineLayer<'a> {
    pub(in crate::client) fn new(target: &'a CallTarget, deadline: Instant) -> DeadlineLayer<'a> {
        DeadlineLayer { target, deadline }
    }

    /// `future`, under this deadline.
    pub(in crate::client) fn within<F: Future>(&self, future: F) -> DeadlineFuture<'a, F> {
        DeadlineFuture {
            inner: tokio::time::timeout_at(self.deadline, future),
            deadline: self.deadline,
            started: Instant::now(),
            target: self.target,
        }
    }
}

impl<'a, S> tower::Layer<S> for DeadlineLayer<'a> {
    type Service = Deadline<'a, S>;

    fn layer(&self, inner: S) -> Deadline<'a, S> {
        Deadline {
            inner,
            layer: *self,
        }
    }
}

/// Runs the inner service's call until the deadline: then it fails with `DEADLINE_EXCEEDED`,
/// as does a call that broke as its deadline passed (the server reset it).
#[derive(Debug, Clone)]
pub(in crate::client) struct Deadline<'a, S> {
    inner: S,
    layer: DeadlineLayer<'a>,
}

impl<'a, S, R> tower::Service<R> for Deadline<'a, S>
where
    S: tower::Service<R, Error = Status>,
{
    type Response = S::Response;
    type Error = Status;
    type Future = DeadlineFuture<'a, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.layer.within(self.inner.call(request))
    }
}

pin_project! {
    /// A call's future under its deadline.
    pub(in crate::client) struct DeadlineFuture<'a, F> {
        #[pin]
        inner: Timeout<F>,
        deadline: Instant,
        started: Instant,
        target: &'a CallTarget,
    }
}

impl<F, T> Future for DeadlineFuture<'_, F>
where
    F: Future<Output = Result<T, Status>>,
{
    type Output = Result<T, Status>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let exceeded = || deadline_exceeded(this.target, this.started.elapsed());
        Poll::Ready(match ready!(this.inner.poll(cx)) {
            // A call that broke as its deadline passed (the server reset it) timed out.
            Ok(Err(_)) if Instant::now() >= *this.deadline => Err(exceeded()),
            Ok(result) => result,
            Err(_) => Err(exceeded()),
        })
    }
}

/// The status of a call to `target` whose deadline passed after `elapsed`.
pub(in crate::client) fn deadline_exceeded(target: &CallTarget, elapsed: Duration) -> Status {
    Status::deadline_exceeded(format!(
        "call to {} {} exceeded its deadline after {:.3}s",
        target.service,
        target.method.endpoint,
        elapsed.as_secs_f64()
    ))
}
