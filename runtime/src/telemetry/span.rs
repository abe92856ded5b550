//! A span being recorded: its attributes, its end with a status, and the response body that
//! ends a client attempt's span when the call's status arrives.

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::Frame;
use pin_project_lite::pin_project;

use crate::rpc::Body;
use crate::{Code, Status};

/// What a span stands for, as OpenTelemetry's span kinds say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A call served.
    Server,
    /// One attempt of a call made.
    Client,
    /// A message published.
    Producer,
    /// A message delivered to a subscriber.
    Consumer,
}

/// An attribute's value.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "otel"), allow(dead_code))] // read by the exporter only
pub(crate) enum Value {
    Str(Cow<'static, str>),
    Int(i64),
}

impl From<&'static str> for Value {
    fn from(value: &'static str) -> Value {
        Value::Str(Cow::Borrowed(value))
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Str(Cow::Owned(value))
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Int(value)
    }
}

/// A span being recorded; it ends when dropped, or with a status by `end_*`. A span of a
/// service that exports nothing does nothing.
#[derive(Default)]
pub(crate) struct Span {
    #[cfg(feature = "otel")]
    inner: Option<opentelemetry_sdk::trace::Span>,
}

impl Span {
    /// A span that records nothing.
    pub(crate) fn none() -> Span {
        Span::default()
    }

    #[cfg(feature = "otel")]
    pub(super) fn new(inner: opentelemetry_sdk::trace::Span) -> Span {
        Span { inner: Some(inner) }
    }

    /// Whether attributes set on this span are kept: check before computing costly ones.
    pub(crate) fn is_recording(&self) -> bool {
        #[cfg(feature = "otel")]
        {
            use opentelemetry::trace::Span as _;
            self.inner.as_ref().is_some_and(|span| span.is_recording())
        }
        #[cfg(not(feature = "otel"))]
        false
    }

    /// Whether the sampler chose to export this span's trace.
    #[cfg(feature = "otel")]
    pub(super) fn is_sampled(&self) -> bool {
        use opentelemetry::trace::Span as _;
        self.inner
            .as_ref()
            .is_some_and(|span| span.span_context().is_sampled())
    }

    /// Sets the attribute `key`.
    pub(crate) fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        #[cfg(feature = "otel")]
        if let Some(span) = &mut self.inner {
            use opentelemetry::trace::Span as _;
            let value = match value.into() {
                Value::Str(text) => opentelemetry::Value::from(text),
                Value::Int(number) => opentelemetry::Value::I64(number),
            };
            span.set_attribute(opentelemetry::KeyValue::new(key, value));
        }
        #[cfg(not(feature = "otel"))]
        let _ = (key, value);
    }

    /// Marks the span failed with `message`.
    pub(crate) fn fail(&mut self, message: impl fmt::Display) {
        #[cfg(feature = "otel")]
        if let Some(span) = &mut self.inner {
            use opentelemetry::trace::Span as _;
            span.set_status(opentelemetry::trace::Status::error(message.to_string()));
        }
        #[cfg(not(feature = "otel"))]
        let _ = message;
    }

    /// Ends a call's span with its outcome: `rpc.grpc.status_code`, and an error status for
    /// what the semantic conventions count as failed (any error on a client; on a server only
    /// those that point at it, not the caller's mistakes).
    pub(crate) fn end_rpc(mut self, kind: Kind, error: Option<&Status>) {
        let code = error.map_or(Code::Ok, Status::code);
        self.set("rpc.grpc.status_code", i64::from(i32::from(code)));
        if let Some(status) = error
            && (kind != Kind::Server || server_fault(code))
        {
            self.fail(format_args!("{code:?}: {}", status.message()));
        }
    }
}

/// Codes that count as a server span's failure (OpenTelemetry's gRPC conventions).
fn server_fault(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

pin_project! {
    /// A response body that ends a client attempt's span with the status its trailers carry
    /// (or, cut off, with `UNAVAILABLE`), or when it is dropped unfinished.
    pub(crate) struct TracedBody {
        #[pin]
        inner: Body,
        span: Option<Span>,
    }
}

impl TracedBody {
    /// `inner`, ending `span` when its status arrives.
    pub(crate) fn new(inner: Body, span: Span) -> TracedBody {
        TracedBody {
            inner,
            span: Some(span),
        }
    }
}

impl http_body::Body for TracedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(span) = this.span.take()
                {
                    let status = Status::from_header_map(trailers);
                    span.end_rpc(
                        Kind::Client,
                        status.as_ref().filter(|s| s.code() != Code::Ok),
                    );
                }
            }
            Some(Err(status)) => {
                if let Some(span) = this.span.take() {
                    span.end_rpc(Kind::Client, Some(status));
                }
            }
            None => drop(this.span.take()),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
