//! The machinery of go-micro's wrappers as tower layers: around handlers (`WrapHandler`,
//! [`Service::wrap_handler`](crate::Service::wrap_handler) over
//! [`HandlerService`](crate::server::HandlerService)), around the calls a client makes
//! (`WrapCall`, [`ClientBuilder::wrap_call`](crate::client::ClientBuilder::wrap_call) over
//! [`CallService`](crate::client::CallService)) and around subscribers (`WrapSubscriber`,
//! [`Service::wrap_subscriber`](crate::Service::wrap_subscriber) over
//! [`SubscriberService`](crate::service::SubscriberService)).
//!
//! Each kind is a stack of [`tower::Layer`]s over a boxed service whose requests carry the
//! decoded message ([`AnyMessage`]); write a wrapper with [`from_fn`] or as any tower layer.
//! A wrapper added later wraps those added before it. `docs/architecture.md` shows where the
//! stacks sit in a call's path.

mod chain;
mod message;
mod once;

pub use chain::{FromFn, FromFnLayer, Next, from_fn};
pub use message::AnyMessage;

pub(crate) use chain::{Continuation, Continued, assemble};
pub(crate) use message::{Erase, Streamed};
pub(crate) use once::Once;

/// The error of a call whose `what` (request or response) a `kind` wrapper replaced with a
/// message of another type.
pub(crate) fn replaced(kind: &str, what: &str, endpoint: &str) -> crate::Status {
    crate::Status::internal(format!(
        "a {kind} wrapper replaced the {what} of {endpoint} with one of another type"
    ))
}
