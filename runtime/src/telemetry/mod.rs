//! OpenTelemetry: spans of a service's server calls, client attempts, broker messages and
//! events, and its RPC metrics, sent with OTLP when the `otel` feature is on and the standard
//! `OTEL_*` variables ask for them.
//!
//! The spans take the ids of the calls' [`TraceContext`]s, so what `traceparent` carries, what
//! the log shows and what the trace store receives name the same spans.

#[cfg(feature = "otel")]
mod http;
mod messaging;
#[cfg(feature = "otel")]
mod otlp;
mod span;

use std::fmt;
#[cfg(feature = "otel")]
use std::sync::Arc;

pub(crate) use messaging::Message;
pub(crate) use span::{Kind, Span, TracedBody};

use crate::trace::TraceContext;

/// A service's span and metric exporter, shared by its server, client and subscribers; clones
/// share it. Without an exporter (the default) spans cost nothing and nothing is sent.
#[derive(Clone, Default)]
pub(crate) struct Telemetry {
    #[cfg(feature = "otel")]
    exporter: Option<Arc<otlp::Exporter>>,
}

impl Telemetry {
    /// The exporter the `OTEL_*` variables configure for the service `name` (instance `id`):
    /// spans when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set
    /// (unless `OTEL_TRACES_EXPORTER=none`), metrics when `OTEL_EXPORTER_OTLP_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is (unless `OTEL_METRICS_EXPORTER=none`); nothing
    /// when `OTEL_SDK_DISABLED=true`.
    pub(crate) fn from_env(name: &str, id: &str) -> Result<Telemetry, Error> {
        let signals = Signals::from_env();
        if !signals.traces && !signals.metrics {
            return Ok(Telemetry::default());
        }
        #[cfg(feature = "otel")]
        {
            let exporter = otlp::Exporter::from_env(name, id, signals)?;
            Ok(Telemetry {
                exporter: Some(Arc::new(exporter)),
            })
        }
        #[cfg(not(feature = "otel"))]
        {
            let _ = (name, id);
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "OTEL_EXPORTER_OTLP_ENDPOINT is set, but micro was built without its `otel` \
                     feature: spans and metrics are not exported; enable the feature to export \
                     them"
                )
            });
            Ok(Telemetry::default())
        }
    }

    /// Whether spans are exported.
    pub(crate) fn is_on(&self) -> bool {
        #[cfg(feature = "otel")]
        return self.exporter.as_ref().is_some_and(|e| e.traces());
        #[cfg(not(feature = "otel"))]
        false
    }

    /// The meter the service's RPC metrics are recorded with, if metrics are exported.
    #[cfg(feature = "otel")]
    pub(crate) fn meter(&self) -> Option<opentelemetry::metrics::Meter> {
        self.exporter.as_ref()?.meter()
    }

    /// Starts the span `trace` names (its trace, its id and its parent), of `kind`, named
    /// `name()`. `trace`'s sampled flag becomes the exporter's sampling decision.
    pub(crate) fn start(
        &self,
        kind: Kind,
        name: impl FnOnce() -> String,
        trace: &mut TraceContext,
    ) -> Span {
        #[cfg(feature = "otel")]
        if let Some(exporter) = self.exporter.as_ref().filter(|e| e.traces()) {
            let span = exporter.start(kind, name(), trace);
            *trace = trace.with_sampled(span.is_sampled());
            return span;
        }
        let _ = (kind, name, trace);
        Span::none()
    }

    /// Sends the spans still queued and the metrics recorded since the last export, and stops
    /// exporting (later spans and metrics are dropped).
    pub(crate) async fn shutdown(&self) {
        #[cfg(feature = "otel")]
        if let Some(exporter) = self.exporter.clone() {
            // Shutting down blocks until the queue is exported.
            let _ = tokio::task::spawn_blocking(move || exporter.shutdown()).await;
        }
    }
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("on", &self.is_on())
            .finish()
    }
}

/// Which signals the environment asks to export over OTLP.
#[derive(Debug, Clone, Copy)]
struct Signals {
    traces: bool,
    metrics: bool,
}

impl Signals {
    fn from_env() -> Signals {
        let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
        let is = |name: &str, value: &str| {
            std::env::var(name).is_ok_and(|set| set.trim().eq_ignore_ascii_case(value))
        };
        if is("OTEL_SDK_DISABLED", "true") {
            return Signals {
                traces: false,
                metrics: false,
            };
        }
        let anywhere = set("OTEL_EXPORTER_OTLP_ENDPOINT");
        Signals {
            traces: (anywhere || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
                && !is("OTEL_TRACES_EXPORTER", "none"),
            metrics: (anywhere || set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"))
                && !is("OTEL_METRICS_EXPORTER", "none"),
        }
    }
}

/// The OTLP exporter could not be set up as the `OTEL_*` variables say.
#[derive(Debug)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}
