//! One endpoint's metric handles, resolved once so that recording a call is a few atomic
//! operations: no label lookup, no allocation.

use std::sync::{Arc, OnceLock};

use prometheus::{Histogram, IntCounter, IntGauge};
use tokio::time::Instant;

use super::Metrics;
use crate::Code;

/// go-micro's (Go's) names of the gRPC codes, indexed by code number.
const STATUS: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

/// Go's name of `code`, as the `status` label shows it.
pub(super) fn status_name(code: Code) -> &'static str {
    STATUS.get(code as usize).copied().unwrap_or("Unknown")
}

/// The metrics of one endpoint of a server.
pub(crate) struct EndpointMetrics {
    metrics: Metrics,
    service: Arc<str>,
    endpoint: &'static str,
    in_flight: IntGauge,
    /// Counter and histogram per status, resolved on the status's first call (so that
    /// statuses never seen are not exported as zeros).
    by_status: [OnceLock<(IntCounter, Histogram)>; STATUS.len()],
}

impl EndpointMetrics {
    pub(crate) fn new(metrics: &Metrics, service: Arc<str>, endpoint: &'static str) -> Self {
        let in_flight = metrics
            .inner
            .in_flight
            .with_label_values(&[&*service, endpoint]);
        EndpointMetrics {
            metrics: metrics.clone(),
            service,
            endpoint,
            in_flight,
            by_status: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// Counts a call as in flight until the returned guard finishes or drops.
    pub(crate) fn start(self: &Arc<Self>, started: Instant) -> CallMetrics {
        self.in_flight.inc();
        CallMetrics {
            endpoint: self.clone(),
            started,
            finished: false,
        }
    }

    fn handles(&self, code: Code) -> &(IntCounter, Histogram) {
        let index = match code as usize {
            index if index < STATUS.len() => index,
            _ => Code::Unknown as usize,
        };
        self.by_status[index].get_or_init(|| {
            let labels = [&*self.service, self.endpoint, STATUS[index]];
            let inner = &self.metrics.inner;
            (
                inner.requests.with_label_values(&labels),
                inner.durations.with_label_values(&labels),
            )
        })
    }
}

impl std::fmt::Debug for EndpointMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointMetrics")
            .field("service", &self.service)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// One call being served: counted once with its status, and in flight until dropped.
pub(crate) struct CallMetrics {
    endpoint: Arc<EndpointMetrics>,
    started: Instant,
    finished: bool,
}

impl CallMetrics {
    /// Counts the call with its outcome and duration; later calls are ignored.
    pub(crate) fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let (count, duration) = self.endpoint.handles(code);
        let elapsed = self.started.elapsed().as_secs_f64();
        count.inc();
        duration.observe(elapsed);
        #[cfg(feature = "otel")]
        if let Some(otlp) = self.endpoint.metrics.inner.otlp.get() {
            let endpoint = &self.endpoint;
            otlp.served(&endpoint.service, endpoint.endpoint, code, elapsed);
        }
    }
}

impl Drop for CallMetrics {
    fn drop(&mut self) {
        self.endpoint.in_flight.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_follow_the_code_numbers() {
        assert_eq!(STATUS[Code::Ok as usize], "OK");
        assert_eq!(STATUS[Code::NotFound as usize], "NotFound");
        assert_eq!(STATUS[Code::DeadlineExceeded as usize], "DeadlineExceeded");
        assert_eq!(STATUS[Code::Unauthenticated as usize], "Unauthenticated");
    }

    #[test]
    fn a_call_counts_once_and_leaves_flight_when_dropped() {
        let metrics = Metrics::new();
        let endpoint = Arc::new(EndpointMetrics::new(&metrics, Arc::from("svc"), "Svc.Call"));
        let mut call = endpoint.start(Instant::now());
        assert_eq!(endpoint.in_flight.get(), 1);
        call.finish(Code::NotFound);
        call.finish(Code::Ok);
        drop(call);
        assert_eq!(endpoint.in_flight.get(), 0);
        let (not_found, histogram) = endpoint.handles(Code::NotFound);
        assert_eq!(not_found.get(), 1);
        assert_eq!(histogram.get_sample_count(), 1);
        assert_eq!(endpoint.handles(Code::Ok).0.get(), 0);
    }
}
