//! Retries on another node: connection failures and `UNAVAILABLE`, with backoff, within the
//! call's deadline and a fleet-wide retry budget.
//!
//! Unary and server-streaming requests are buffered so they can be sent again; a unary
//! response is read whole, so a node dying mid-reply is retried too. Client and bidi streams
//! are retried only when their request never left this process. Server streams are never
//! retried once the response has started.

use std::fmt;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower::retry::budget::{Budget, TpsBudget};

use super::CallTarget;
use super::attempt;
use super::balance::Balance;
use super::buffered::Replay;
use super::failure::Failure;
use super::route::{CallDeadline, Route, Tried};
use crate::BoxFuture;
use crate::codec::Whole;
use crate::rpc::{Body, RpcKind};
use crate::telemetry::Telemetry;
use crate::{Code, Status, deadline};

/// Retries a call gets unless configured: 3, so at most 4 attempts.
pub const DEFAULT_RETRIES: u32 = 3;

/// Waits before retry `n` (1-based).
pub(crate) type Backoff = Arc<dyn Fn(u32) -> Duration + Send + Sync>;

/// When to retry.
pub(crate) struct RetryPolicy {
    pub(crate) retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) budget: TpsBudget,
}

impl RetryPolicy {
    /// At most `retries` per call, waiting `backoff(n)` before retry n, and retries at most
    /// `percent` of calls (plus `min_per_sec` every second) over a 10 s window.
    pub(crate) fn new(retries: u32, backoff: Backoff, percent: f32, min_per_sec: u32) -> Self {
        RetryPolicy {
            retries,
            backoff,
            budget: TpsBudget::new(Duration::from_secs(10), min_per_sec, percent),
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

/// The retrying tower service, over the balancer that sends each attempt to one node. Clones
/// share the policy and the budget.
#[derive(Clone)]
pub(crate) struct Retry {
    balance: Balance,
    policy: Arc<RetryPolicy>,
    /// Where each attempt's span is exported, if anywhere.
    telemetry: Telemetry,
}

impl Retry {
    pub(crate) fn new(balance: Balance, policy: RetryPolicy, telemetry: Telemetry) -> Retry {
        Retry {
            balance,
            policy: Arc::new(policy),
            telemetry,
        }
    }
}

impl tower::Service<http::Request<Body>> for Retry {
    type Response = http::Response<Body>;
    type Error = Status;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Status>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let retry = self.clone();
        Box::pin(async move { retry.send(request).await })
    }
}

/// How an attempt ended.
pub(super) enum Outcome {
    Done(http::Response<Body>),
    Failed(Failure),
}

impl Retry {
    /// Sends `request`, again on another node while it fails in a way worth retrying.
    pub(crate) async fn send(
        &self,
        mut request: http::Request<Body>,
    ) -> Result<http::Response<Body>, Status> {
        let kind = request
            .extensions()
            .get::<CallTarget>()
            .map(|t| t.method.kind);
        let route = request.extensions().get::<Route>();
        let retries = route
            .and_then(|route| route.retries)
            .unwrap_or(self.policy.retries);
        let deadline = request.extensions().get::<CallDeadline>().map(|d| d.0);
        // Which nodes were tried only matters to a retry.
        let tried = (retries > 0).then(Tried::default);
        if let Some(tried) = &tried {
            request.extensions_mut().insert(tried.clone());
        }
        self.policy.budget.deposit();
        let replay = match (retries, kind) {
            (0, _) | (_, None | Some(RpcKind::ClientStreaming | RpcKind::BidiStreaming)) => None,
            _ => Some(Replay::buffer(&mut request).await?),
        };
        let whole_response = kind == Some(RpcKind::Unary) && replay.is_some();
        // Every attempt's span is a child of the caller's.
        let parent = request.headers().get(crate::trace::TRACEPARENT).cloned();
        let mut retry = 0;
        loop {
            let span = attempt::start(&self.telemetry, &mut request, parent.as_ref(), retry);
            let outcome = attempt::finish(span, self.attempt(request, whole_response).await);
            let mut failure = match outcome {
                Outcome::Done(response) => return Ok(response),
                Outcome::Failed(failure) => failure,
            };
            let again = failure
                .unsent
                .take()
                .or_else(|| replay.as_ref().map(Replay::request));
            let stop = match again {
                _ if failure.status.code() != Code::Unavailable => Some("not retryable"),
                None => Some("the request stream was already sent"),
                Some(_) if retry >= retries => Some("no retries left"),
                Some(_) if !self.policy.budget.withdraw() => Some("the retry budget is spent"),
                Some(_) => None,
            };
            let Some(next) = again.filter(|_| stop.is_none()) else {
                return Err(gave_up(
                    failure.status,
                    attempts(&tried),
                    stop.unwrap_or_default(),
                ));
            };
            retry += 1;
            let wait = (self.policy.backoff)(retry);
            if deadline.is_some_and(|deadline| Instant::now() + wait >= deadline) {
                return Err(gave_up(
                    failure.status,
                    attempts(&tried),
                    "the deadline is too close",
                ));
            }
            tracing::debug!(retry, ?wait, error = %failure.status.message(), "retrying on another node");
            tokio::time::sleep(wait).await;
            request = next;
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                request
                    .headers_mut()
                    .insert(deadline::GRPC_TIMEOUT.clone(), deadline::encode(left));
            }
        }
    }

    /// One attempt, on one node; a unary response is read whole when `whole_response`.
    async fn attempt(&self, request: http::Request<Body>, whole_response: bool) -> Outcome {
        let response = match self.balance.send(request).await {
            Ok(response) => response,
            Err(failure) => return Outcome::Failed(failure),
        };
        if let Some(status) = unavailable_in(response.headers()) {
            return Outcome::Failed(Failure::answered(status));
        }
        if !whole_response {
            return Outcome::Done(response);
        }
        let (parts, body) = response.into_parts();
        match Whole::read(body).await {
            Ok(whole) => match whole.trailers().and_then(unavailable_in) {
                Some(status) => Outcome::Failed(Failure::answered(status)),
                None => Outcome::Done(http::Response::from_parts(parts, Body::new(whole))),
            },
            Err(status) if status.code() == Code::ResourceExhausted => Outcome::Done(
                http::Response::from_parts(parts, Body::new(Whole::failed(status))),
            ),
            Err(status) => Outcome::Failed(Failure::broken(Status::unavailable(format!(
                "the response was cut off: {}",
                status.message()
            )))),
        }
    }
}

/// How many attempts a call made.
fn attempts(tried: &Option<Tried>) -> usize {
    tried.as_ref().map_or(1, Tried::len)
}

/// An `UNAVAILABLE` status in these headers or trailers.
fn unavailable_in(headers: &http::HeaderMap) -> Option<Status> {
    // Checked before parsing: nearly every response is not one.
    let code = headers.get(&crate::codec::frame::GRPC_STATUS)?;
    if code.as_bytes() != b"14" {
        return None;
    }
    Status::from_header_map(headers)
}

/// The last attempt's status, saying how many attempts were made and why they stopped.
fn gave_up(status: Status, attempts: usize, why: &str) -> Status {
    if attempts <= 1 {
        return status;
    }
    let message = format!("{} (after {attempts} attempts; {why})", status.message());
    Status::with_metadata(status.code(), message, status.metadata().clone())
}
