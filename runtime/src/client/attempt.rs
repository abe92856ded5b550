//! Each attempt's exported span: a client span, the child of the call being served (or of the
//! `traceparent` the request came with), which the attempt's request then names as its
//! parent. It ends with the status the attempt got: at once when it failed or answered with
//! headers only, else when its response body's trailers arrive. Its `server.address` and
//! `server.port` name the node the attempt went to, which the connection sending it records.

use std::sync::{Arc, OnceLock};

use super::CallTarget;
use super::retry::Outcome;
use crate::rpc::Body;
use crate::telemetry::{Kind, Span, Telemetry, TracedBody};
use crate::trace::{TRACEPARENT_HEADER, TraceContext};

/// An attempt's span, and the node it went to once that is known.
pub(super) struct Attempt {
    span: Span,
    peer: Option<Peer>,
}

/// Where the connection that sends an attempt records the node's address (`host:port`): a
/// request extension while the attempt's span records.
#[derive(Debug, Clone, Default)]
pub(super) struct Peer(Arc<OnceLock<String>>);

impl Peer {
    /// Records that `request` goes to `address` (`host:port`), if its attempt wants to know.
    pub(super) fn record(request: &http::Request<Body>, address: &str) {
        if let Some(peer) = request.extensions().get::<Peer>() {
            let _ = peer.0.set(address.to_owned());
        }
    }

    /// Sets `server.address` and `server.port` on `span`, if the node is known.
    fn label(&self, span: &mut Span) {
        let Some(address) = self.0.get() else {
            return;
        };
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().ok()),
            None => (address.as_str(), None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        span.set("server.address", host.to_owned());
        if let Some(port) = port {
            span.set("server.port", i64::from(port));
        }
    }
}

/// Starts attempt `retry` (0 for the first) of `request`, whose caller's `traceparent` was
/// `parent`, if the client exports spans.
pub(super) fn start(
    telemetry: &Telemetry,
    request: &mut http::Request<Body>,
    parent: Option<&http::HeaderValue>,
    retry: u32,
) -> Attempt {
    if !telemetry.is_on() {
        return Attempt {
            span: Span::none(),
            peer: None,
        };
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
            .insert(TRACEPARENT_HEADER.clone(), value);
    }
    let peer = span.is_recording().then(Peer::default);
    if let Some(peer) = &peer {
        request.extensions_mut().insert(peer.clone());
    }
    Attempt { span, peer }
}

/// Ends `attempt`'s span with `outcome`'s status, or hands it to the response body to end.
pub(super) fn finish(attempt: Attempt, outcome: Outcome) -> Outcome {
    let Attempt { mut span, peer } = attempt;
    if !span.is_recording() {
        return outcome;
    }
    if let Some(peer) = peer {
        peer.label(&mut span);
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
