//! Hedging (gRFC A6): copies of a call sent to distinct nodes, one more after each delay, the
//! first response winning; the others are cancelled (dropped, which resets their streams).

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;

use super::policy::{Codes, MAX_ATTEMPTS, Pushback};
use super::{Outcome, Plan, Retry, attempt, attempts, gave_up, prepare};
use crate::client::buffered::Replay;
use crate::rpc::Body;
use crate::{Code, Status};

/// A hedging policy: after `delay` without a response another copy of the call goes to a node
/// not tried yet, up to `max_attempts` copies in all (capped at 5); the first response wins.
///
/// For unary and server-streaming calls whose method is safe to run more than once. Set it per
/// method with [`ClientBuilder::hedge`](crate::client::ClientBuilder::hedge) or per call with
/// [`Call::hedge`](crate::client::Call::hedge).
///
/// ```
/// use std::time::Duration;
/// use micro::client::Hedging;
///
/// let hedging = Hedging::after(Duration::from_millis(20)).max_attempts(3);
/// # let _ = hedging;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hedging {
    pub(crate) delay: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) non_fatal: Codes,
}

impl Hedging {
    /// Sends another copy after each `delay` without a response: pick it a little above the
    /// method's usual p95. Two copies at most unless [`max_attempts`](Self::max_attempts) says.
    pub fn after(delay: Duration) -> Hedging {
        Hedging {
            delay,
            max_attempts: 2,
            non_fatal: Codes::of([Code::Unavailable]),
        }
    }

    /// Copies sent at most, the first included (capped at 5, gRPC's limit).
    pub fn max_attempts(mut self, attempts: u32) -> Hedging {
        self.max_attempts = attempts.min(MAX_ATTEMPTS);
        self
    }

    /// Status codes after which hedging goes on, at once, with the next copy (default
    /// `UNAVAILABLE`, as connection failures are). Any other status ends the call.
    pub fn non_fatal(mut self, codes: impl IntoIterator<Item = Code>) -> Hedging {
        self.non_fatal = Codes::of(codes);
        self
    }
}

/// Sends `request`, then copies of it (from `replay`) as `hedging` says, until one is answered.
pub(super) async fn send(
    retry: &Retry,
    request: http::Request<Body>,
    replay: &Replay,
    hedging: &Hedging,
    plan: &Plan,
) -> Result<http::Response<Body>, Status> {
    let max = hedging.max_attempts.min(MAX_ATTEMPTS);
    let throttle = &retry.policy.throttle;
    let mut in_flight = FuturesUnordered::new();
    let mut first = Some(request);
    let mut sent = 0;
    // When the next copy goes out; `None` once no more will.
    let mut next_at = Some(Instant::now());
    let mut last = None;
    loop {
        if next_at.is_some_and(|at| at <= Instant::now()) {
            next_at = None;
            let allowed = sent == 0 || throttle.allows();
            let in_time = plan
                .deadline
                .is_none_or(|deadline| Instant::now() < deadline);
            if sent < max && allowed && in_time {
                let mut request = first.take().unwrap_or_else(|| replay.request());
                if sent > 0 {
                    prepare(&mut request, sent, plan.deadline);
                }
                let span =
                    attempt::start(&retry.telemetry, &mut request, plan.parent.as_ref(), sent);
                in_flight.push(async move {
                    attempt::finish(span, retry.attempt(request, hedging.non_fatal).await)
                });
                sent += 1;
                next_at = (sent < max).then(|| Instant::now() + hedging.delay);
            }
        }
        if in_flight.is_empty() && next_at.is_none() {
            let status = last.unwrap_or_else(|| Status::unavailable("no hedged attempt was sent"));
            return Err(gave_up(
                status,
                attempts(&plan.tried),
                "every hedged attempt failed",
            ));
        }
        let outcome = tokio::select! {
            Some(outcome) = in_flight.next() => outcome,
            () = until(next_at) => continue,
        };
        let failure = match outcome {
            // Dropping `in_flight` cancels the other copies.
            Outcome::Done(response) => return Ok(response),
            Outcome::Failed(failure) => failure,
        };
        let code = failure.status.code();
        let non_fatal = hedging.non_fatal.contains(code)
            || (failure.unsent.is_some() && code == Code::Unavailable);
        if !non_fatal {
            return Err(gave_up(
                failure.status,
                attempts(&plan.tried),
                "not retryable",
            ));
        }
        if failure.unsent.is_none() {
            throttle.failed();
        }
        // A non-fatal status sends the next copy at once, unless the server pushes back.
        next_at = match Pushback::of(&failure.status) {
            Pushback::Refused => None,
            Pushback::After(wait) => Some(Instant::now() + wait),
            Pushback::None => Some(Instant::now()),
        }
        .filter(|_| sent < max);
        last = Some(failure.status);
    }
}

/// Completes at `at`, or never.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
