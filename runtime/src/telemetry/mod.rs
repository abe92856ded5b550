//! OpenTelemetry spans of a service's server calls, client attempts and broker messages, sent
//! with OTLP when the `otel` feature is on and the standard `OTEL_*` variables ask for it.
//!
//! The spans take the ids of the calls' [`TraceContext`]s, so what `traceparent` carries, what
//! the log shows and what the trace store receives name the same spans.

#[cfg(feature = "otel")]
mod http;
#[cfg(feature = "otel")]
mod otlp;
mod span;

use std::fmt;
#[cfg(feature = "otel")]
use std::sync::Arc;

pub(crate) use span::{Kind, Span, TracedBody};

use crate::trace::TraceContext;

/// A service's span exporter, shared by its server, client and subscribers; clones share it.
/// Without an exporter (the default) spans cost nothing and nothing is sent.
#[derive(Clone, Default)]
pub(crate) struct Telemetry {
    #[cfg(feature = "otel")]
    exporter: Option<Arc<otlp::Exporter>>,
}

impl Telemetry {
    /// The exporter the `OTEL_*` variables configure for the service `name` (instance `id`):
    /// none unless `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
    /// set, and none when `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
    pub(crate) fn from_env(name: &str, id: &str) -> Result<Telemetry, Error> {
        if !otlp_requested() {
            return Ok(Telemetry::default());
        }
        #[cfg(feature = "otel")]
        {
            let exporter = otlp::Exporter::from_env(name, id)?;
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
                     feature: spans are not exported; enable the feature to export them"
                )
            });
            Ok(Telemetry::default())
        }
    }

    /// Whether spans are exported.
    pub(crate) fn is_on(&self) -> bool {
        #[cfg(feature = "otel")]
        return self.exporter.is_some();
        #[cfg(not(feature = "otel"))]
        false
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
        if let Some(exporter) = &self.exporter {
            let span = exporter.start(kind, name(), trace);
            *trace = trace.with_sampled(span.is_sampled());
            return span;
        }
        let _ = (kind, name, trace);
        Span::none()
    }

    /// Sends the spans still queued and stops exporting (later spans are dropped).
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

/// Whether the environment asks for OTLP trace export.
fn otlp_requested() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let is = |name: &str, value: &str| {
        std::env::var(name).is_ok_and(|set| set.trim().eq_ignore_ascii_case(value))
    };
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && !is("OTEL_SDK_DISABLED", "true")
        && !is("OTEL_TRACES_EXPORTER", "none")
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
