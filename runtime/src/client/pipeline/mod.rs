//! The client's per-call layers, around a call's exchange (its request sent down the client's
//! stack, its reply read), in this order:
//!
//! ```text
//! Metrics   the call counted and timed in micro_client_request_total, with its outcome
//! Deadline  the call ended with DEADLINE_EXCEEDED at its deadline
//! exchange  client/invoke.rs: the request down the stack (client/stack.rs), the reply read
//! ```
//!
//! They are built per call from what the call resolved (its target, deadline and the client's
//! metrics) and composed generically: nothing is boxed. The layers below the exchange are the
//! client's stack: the user's layers, retry, balance and pool.

mod deadline;
mod metrics;

use tokio::time::Instant;
use tower::Layer;

pub(super) use deadline::{Deadline, DeadlineLayer, deadline_exceeded};
pub(super) use metrics::Metrics;
use metrics::MetricsLayer;

use super::CallTarget;

/// `exchange` under the layers of one call to `target`, due by `deadline`, counted in
/// `metrics` if the client has them.
pub(super) fn around<'a, S>(
    exchange: S,
    target: &'a CallTarget,
    deadline: Instant,
    metrics: Option<&'a crate::metrics::Metrics>,
) -> Metrics<'a, Deadline<'a, S>> {
    let exchange = DeadlineLayer::new(target, deadline).layer(exchange);
    MetricsLayer::new(target, metrics).layer(exchange)
}
