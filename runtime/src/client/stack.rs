//! The service every call's request goes down: retry → balance → pool, under the user's
//! layers when there are any.

use std::future::Future;

use futures_util::future::Either;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use super::Transport;
use super::retry::Retry;
use crate::Status;
use crate::layers::Layers;
use crate::rpc::Body;

/// A client's tower stack, built once. Unary calls [`send`](Stack::send) through it; tonic's
/// streaming calls take it as a [`Transport`].
#[derive(Clone)]
pub(super) struct Stack {
    /// The user's layers over the retrying stack, boxed.
    layered: Transport,
    /// The retrying stack itself, when no layers were added: unary calls go straight to it,
    /// sparing the boxing of every call's service and future.
    bare: Option<Retry>,
}

impl Stack {
    /// `layers` over `retry`.
    pub(super) fn new(retry: Retry, layers: &Layers<Transport>) -> Stack {
        let bare = layers.is_empty().then(|| retry.clone());
        Stack {
            layered: layers.apply(BoxCloneSyncService::new(retry)),
            bare,
        }
    }

    /// Sends one request down the stack.
    pub(super) fn send(
        &self,
        request: http::Request<Body>,
    ) -> impl Future<Output = Result<http::Response<Body>, Status>> + Send + '_ {
        match &self.bare {
            // Boxed, as the transport's future would be: it takes kilobytes, which every
            // future wrapping it would otherwise carry and copy.
            Some(retry) => Either::Left(Box::pin(retry.send(request))),
            None => Either::Right(self.layered.clone().oneshot(request)),
        }
    }

    /// The stack as one boxed service, for tonic's streaming calls.
    pub(super) fn transport(&self) -> Transport {
        self.layered.clone()
    }
}
