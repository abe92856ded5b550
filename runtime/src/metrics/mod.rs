//! Prometheus metrics: what every service counts about the calls it serves, served as text
//! (format 0.0.4) at `GET /metrics` on the service's port. See `docs/observability.md`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `micro_request_total` | counter | `service`, `endpoint`, `status` |
//! | `micro_request_duration_seconds` | histogram | `service`, `endpoint`, `status` |
//! | `micro_requests_in_flight` | gauge | `service`, `endpoint` |
//! | `micro_client_request_total` | counter | `service`, `endpoint`, `status` (of the target) |
//! | `micro_client_request_duration_seconds` | histogram | the same |
//!
//! `status` is the gRPC code's name as go-micro's Go clients print it (`OK`, `NotFound`,
//! `DeadlineExceeded`…), whichever protocol carried the call. Add metrics of your own to
//! [`Service::metrics_registry`](crate::Service::metrics_registry) to serve them beside these.
//!
//! With the `otel` feature, and `OTEL_EXPORTER_OTLP_ENDPOINT` set, the call durations are also
//! sent over OTLP (see `otlp.rs`); `/metrics` serves the same either way.

mod endpoint;
#[cfg(feature = "otel")]
mod otlp;

use std::sync::Arc;

pub use prometheus;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

pub(crate) use endpoint::{CallMetrics, EndpointMetrics};

/// The content type of the text exposition format.
pub(crate) const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Upper bounds of the duration buckets, in seconds: 0.5 ms to 10 s.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A service's registry and the metrics the server records in it. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    in_flight: IntGaugeVec,
    client_requests: IntCounterVec,
    client_durations: HistogramVec,
    /// The OTLP histograms, once the service exports metrics.
    #[cfg(feature = "otel")]
    otlp: std::sync::OnceLock<otlp::Instruments>,
}

impl Metrics {
    /// A new registry holding the server's metrics.
    pub(crate) fn new() -> Metrics {
        // The definitions are constants prometheus accepts, registered once into a new
        // registry: these cannot fail.
        const VALID: &str = "the server's metric definitions are valid";
        let labels = &["service", "endpoint", "status"];
        let requests = IntCounterVec::new(
            Opts::new(
                "micro_request_total",
                "Calls served, by endpoint and status.",
            ),
            labels,
        )
        .expect(VALID);
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "micro_request_duration_seconds",
                "Time to serve a call, by endpoint and status.",
            )
            .buckets(BUCKETS.to_vec()),
            labels,
        )
        .expect(VALID);
        let in_flight = IntGaugeVec::new(
            Opts::new("micro_requests_in_flight", "Calls being served."),
            &["service", "endpoint"],
        )
        .expect(VALID);
        let client_requests = IntCounterVec::new(
            Opts::new(
                "micro_client_request_total",
                "Calls made by the service's client, by target service, endpoint and status.",
            ),
            labels,
        )
        .expect(VALID);
        let client_durations = HistogramVec::new(
            HistogramOpts::new(
                "micro_client_request_duration_seconds",
                "Time until a call's reply (a stream's first response), by target and status.",
            )
            .buckets(BUCKETS.to_vec()),
            labels,
        )
        .expect(VALID);
        let registry = Registry::new();
        registry.register(Box::new(requests.clone())).expect(VALID);
        registry.register(Box::new(durations.clone())).expect(VALID);
        registry.register(Box::new(in_flight.clone())).expect(VALID);
        registry
            .register(Box::new(client_requests.clone()))
            .expect(VALID);
        registry
            .register(Box::new(client_durations.clone()))
            .expect(VALID);
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                durations,
                in_flight,
                client_requests,
                client_durations,
                #[cfg(feature = "otel")]
                otlp: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Records calls over OTLP too, with `telemetry`'s meter, if it exports metrics; the first
    /// call wins.
    pub(crate) fn export(&self, telemetry: &crate::telemetry::Telemetry) {
        #[cfg(feature = "otel")]
        if let Some(meter) = telemetry.meter() {
            let _ = self.inner.otlp.set(otlp::Instruments::new(&meter));
        }
        #[cfg(not(feature = "otel"))]
        let _ = telemetry;
    }

    /// The registry, for users' own metrics.
    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Counts a call the service's client made to `service`'s `endpoint`. Targets are only
    /// known per call, so this looks the series up by label (a hash lookup, no allocation once
    /// the series exists).
    pub(crate) fn client_call(
        &self,
        service: &str,
        endpoint: &str,
        code: crate::Code,
        elapsed: std::time::Duration,
    ) {
        let labels = [service, endpoint, endpoint::status_name(code)];
        let inner = &self.inner;
        inner.client_requests.with_label_values(&labels).inc();
        let duration = inner.client_durations.with_label_values(&labels);
        duration.observe(elapsed.as_secs_f64());
        #[cfg(feature = "otel")]
        if let Some(otlp) = inner.otlp.get() {
            otlp.called(service, endpoint, code, elapsed.as_secs_f64());
        }
    }

    /// Everything in the registry, in the text exposition format.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut text = Vec::with_capacity(4096);
        if let Err(err) =
            prometheus::TextEncoder::new().encode(&self.inner.registry.gather(), &mut text)
        {
            tracing::warn!(error = %err, "cannot encode the metrics");
        }
        text
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}
