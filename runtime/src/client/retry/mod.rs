//! Retries and hedging, as in gRPC's retry design (gRFC A6): a failed attempt is sent again on
//! another node, at most [`MAX_ATTEMPTS`] in all, with jittered exponential backoff or the
//! server's pushback, within the call's deadline and the client's retry throttle.
//!
//! Unary and server-streaming requests are buffered so they can be sent again. A call is
//! committed once response headers arrive: nothing is retried after that. Client and bidi
//! streams are retried only when their request never left this process.

mod hedge;
mod policy;

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use tokio::time::Instant;

pub use hedge::Hedging;
pub(crate) use policy::{Backoff, Codes, RetryOptions, RetryPolicy};
pub use policy::{DEFAULT_MAX_TOKENS, DEFAULT_TOKEN_RATIO, ExponentialBackoff, MAX_ATTEMPTS};

use super::CallTarget;
use super::attempt;
use super::balance::Balance;
use super::buffered::Replay;
use super::failure::Failure;
use super::route::{CallDeadline, Route, Tried};
use crate::BoxFuture;
use crate::rpc::{Body, RpcKind};
use crate::telemetry::Telemetry;
use crate::trace::TRACEPARENT_HEADER;
use crate::{Code, Status, deadline};
use policy::{PREVIOUS_ATTEMPTS, Pushback};

/// Retries a call gets unless configured: 3, so at most 4 attempts.
pub const DEFAULT_RETRIES: u32 = 3;

/// The retrying tower service, over the balancer that sends each attempt to one node. Clones
/// share the policy and the throttle.
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
    /// Response headers arrived (or a status not worth another attempt): the call is committed.
    Done(http::Response<Body>),
    Failed(Failure),
}

/// What a call's attempts share.
struct Plan {
    kind: Option<RpcKind>,
    retries: u32,
    hedging: Option<Hedging>,
    deadline: Option<Instant>,
    tried: Option<Tried>,
    /// The caller's `traceparent`: every attempt's span is a child of it.
    parent: Option<http::HeaderValue>,
}

impl Retry {
    /// Sends `request`, again on another node while it fails in a way worth retrying, or
    /// hedged when its method or the call asks for that.
    pub(crate) async fn send(
        &self,
        mut request: http::Request<Body>,
    ) -> Result<http::Response<Body>, Status> {
        let plan = self.plan(&mut request);
        let buffer = !matches!(
            (plan.kind, plan.retries, &plan.hedging),
            (
                None | Some(RpcKind::ClientStreaming | RpcKind::BidiStreaming),
                _,
                _
            ) | (_, 0, None)
        );
        let replay = match buffer {
            true => Some(Replay::buffer(&mut request).await?),
            false => None,
        };
        if let (Some(hedging), Some(replay)) = (&plan.hedging, &replay) {
            return hedge::send(self, request, replay, hedging, &plan).await;
        }
        self.retry(request, replay, &plan).await
    }

    /// What the call's route, target and policy say of its attempts.
    fn plan(&self, request: &mut http::Request<Body>) -> Plan {
        let target = request.extensions().get::<CallTarget>();
        let kind = target.map(|t| t.method.kind);
        let route = request.extensions().get::<Route>();
        let retries = route
            .and_then(|route| route.retries)
            .unwrap_or(self.policy.retries)
            .min(MAX_ATTEMPTS - 1);
        let hedging = route
            .and_then(|route| route.hedging.clone())
            .or_else(|| {
                let endpoint = target?.method.endpoint;
                self.policy.hedging.get(endpoint).cloned()
            })
            .filter(|hedging| hedging.max_attempts > 1)
            .filter(|_| matches!(kind, Some(RpcKind::Unary | RpcKind::ServerStreaming)));
        let deadline = request.extensions().get::<CallDeadline>().map(|d| d.0);
        // Which nodes were tried only matters to another attempt.
        let tried = (retries > 0 || hedging.is_some()).then(Tried::default);
        if let Some(tried) = &tried {
            request.extensions_mut().insert(tried.clone());
        }
        // Only exported attempt spans need the caller's trace.
        let parent = match self.telemetry.is_on() {
            true => request.headers().get(&TRACEPARENT_HEADER).cloned(),
            false => None,
        };
        Plan {
            kind,
            retries,
            hedging,
            deadline,
            tried,
            parent,
        }
    }

    /// Attempts one after another while they fail in a way worth retrying.
    async fn retry(
        &self,
        mut request: http::Request<Body>,
        replay: Option<Replay>,
        plan: &Plan,
    ) -> Result<http::Response<Body>, Status> {
        let codes = self.policy.codes;
        let mut retry = 0;
        // Backoff counts from the last pushback, which resets it.
        let mut backoff_from = 0;
        loop {
            let span = attempt::start(&self.telemetry, &mut request, plan.parent.as_ref(), retry);
            let outcome = attempt::finish(span, self.attempt(request, codes).await);
            let mut failure = match outcome {
                Outcome::Done(response) => return Ok(response),
                Outcome::Failed(failure) => failure,
            };
            let unsent = failure.unsent.take();
            let retryable = codes.contains(failure.status.code())
                || (unsent.is_some() && failure.status.code() == Code::Unavailable);
            // A request that never left is retried as gRPC's transparent retries are: it
            // costs the throttle nothing.
            if retryable && unsent.is_none() {
                self.policy.throttle.failed();
            }
            let pushback = Pushback::of(&failure.status);
            let throttled = unsent.is_none() && !self.policy.throttle.allows();
            let again = unsent.or_else(|| replay.as_ref().map(Replay::request));
            let stop = match again {
                _ if !retryable => Some("not retryable"),
                None => Some("the request stream was already sent"),
                Some(_) if retry >= plan.retries => Some("no retries left"),
                Some(_) if pushback == Pushback::Refused => Some("the server asked not to retry"),
                Some(_) if throttled => Some("retries are throttled: too many calls fail"),
                Some(_) => None,
            };
            let Some(mut next) = again.filter(|_| stop.is_none()) else {
                let why = stop.unwrap_or_default();
                return Err(gave_up(failure.status, attempts(&plan.tried), why));
            };
            retry += 1;
            let wait = match pushback {
                Pushback::After(wait) => {
                    backoff_from = retry;
                    wait
                }
                _ => self.policy.backoff.wait(retry - backoff_from),
            };
            if plan
                .deadline
                .is_some_and(|deadline| Instant::now() + wait >= deadline)
            {
                let why = "the deadline is too close";
                return Err(gave_up(failure.status, attempts(&plan.tried), why));
            }
            tracing::debug!(retry, ?wait, error = %failure.status.message(), "retrying on another node");
            tokio::time::sleep(wait).await;
            prepare(&mut next, retry, plan.deadline);
            request = next;
        }
    }

    /// One attempt, on one node. A trailers-only response with one of `codes` fails it; any
    /// other response commits the call, and is a success for the throttle unless it is an
    /// error.
    async fn attempt(&self, request: http::Request<Body>, codes: Codes) -> Outcome {
        let response = match self.balance.send(request).await {
            Ok(response) => response,
            Err(failure) => return Outcome::Failed(failure),
        };
        let code = response.headers().get(&crate::codec::frame::GRPC_STATUS);
        let failed = code
            .filter(|code| codes.contains_header(code.as_bytes()))
            .and_then(|_| Status::from_header_map(response.headers()));
        if let Some(status) = failed {
            return Outcome::Failed(Failure::answered(status));
        }
        if code.is_none_or(|code| code.as_bytes() == b"0") {
            self.policy.throttle.succeeded();
        }
        Outcome::Done(response)
    }
}

/// Readies `request` for attempt `attempt` (1 for the first retry or hedge): how many were sent
/// before it, and the time left.
fn prepare(request: &mut http::Request<Body>, attempt: u32, deadline: Option<Instant>) {
    request
        .headers_mut()
        .insert(PREVIOUS_ATTEMPTS, http::HeaderValue::from(attempt));
    if let Some(deadline) = deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        request
            .headers_mut()
            .insert(deadline::GRPC_TIMEOUT.clone(), deadline::encode(left));
    }
}

/// How many attempts a call made.
fn attempts(tried: &Option<Tried>) -> usize {
    tried.as_ref().map_or(1, Tried::len)
}

/// The last attempt's status, saying how many attempts were made and why they stopped.
fn gave_up(status: Status, attempts: usize, why: &str) -> Status {
    if attempts <= 1 {
        return status;
    }
    let message = format!("{} (after {attempts} attempts; {why})", status.message());
    Status::with_metadata(status.code(), message, status.metadata().clone())
}
