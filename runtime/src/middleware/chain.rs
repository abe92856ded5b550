//! The machinery every kind of wrapper shares: layers assembled once around a continuation
//! that each request carries, and [`from_fn`] for wrappers written as async functions.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

use crate::BoxFuture;
use crate::layers::Layers;

/// What runs after the last wrapper: the handler, the call or the subscriber.
pub(crate) type Continuation<R, T, E> =
    Box<dyn FnOnce(R) -> BoxFuture<'static, Result<T, E>> + Send>;

/// A request that carries its [`Continuation`].
pub(crate) trait Continued<T, E>: Sized + Send + 'static {
    fn take_continuation(&mut self) -> Option<Continuation<Self, T, E>>;

    /// The error for a request that reached the end without its continuation.
    fn lost() -> E;
}

/// Assembles `layers` around the innermost service, which runs each request's continuation;
/// `None` without layers, so unwrapped calls skip the boxing.
pub(crate) fn assemble<R, T, E>(
    layers: &Layers<BoxCloneSyncService<R, T, E>>,
) -> Option<BoxCloneSyncService<R, T, E>>
where
    R: Continued<T, E>,
    T: Send + 'static,
    E: Send + 'static,
{
    if layers.is_empty() {
        return None;
    }
    let innermost = tower::service_fn(|mut request: R| -> BoxFuture<'static, Result<T, E>> {
        match request.take_continuation() {
            Some(next) => next(request),
            None => Box::pin(std::future::ready(Err(R::lost()))),
        }
    });
    Some(layers.apply(BoxCloneSyncService::new(innermost)))
}

/// The rest of the stack after a wrapper: [`run`](Self::run) it to go on.
pub struct Next<R, T, E> {
    inner: BoxCloneSyncService<R, T, E>,
}

impl<R, T, E> Next<R, T, E> {
    /// Passes `request` on to the next wrapper, or to what is wrapped.
    pub async fn run(self, request: R) -> Result<T, E> {
        self.inner.oneshot(request).await
    }
}

impl<R, T, E> std::fmt::Debug for Next<R, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Next")
    }
}

/// A wrapper from an async function of the request and [`Next`], as axum's
/// `middleware::from_fn`:
///
/// ```
/// use micro::middleware::{Next, from_fn};
/// use micro::server::{HandlerRequest, HandlerResponse};
///
/// let service = micro::Service::new("greeter").wrap_handler(from_fn(
///     |request: HandlerRequest, next: Next<HandlerRequest, HandlerResponse, micro::Status>| async move {
///         if request.endpoint() == "Greeter.Admin" {
///             return Err(micro::Status::permission_denied("no admin calls here"));
///         }
///         next.run(request).await
///     },
/// ));
/// ```
pub fn from_fn<F>(f: F) -> FromFnLayer<F> {
    FromFnLayer { f: Arc::new(f) }
}

/// The layer [`from_fn`] makes.
pub struct FromFnLayer<F> {
    f: Arc<F>,
}

impl<F> Clone for FromFnLayer<F> {
    fn clone(&self) -> Self {
        FromFnLayer { f: self.f.clone() }
    }
}

impl<F> std::fmt::Debug for FromFnLayer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FromFnLayer")
    }
}

impl<F, R, T, E> Layer<BoxCloneSyncService<R, T, E>> for FromFnLayer<F> {
    type Service = FromFn<F, R, T, E>;

    fn layer(&self, inner: BoxCloneSyncService<R, T, E>) -> Self::Service {
        FromFn {
            f: self.f.clone(),
            inner,
        }
    }
}

/// The service [`FromFnLayer`] wraps around the rest of the stack.
pub struct FromFn<F, R, T, E> {
    f: Arc<F>,
    inner: BoxCloneSyncService<R, T, E>,
}

impl<F, R, T, E> Clone for FromFn<F, R, T, E> {
    fn clone(&self) -> Self {
        FromFn {
            f: self.f.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<F, Fut, R, T, E> Service<R> for FromFn<F, R, T, E>
where
    F: Fn(R, Next<R, T, E>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Response = T;
    type Error = E;
    type Future = Fut;

    /// Always ready: [`Next::run`] readies the rest of the stack when it is called.
    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), E>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: R) -> Fut {
        let next = Next {
            inner: self.inner.clone(),
        };
        (self.f)(request, next)
    }
}
