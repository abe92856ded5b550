//! What decides whether, when and how often a call is sent again, as in gRPC's retry design
//! (gRFC A6): a cap on attempts, exponential backoff with jitter, a token-bucket throttle, the
//! server's pushback, and which status codes count.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::hedge::Hedging;
pub(crate) use crate::selector::Codes;
use crate::{Code, Status};

/// Attempts a call makes at most, whatever is configured: gRPC's cap (gRFC A6).
pub const MAX_ATTEMPTS: u32 = 5;

/// Header a retry or hedge carries: how many attempts of the call were sent before it.
pub(crate) const PREVIOUS_ATTEMPTS: http::HeaderName =
    http::HeaderName::from_static("grpc-previous-rpc-attempts");

/// Header (or trailer) by which a server asks for a retry after this many milliseconds, or
/// for none (a negative or invalid value).
pub(crate) const PUSHBACK: &str = "grpc-retry-pushback-ms";

/// Exponential backoff with full jitter, as gRPC's: before retry `n` the call waits a random
/// time in `[0, min(initial × multiplier^(n-1), max))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialBackoff {
    /// The bound of the first wait (default 50 ms).
    pub initial: Duration,
    /// The largest bound (default 1 s).
    pub max: Duration,
    /// How much the bound grows per retry (default 2).
    pub multiplier: f64,
}

impl Default for ExponentialBackoff {
    fn default() -> Self {
        ExponentialBackoff {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(1),
            multiplier: 2.0,
        }
    }
}

impl ExponentialBackoff {
    /// The bound of the wait before retry `n` (1-based); the wait is random below it.
    pub(crate) fn bound(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let bound = self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        Duration::from_secs_f64(bound.min(self.max.as_secs_f64()).max(0.0))
    }
}

/// How long to wait before a retry.
#[derive(Clone)]
pub(crate) enum Backoff {
    /// gRPC's, with jitter.
    Exponential(ExponentialBackoff),
    /// The user's function of the retry number (1-based), taken as it is.
    Custom(Arc<dyn Fn(u32) -> Duration + Send + Sync>),
}

impl Backoff {
    /// The wait before retry `n` (1-based).
    pub(crate) fn wait(&self, retry: u32) -> Duration {
        match self {
            Backoff::Exponential(backoff) => backoff.bound(retry).mul_f64(fastrand::f64()),
            Backoff::Custom(backoff) => backoff(retry),
        }
    }
}

/// gRPC's retry throttle (gRFC A6): a token bucket shared by a client's calls. A failed
/// attempt takes a token, a successful call gives back `token_ratio`; retries and hedges are
/// sent only while more than half the tokens are left.
#[derive(Debug)]
pub(crate) struct Throttle {
    /// Thousandths of a token, as gRPC counts them.
    tokens: AtomicU64,
    max: u64,
    ratio: u64,
}

impl Throttle {
    pub(crate) fn new(max_tokens: u32, token_ratio: f32) -> Throttle {
        let max = u64::from(max_tokens) * 1000;
        Throttle {
            tokens: AtomicU64::new(max),
            max,
            ratio: (f64::from(token_ratio.max(0.0)) * 1000.0).round() as u64,
        }
    }

    /// An attempt failed with a code worth retrying.
    pub(crate) fn failed(&self) {
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                Some(tokens.saturating_sub(1000))
            });
    }

    /// A call succeeded.
    pub(crate) fn succeeded(&self) {
        if self.tokens.load(Ordering::Relaxed) >= self.max {
            return;
        }
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                Some((tokens + self.ratio).min(self.max))
            });
    }

    /// Whether a retry or hedge may be sent now.
    pub(crate) fn allows(&self) -> bool {
        self.tokens.load(Ordering::Relaxed) > self.max / 2
    }
}

/// What the server said of retrying, in a failed attempt's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushback {
    /// No pushback: back off as configured.
    None,
    /// Retry after exactly this long.
    After(Duration),
    /// Do not retry.
    Refused,
}

impl Pushback {
    pub(crate) fn of(status: &Status) -> Pushback {
        let Some(value) = status.metadata().get(PUSHBACK) else {
            return Pushback::None;
        };
        match value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
        {
            Some(millis) => Pushback::After(Duration::from_millis(millis)),
            None => Pushback::Refused,
        }
    }
}

/// When to retry and hedge; shared by a client's calls.
pub(crate) struct RetryPolicy {
    /// Retries per call unless the call says otherwise (capped to `MAX_ATTEMPTS - 1`).
    pub(crate) retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) throttle: Throttle,
    /// Status codes worth retrying (besides connection failures, which are `UNAVAILABLE`).
    pub(crate) codes: Codes,
    /// Hedging per endpoint (`Service.Method`).
    pub(crate) hedging: HashMap<String, Hedging>,
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("retries", &self.retries)
            .field("throttle", &self.throttle)
            .field("codes", &self.codes)
            .field("hedging", &self.hedging)
            .finish_non_exhaustive()
    }
}

/// A client's retry and hedging settings, as its builder collects them.
#[derive(Clone)]
pub(crate) struct RetryOptions {
    pub(crate) retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) max_tokens: u32,
    pub(crate) token_ratio: f32,
    pub(crate) codes: Codes,
    pub(crate) hedging: HashMap<String, Hedging>,
}

impl Default for RetryOptions {
    fn default() -> Self {
        RetryOptions {
            retries: super::DEFAULT_RETRIES,
            backoff: Backoff::Exponential(ExponentialBackoff::default()),
            max_tokens: DEFAULT_MAX_TOKENS,
            token_ratio: DEFAULT_TOKEN_RATIO,
            codes: Codes::of([Code::Unavailable]),
            hedging: HashMap::new(),
        }
    }
}

/// The retry throttle's size unless configured: large enough that a node dying under load
/// (every call in flight to it failing at once) does not stop the retries that fail over.
pub const DEFAULT_MAX_TOKENS: u32 = 100;

/// What a successful call gives back to the retry throttle unless configured: retries add at
/// most about a fifth to the calls while failures persist.
pub const DEFAULT_TOKEN_RATIO: f32 = 0.2;

impl RetryOptions {
    /// The policy these options describe, or why they do not make one.
    pub(crate) fn policy(self) -> Result<RetryPolicy, crate::client::Error> {
        if !(0.0..=1000.0).contains(&self.token_ratio) {
            return Err(crate::client::Error::new(format!(
                "the retry throttle's token ratio must be between 0 and 1000, not {}",
                self.token_ratio
            )));
        }
        if let Backoff::Exponential(backoff) = &self.backoff
            && !(backoff.multiplier >= 1.0 && backoff.multiplier.is_finite())
        {
            return Err(crate::client::Error::new(format!(
                "the retry backoff's multiplier must be 1 or more, not {}",
                backoff.multiplier
            )));
        }
        Ok(RetryPolicy {
            retries: self.retries,
            backoff: self.backoff,
            throttle: Throttle::new(self.max_tokens, self.token_ratio),
            codes: self.codes,
            hedging: self.hedging,
        })
    }
}

impl fmt::Debug for RetryOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryOptions")
            .field("retries", &self.retries)
            .field("max_tokens", &self.max_tokens)
            .field("token_ratio", &self.token_ratio)
            .field("codes", &self.codes)
            .field("hedging", &self.hedging)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_bound_grows_to_its_max_and_the_wait_stays_below_it() {
        let backoff = ExponentialBackoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(70),
            multiplier: 2.0,
        };
        let bounds: Vec<u128> = (1..=5).map(|n| backoff.bound(n).as_millis()).collect();
        assert_eq!(bounds, [10, 20, 40, 70, 70]);
        let jittered = Backoff::Exponential(backoff);
        let waits: Vec<Duration> = (0..200).map(|_| jittered.wait(2)).collect();
        assert!(waits.iter().all(|wait| *wait < Duration::from_millis(20)));
        assert!(waits.iter().any(|wait| *wait < Duration::from_millis(10)));
        assert!(waits.iter().any(|wait| *wait >= Duration::from_millis(10)));
    }

    #[test]
    fn the_throttle_stops_retries_at_half_its_tokens_and_refills_by_the_ratio() {
        let throttle = Throttle::new(10, 0.5);
        for _ in 0..4 {
            throttle.failed();
        }
        assert!(throttle.allows(), "6 of 10 tokens left");
        throttle.failed();
        assert!(!throttle.allows(), "5 of 10 is not more than half");
        throttle.succeeded();
        assert!(throttle.allows(), "5.5 of 10");
        for _ in 0..100 {
            throttle.succeeded();
        }
        for _ in 0..4 {
            throttle.failed();
        }
        assert!(throttle.allows(), "the bucket holds no more than its size");
    }

    #[test]
    fn pushback_is_a_wait_or_a_refusal() {
        let with = |value: &str| {
            let mut metadata = tonic::metadata::MetadataMap::new();
            metadata.insert(PUSHBACK, value.parse().unwrap());
            Pushback::of(&Status::with_metadata(Code::Unavailable, "", metadata))
        };
        assert_eq!(with("250"), Pushback::After(Duration::from_millis(250)));
        assert_eq!(with("-1"), Pushback::Refused);
        assert_eq!(with("soon"), Pushback::Refused);
        assert_eq!(Pushback::of(&Status::unavailable("")), Pushback::None);
    }
}
