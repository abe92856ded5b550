//! The auth layer: who is calling, and whether they may.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::Either;

use super::CallResult;
use crate::auth::{Gatekeeper, Identity};
use crate::server::{Body, Incoming};
use crate::{BoxFuture, Status};

/// Adds [`Authorize`] to a service.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizeLayer {
    gatekeeper: Option<Arc<Gatekeeper>>,
}

impl AuthorizeLayer {
    /// Checks calls with `gatekeeper`; without one, calls pass untouched.
    pub(crate) fn new(gatekeeper: Option<Arc<Gatekeeper>>) -> AuthorizeLayer {
        AuthorizeLayer { gatekeeper }
    }
}

impl<S> tower::Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Authorize<S> {
        Authorize {
            gatekeeper: self.gatekeeper.clone(),
            inner,
        }
    }
}

/// Checks the caller's bearer token (or its mTLS identity) and the service's rules for the
/// endpoint. An allowed caller's `Account` goes into the request's extensions, where the
/// handler's `Context` finds it; a refused call fails with `UNAUTHENTICATED` or
/// `PERMISSION_DENIED`.
#[derive(Debug, Clone)]
pub(crate) struct Authorize<S> {
    gatekeeper: Option<Arc<Gatekeeper>>,
    inner: S,
}

impl<S> tower::Service<Incoming> for Authorize<S>
where
    S: tower::Service<Incoming, Response = http::Response<Body>, Error = Status>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = Status;
    type Future = Either<S::Future, BoxFuture<'static, CallResult>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Incoming) -> Self::Future {
        let Some(gatekeeper) = self.gatekeeper.clone() else {
            return Either::Left(self.inner.call(call));
        };
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Either::Right(Box::pin(authorize(gatekeeper, inner, call)))
    }
}

async fn authorize<S>(gatekeeper: Arc<Gatekeeper>, mut inner: S, mut call: Incoming) -> CallResult
where
    S: tower::Service<Incoming, Response = http::Response<Body>, Error = Status>,
{
    let endpoint = call.meta.method.endpoint;
    let identity = call.request.extensions().get::<Identity>();
    match gatekeeper
        .check(call.request.headers(), identity, endpoint)
        .await
    {
        Ok(Some(account)) => {
            call.request.extensions_mut().insert(account);
        }
        Ok(None) => {}
        Err(status) => return Err(call.refuse(status)),
    }
    inner.call(call).await
}
