//! Each attempt's exported span: a client span, the child of the call being served (or of the
//! `traceparent` the request came with), which the attempt's request then names as its
//! parent. It ends with the status the attempt got: at once when it failed or answered with
//! headers only, else when its response body's trailers arrive.

use super::CallTarget;
use super::retry::Outcome;
use crate::rpc::Body;
use crate::telemetry::{Kind, Span, Telemetry, TracedBody};
use crate::trace::{TRACEPARENT, TraceContext};

/// Starts attempt `retry` (0 for the first) of `request`, whose caller's `traceparent` was
/// `parent`, if the client exports spans.
pub(super) fn start(
    telemetry: &Telemetry,
    request: &mut http::Request<Body>,
    parent: Option<&http::HeaderValue>,
    retry: u32,
) -> Span {
    if !telemetry.is_on() {
        return Span::none();
    }
    let mut trace = TraceContext::continue_from(parent.and_then(|value| value.to_str().ok()));
    let path = request.uri().path().trim_start_matches('/');
    let mut span = telemetry.start(Kind::Client, || path.to_owned(), &mut trace);
    if span.is_recording() {
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        span.set("rpc.system", "grpc");
        span.set("rpc.service", service.to_owned());
        span.set("rpc.method", method.to_owned());
        span.set("micro.retry.attempt", i64::from(retry));
        if let Some(target) = request.extensions().get::<CallTarget>() {
            span.set("micro.service", target.service.to_string());
            span.set("micro.endpoint", target.method.endpoint);
        }
    }
    if let Ok(value) = http::HeaderValue::try_from(trace.traceparent()) {
        request
            .headers_mut()
            .insert(http::HeaderName::from_static(TRACEPARENT), value);
    }
    span
}

/// Ends `span` with `outcome`'s status, or hands it to the response body to end.
pub(super) fn finish(span: Span, outcome: Outcome) -> Outcome {
    if !span.is_recording() {
        return outcome;
    }
    match outcome {
        Outcome::Failed(failure) => {
            span.end_rpc(Kind::Client, Some(&failure.status));
            Outcome::Failed(failure)
        }
        // Headers only: the status is in them.
        Outcome::Done(response) if response.headers().contains_key("grpc-status") => {
            let status = tonic::Status::from_header_map(response.headers());
            let error = status.filter(|status| status.code() != tonic::Code::Ok);
            span.end_rpc(Kind::Client, error.as_ref());
            Outcome::Done(response)
        }
        Outcome::Done(response) => {
            Outcome::Done(response.map(|body| Body::new(TracedBody::new(body, span))))
        }
    }
}
