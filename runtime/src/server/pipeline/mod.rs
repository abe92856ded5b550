//! The per-call pipeline: the tower layers every routed call goes through, between the router
//! and the handler, in this order:
//!
//! ```text
//! router ─▶ Trace ─▶ Metrics ─▶ Deadline ─▶ Authorize ─▶ Handlers ─▶ decode ─▶ handler wrappers ─▶ handler
//! ```
//!
//! - [`Trace`]: continues the caller's trace (`traceparent`) and opens the call's `rpc` span.
//! - [`Metrics`]: counts the call in flight until it is finished with its outcome.
//! - [`Deadline`]: reads the caller's timeout (`grpc-timeout`, `connect-timeout-ms`,
//!   `Micro-Timeout`).
//! - [`Authorize`]: checks the caller's token against the rules and hands its account to the
//!   handler.
//! - [`Handlers`]: runs the routed method of its handler.
//!
//! A layer that refuses a call finishes it ([`Incoming::refuse`]) and fails with the
//! [`Status`]; the router writes it in the error form of the call's protocol.
//!
//! Layers see a call until its response head. What runs after that (a streaming handler, while
//! the body goes out) is watched by [`CallMeta::observe`](super::call::CallMeta::observe): it
//! holds the handler to the deadline, turns a panic into `INTERNAL`, and finishes the call with
//! its outcome. Every call is finished by [`CallMeta::finish`](super::call::CallMeta::finish),
//! and only once.
//!
//! The layers compose generically (no boxing, except around the auth check when auth is on).
//! User code plugs in at two places around this pipeline: `Service::layer` wraps the whole
//! port (raw HTTP, before routing), and `Service::wrap_handler` wraps the handler (the decoded
//! request, after this pipeline).

mod authorize;
mod deadline;
mod handlers;
mod metrics;
mod trace;

use std::sync::Arc;

use tower::ServiceBuilder;

pub(crate) use authorize::{Authorize, AuthorizeLayer};
pub(crate) use deadline::{Deadline, DeadlineLayer};
pub(crate) use handlers::Handlers;
pub(crate) use metrics::{Metrics, MetricsLayer};
pub(crate) use trace::{Trace, TraceLayer};

use super::{Body, Handler, Incoming};
use crate::Status;
use crate::auth::Gatekeeper;

/// The pipeline as the router runs it.
pub(crate) type CallPipeline = Trace<Metrics<Deadline<Authorize<Handlers>>>>;

/// What every layer of the pipeline answers: the response, or the status a layer refused the
/// call with.
pub(crate) type CallResult = Result<http::Response<Body>, Status>;

/// The pipeline in front of `handlers`, checking calls with `gatekeeper` if the service has one.
pub(crate) fn build(
    handlers: Arc<[Arc<dyn Handler>]>,
    gatekeeper: Option<Arc<Gatekeeper>>,
) -> CallPipeline {
    ServiceBuilder::new()
        .layer(TraceLayer)
        .layer(MetricsLayer)
        .layer(DeadlineLayer)
        .layer(AuthorizeLayer::new(gatekeeper))
        .service(Handlers::new(handlers))
}

impl Incoming {
    /// Finishes a call a layer refuses, before its handler runs, and gives back `status` to
    /// fail with.
    pub(crate) fn refuse(mut self, status: Status) -> Status {
        self.meta.finish(Some(&status));
        status
    }
}
