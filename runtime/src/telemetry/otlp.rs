//! The OTLP exporter a service sends its spans with, configured by the standard `OTEL_*`
//! variables, running on a thread of its own.

use std::cell::Cell;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracer, SdkTracerProvider};

use super::http::Http;
use super::{Error, Kind, Span};
use crate::trace::TraceContext;

/// A service's tracer provider, with the runtime its exporter's connections run on (so that
/// exporting never waits on, nor blocks, the service's own runtime).
pub(super) struct Exporter {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Exporter {
    /// The exporter `OTEL_EXPORTER_OTLP_{TRACES_,}PROTOCOL` (`grpc` or `http/protobuf`, the
    /// default) names, sending to the endpoint the `OTEL_EXPORTER_OTLP_*` variables give, for
    /// the service `name` (unless `OTEL_SERVICE_NAME` names it), sampled as
    /// `OTEL_TRACES_SAMPLER` says.
    pub(super) fn from_env(name: &str, id: &str) -> Result<Exporter, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("micro-otlp")
            .enable_all()
            .build()
            .map_err(|err| Error(format!("cannot start the OTLP exporter's thread: {err}")))?;
        let exporter = {
            // tonic's channel spawns its connection task on the runtime it is built in.
            let _entered = runtime.enter();
            exporter(runtime.handle().clone())?
        };
        let provider = SdkTracerProvider::builder()
            .with_resource(resource(name, id))
            .with_id_generator(ChosenIds)
            .with_batch_exporter(exporter)
            .build();
        let tracer = provider.tracer("micro");
        Ok(Exporter {
            provider,
            tracer,
            runtime: Some(runtime),
        })
    }

    /// Starts the span with `trace`'s ids, the child of its parent (a remote span).
    pub(super) fn start(&self, kind: Kind, name: String, trace: &TraceContext) -> Span {
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
        let builder = self.tracer.span_builder(name).with_kind(kind);
        CHOSEN.set(Some((trace.trace_id().get(), trace.span_id().get())));
        let span = self.tracer.build_with_context(builder, &parent);
        CHOSEN.set(None);
        Span::new(span)
    }

    /// Exports what is queued and stops; blocks until done.
    pub(super) fn shutdown(&self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "flushing spans to the OTLP endpoint failed");
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

/// The span exporter for the configured protocol.
fn exporter(runtime: tokio::runtime::Handle) -> Result<SpanExporter, Error> {
    let protocol = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .iter()
    .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    .unwrap_or_else(|| "http/protobuf".to_owned());
    let built = match protocol.trim() {
        "grpc" => SpanExporter::builder()
            .with_tonic()
            .with_protocol(Protocol::Grpc)
            .build(),
        "http/protobuf" => SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_http_client(Http::new(runtime))
            .build(),
        other => {
            return Err(Error(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL `{other}` is not supported; use `grpc` or \
                 `http/protobuf`"
            )));
        }
    };
    built.map_err(|err| Error(format!("cannot set up the OTLP exporter: {err}")))
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
