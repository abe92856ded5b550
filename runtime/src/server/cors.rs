//! CORS for browsers calling the service directly (gRPC-Web, Connect, go-micro's JSON calls,
//! and the REST routes of its google.api.http rules).

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer, ExposeHeaders};

use super::Error;

/// Which browser origins may call the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cors {
    /// Any origin, without credentials (cookies): the default.
    #[default]
    AnyOrigin,
    /// Only these origins, e.g. `https://app.example.com`.
    Origins(Vec<String>),
    /// No CORS headers: browsers on other origins cannot call.
    Disabled,
}

/// The methods calls use: POST (every protocol), GET (Connect, server-stream events) and the
/// rest of google.api.http's (its rules answer PUT, PATCH and DELETE too).
const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// Response headers a browser client needs to read.
const EXPOSED: [&str; 8] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "connect-content-encoding",
    "micro-error",
    "micro-id",
    "micro-endpoint",
];

impl Cors {
    /// The layer that answers preflight requests and adds CORS headers, if enabled.
    pub(crate) fn layer(&self) -> Result<Option<CorsLayer>, Error> {
        let origin = match self {
            Cors::Disabled => return Ok(None),
            Cors::AnyOrigin => AllowOrigin::any(),
            Cors::Origins(origins) => AllowOrigin::list(
                origins
                    .iter()
                    .map(|origin| {
                        HeaderValue::from_str(origin).map_err(|_| {
                            Error::config(format!("invalid CORS origin `{origin}`: expected e.g. https://app.example.com"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let layer = CorsLayer::new()
            .allow_origin(origin)
            .allow_methods(METHODS)
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers(ExposeHeaders::list(EXPOSED.map(HeaderName::from_static)))
            .max_age(Duration::from_secs(2 * 60 * 60));
        Ok(Some(layer))
    }
}
