//! The OTLP exporters a service sends its spans and metrics with, configured by the standard
//! `OTEL_*` variables, running on a thread of their own.

use std::cell::Cell;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{
    MetricExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracer, SdkTracerProvider};

use super::http::Http;
use super::{Error, Kind, Signals, Span};
use crate::trace::TraceContext;

/// A service's tracer and meter providers (each only if its signal is exported), with the
/// runtime their exporters' connections run on (so that exporting never waits on, nor blocks,
/// the service's own runtime).
pub(super) struct Exporter {
    tracing: Option<(SdkTracerProvider, SdkTracer)>,
    meters: Option<(SdkMeterProvider, Meter)>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Exporter {
    /// The exporters `OTEL_EXPORTER_OTLP_{TRACES_,METRICS_,}PROTOCOL` (`grpc` or
    /// `http/protobuf`, the default) name for the `signals` asked for, sending to the endpoints
    /// the `OTEL_EXPORTER_OTLP_*` variables give, for the service `name` (unless
    /// `OTEL_SERVICE_NAME` names it); spans sampled as `OTEL_TRACES_SAMPLER` says, metrics
    /// sent every `OTEL_METRIC_EXPORT_INTERVAL` milliseconds (default 60000).
    pub(super) fn from_env(name: &str, id: &str, signals: Signals) -> Result<Exporter, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("micro-otlp")
            .enable_all()
            .build()
            .map_err(|err| Error(format!("cannot start the OTLP exporter's thread: {err}")))?;
        // tonic's channel spawns its connection task on the runtime it is built in.
        let entered = runtime.enter();
        let resource = resource(name, id);
        let tracing = match signals.traces {
            true => {
                let provider = SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .with_id_generator(ChosenIds)
                    .with_batch_exporter(span_exporter(runtime.handle().clone())?)
                    .build();
                let tracer = provider.tracer("micro");
                Some((provider, tracer))
            }
            false => None,
        };
        let meters = match signals.metrics {
            true => {
                let exporter = metric_exporter(runtime.handle().clone())?;
                let provider = SdkMeterProvider::builder()
                    .with_resource(resource)
                    .with_reader(PeriodicReader::builder(exporter).build())
                    .build();
                let meter = provider.meter("micro");
                Some((provider, meter))
            }
            false => None,
        };
        drop(entered);
        Ok(Exporter {
            tracing,
            meters,
            runtime: Some(runtime),
        })
    }

    /// Whether spans are exported.
    pub(super) fn traces(&self) -> bool {
        self.tracing.is_some()
    }

    /// The meter metrics are recorded with, if they are exported.
    pub(super) fn meter(&self) -> Option<Meter> {
        self.meters.as_ref().map(|(_, meter)| meter.clone())
    }

    /// Starts the span with `trace`'s ids, the child of its parent (a remote span); one that
    /// records nothing if spans are not exported.
    pub(super) fn start(&self, kind: Kind, name: String, trace: &TraceContext) -> Span {
        let Some((_, tracer)) = &self.tracing else {
            return Span::none();
        };
        let parent = match trace.parent_id() {
            Some(parent) => Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from(trace.trace_id().get()),
                SpanId::from(parent.get()),
                TraceFlags::new(trace.flags()),
                true,
                TraceState::default(),
            )),
            None => Context::new(),
        };
        let kind = match kind {
            Kind::Server => opentelemetry::trace::SpanKind::Server,
            Kind::Client => opentelemetry::trace::SpanKind::Client,
            Kind::Producer => opentelemetry::trace::SpanKind::Producer,
            Kind::Consumer => opentelemetry::trace::SpanKind::Consumer,
        };
        let builder = tracer.span_builder(name).with_kind(kind);
        CHOSEN.set(Some((trace.trace_id().get(), trace.span_id().get())));
        let span = tracer.build_with_context(builder, &parent);
        CHOSEN.set(None);
        Span::new(span)
    }

    /// Exports the queued spans and the metrics recorded, and stops; blocks until done.
    pub(super) fn shutdown(&self) {
        if let Some((provider, _)) = &self.tracing
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "flushing spans to the OTLP endpoint failed");
        }
        if let Some((provider, _)) = &self.meters
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "flushing metrics to the OTLP endpoint failed");
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Dropped in async code too, where waiting for its tasks is not allowed.
            runtime.shutdown_background();
        }
    }
}

/// The protocol `OTEL_EXPORTER_OTLP_{signal}_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`,
/// names (default `http/protobuf`).
fn protocol(signal: &str) -> Result<Protocol, Error> {
    let specific = format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL");
    let (name, value) = [specific.as_str(), "OTEL_EXPORTER_OTLP_PROTOCOL"]
        .into_iter()
        .find_map(|name| {
            let value = std::env::var(name).ok()?;
            (!value.trim().is_empty()).then_some((name, value))
        })
        .unwrap_or(("", "http/protobuf".to_owned()));
    match value.trim() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpBinary),
        other => Err(Error(format!(
            "{name} `{other}` is not supported; use `grpc` or `http/protobuf`"
        ))),
    }
}

/// The span exporter for the configured protocol.
fn span_exporter(runtime: tokio::runtime::Handle) -> Result<SpanExporter, Error> {
    let built = match protocol("TRACES")? {
        Protocol::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_protocol(Protocol::Grpc)
            .build(),
        _ => SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_http_client(Http::new(runtime))
            .build(),
    };
    built.map_err(|err| Error(format!("cannot set up the OTLP span exporter: {err}")))
}

/// The metric exporter for the configured protocol (cumulative unless
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` says otherwise).
fn metric_exporter(runtime: tokio::runtime::Handle) -> Result<MetricExporter, Error> {
    let built = match protocol("METRICS")? {
        Protocol::Grpc => MetricExporter::builder()
            .with_tonic()
            .with_protocol(Protocol::Grpc)
            .build(),
        _ => MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_http_client(Http::new(runtime))
            .build(),
    };
    built.map_err(|err| Error(format!("cannot set up the OTLP metric exporter: {err}")))
}

/// `service.name` (`name`, unless the environment names the service), `service.instance.id`,
/// and what `OTEL_RESOURCE_ATTRIBUTES` adds.
fn resource(name: &str, id: &str) -> Resource {
    let named_by_env = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES")
            .is_ok_and(|attributes| attributes.contains("service.name="));
    let mut builder =
        Resource::builder().with_attribute(KeyValue::new("service.instance.id", id.to_owned()));
    if !named_by_env {
        builder = builder.with_service_name(name.to_owned());
    }
    builder.build()
}

thread_local! {
    /// The trace and span id the span being built on this thread takes.
    static CHOSEN: Cell<Option<(u128, u64)>> = const { Cell::new(None) };
}

/// Gives the span being built the ids [`Exporter::start`] chose (its [`TraceContext`]'s);
/// random ones otherwise.
#[derive(Debug)]
struct ChosenIds;

impl IdGenerator for ChosenIds {
    fn new_trace_id(&self) -> TraceId {
        match CHOSEN.get() {
            Some((trace, _)) => TraceId::from(trace),
            None => RandomIdGenerator::default().new_trace_id(),
        }
    }

    fn new_span_id(&self) -> SpanId {
        match CHOSEN.get() {
            Some((_, span)) => SpanId::from(span),
            None => RandomIdGenerator::default().new_span_id(),
        }
    }
}
