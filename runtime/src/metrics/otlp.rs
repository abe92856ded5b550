//! The RPC metrics sent over OTLP beside the Prometheus ones, when the service exports metrics
//! (see `docs/production.md`): two histograms named as OpenTelemetry's RPC conventions name
//! them, in seconds, with the Prometheus buckets.
//!
//! | metric | attributes |
//! |---|---|
//! | `rpc.server.call.duration` | `rpc.system`, `micro.service`, `micro.endpoint`, `micro.status`, `rpc.grpc.status_code` |
//! | `rpc.client.call.duration` | the same, of the called service |
//!
//! A histogram's count is the number of calls, so there is no separate counter; `micro.status`
//! is the Prometheus `status` label's value (Go's code name).

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter};

use super::BUCKETS;
use super::endpoint::status_name;
use crate::Code;

/// The histograms calls are recorded in.
pub(super) struct Instruments {
    server: Histogram<f64>,
    client: Histogram<f64>,
}

impl Instruments {
    pub(super) fn new(meter: &Meter) -> Instruments {
        let histogram = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(BUCKETS.to_vec())
                .build()
        };
        Instruments {
            server: histogram(
                "rpc.server.call.duration",
                "Time to serve a call, by endpoint and status.",
            ),
            client: histogram(
                "rpc.client.call.duration",
                "Time until a call's reply (a stream's first response), by target and status.",
            ),
        }
    }

    /// Records a call served by `service`'s `endpoint`.
    pub(super) fn served(&self, service: &Arc<str>, endpoint: &'static str, code: Code, secs: f64) {
        let attributes = attributes(service.clone(), endpoint, code);
        self.server.record(secs, &attributes);
    }

    /// Records a call made to `service`'s `endpoint`.
    pub(super) fn called(&self, service: &str, endpoint: &str, code: Code, secs: f64) {
        let attributes = attributes(Arc::from(service), endpoint.to_owned(), code);
        self.client.record(secs, &attributes);
    }
}

/// A call's attributes.
fn attributes(
    service: Arc<str>,
    endpoint: impl Into<opentelemetry::Value>,
    code: Code,
) -> [KeyValue; 5] {
    [
        KeyValue::new("rpc.system", "grpc"),
        KeyValue::new("micro.service", service),
        KeyValue::new("micro.endpoint", endpoint),
        KeyValue::new("micro.status", status_name(code)),
        KeyValue::new("rpc.grpc.status_code", i64::from(i32::from(code))),
    ]
}
