//! The deadline layer: how long the caller waits.

use std::future::{Ready, ready};
use std::task::{Context, Poll};

use futures_util::future::Either;

use super::CallResult;
use crate::Status;
use crate::server::{Body, Incoming};

/// Adds [`Deadline`] to a service.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DeadlineLayer;

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline { inner }
    }
}

/// Sets the call's deadline from the caller's timeout header, measured from when the call
/// arrived; the handler is held to it and sees it in its `Context`. A malformed timeout
/// refuses the call.
#[derive(Debug, Clone)]
pub(crate) struct Deadline<S> {
    inner: S,
}

impl<S> tower::Service<Incoming> for Deadline<S>
where
    S: tower::Service<Incoming, Response = http::Response<Body>, Error = Status>,
{
    type Response = S::Response;
    type Error = Status;
    type Future = Either<Ready<CallResult>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut call: Incoming) -> Self::Future {
        match crate::deadline::from_headers(call.request.headers()) {
            Ok(timeout) => {
                call.meta.deadline = timeout.map(|timeout| call.meta.started + timeout);
                Either::Right(self.inner.call(call))
            }
            Err(status) => Either::Left(ready(Err(call.refuse(status)))),
        }
    }
}
