//! Which request headers reach the service as call metadata.
//!
//! Passed through: `Authorization`, `X-Request-Id`, the W3C trace context (`traceparent`,
//! `tracestate`, `baggage`) and every `Micro-*` header (go-micro's metadata convention, e.g.
//! `Micro-Tenant`), lower-cased as gRPC metadata keys. Without an `Authorization` header the
//! gateway's own `--token`, if any, is sent.

use http::HeaderMap;
use micro::Call;

use crate::Env;

/// Headers passed through by name.
const PASSED: [&str; 5] = [
    "authorization",
    "x-request-id",
    "traceparent",
    "tracestate",
    "baggage",
];

/// Headers starting with this are passed through.
const MICRO_PREFIX: &str = "micro-";

/// Adds the headers to pass through to `call` as metadata.
pub(super) fn forward<T: Send + 'static>(env: &Env, headers: &HeaderMap, call: Call<T>) -> Call<T> {
    let mut call = call;
    for (name, value) in headers {
        let name = name.as_str();
        if !passed(name) {
            continue;
        }
        if let Ok(value) = value.to_str() {
            call = call.metadata(name, value);
        }
    }
    match headers.contains_key(http::header::AUTHORIZATION) {
        true => call,
        false => env.authorize(call),
    }
}

fn passed(name: &str) -> bool {
    PASSED.contains(&name) || name.starts_with(MICRO_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_headers_pass() {
        for name in [
            "authorization",
            "x-request-id",
            "traceparent",
            "micro-tenant",
        ] {
            assert!(passed(name), "{name}");
        }
        for name in [
            "host",
            "content-length",
            "cookie",
            "connection",
            "x-forwarded-for",
        ] {
            assert!(!passed(name), "{name}");
        }
    }
}
