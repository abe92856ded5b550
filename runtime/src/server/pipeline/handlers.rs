//! The innermost service of the pipeline: the handlers themselves.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use futures_util::future::Map;

use super::CallResult;
use crate::Status;
use crate::server::{Body, Handler, Incoming, ResponseFuture};

/// Runs the routed method of its handler. Its errors are already in the response: it never
/// fails.
#[derive(Clone)]
pub(crate) struct Handlers {
    handlers: Arc<[Arc<dyn Handler>]>,
}

impl Handlers {
    pub(crate) fn new(handlers: Arc<[Arc<dyn Handler>]>) -> Handlers {
        Handlers { handlers }
    }
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.handlers.iter().map(|h| h.info().name).collect();
        f.debug_tuple("Handlers").field(&names).finish()
    }
}

impl tower::Service<Incoming> for Handlers {
    type Response = http::Response<Body>;
    type Error = Status;
    type Future = Map<ResponseFuture, fn(http::Response<Body>) -> CallResult>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: Incoming) -> Self::Future {
        let (handler, method) = (call.target.handler, call.target.method);
        self.handlers[handler].call(method, call).map(Ok)
    }
}
