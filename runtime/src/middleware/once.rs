//! [`Once`]: a function of one request as a tower service.

use std::future::{Future, Ready, ready};
use std::task::{Context as TaskContext, Poll};

use futures_util::future::Either;

use crate::Status;

/// A tower service that runs its function for the one request it is called with: a call's
/// exchange (one request, one response) as a service, for layers to wrap.
pub(crate) struct Once<F>(Option<F>);

impl<F> Once<F> {
    pub(crate) fn new(f: F) -> Once<F> {
        Once(Some(f))
    }
}

impl<F, R, T, Fut> tower::Service<R> for Once<F>
where
    F: FnOnce(R) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    type Response = T;
    type Error = Status;
    type Future = Either<Fut, Ready<Result<T, Status>>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: R) -> Self::Future {
        match self.0.take() {
            Some(f) => Either::Left(f(request)),
            None => Either::Right(ready(Err(Status::internal(
                "a call's one-shot service was called twice",
            )))),
        }
    }
}
