//! Which browser origins may use the gateway from their pages: `fetch` and `EventSource`
//! (CORS headers) and WebSockets (the `Origin` check). By default only pages of the gateway's
//! own origin, because any page could otherwise call services with the gateway's `--token`
//! and read the replies; `micro gateway --cors-origin https://app.example.com` (or `*`) opens
//! it to others.

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, ORIGIN};
use http::{HeaderValue, Method, StatusCode};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use super::error::GatewayError;

/// How long browsers may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(2 * 60 * 60);

/// The origins, besides the gateway's own, whose pages may call it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origins {
    /// Only the gateway's own origin: no CORS headers, foreign WebSockets refused.
    #[default]
    Own,
    /// Any origin (`*`), without credentials.
    Any,
    /// These origins, e.g. `https://app.example.com`.
    List(Vec<String>),
}

impl Origins {
    /// `--cors-origin` values: none is [`Origins::Own`], `*` among them [`Origins::Any`];
    /// each other must be `scheme://host[:port]`, as browsers send it.
    pub fn parse(values: &[String]) -> anyhow::Result<Origins> {
        if values.is_empty() {
            return Ok(Origins::Own);
        }
        if values.iter().any(|value| value == "*") {
            return Ok(Origins::Any);
        }
        for value in values {
            let (scheme, host) = value.split_once("://").unwrap_or_default();
            let valid = matches!(scheme, "http" | "https")
                && !host.is_empty()
                && !host.contains('/')
                && HeaderValue::from_str(value).is_ok();
            anyhow::ensure!(
                valid,
                "invalid CORS origin `{value}`: expected scheme://host[:port] as a browser \
                 sends it, e.g. https://app.example.com (no path, no trailing slash), or `*`"
            );
        }
        Ok(Origins::List(values.to_vec()))
    }

    /// The CORS layer, unless only the gateway's own origin may call.
    pub(super) fn layer(&self) -> Option<CorsLayer> {
        let origin = match self {
            Origins::Own => return None,
            Origins::Any => AllowOrigin::any(),
            Origins::List(origins) => AllowOrigin::list(
                origins
                    .iter()
                    .filter_map(|origin| HeaderValue::from_str(origin).ok()),
            ),
        };
        let methods = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ];
        let layer = CorsLayer::new()
            .allow_origin(origin)
            .allow_methods(methods)
            .allow_headers(AllowHeaders::mirror_request())
            .max_age(PREFLIGHT_MAX_AGE);
        Some(layer)
    }

    /// Whether a page of `origin` (another than the gateway's) may open a WebSocket.
    pub(super) fn allow(&self, origin: &str) -> bool {
        match self {
            Origins::Own => false,
            Origins::Any => true,
            Origins::List(origins) => origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin)),
        }
    }
}

/// Without `--cors-origin`, answers a browser's CORS preflight with a 403 saying how to allow
/// its origin (it would otherwise reach the routes as a request: "no route for OPTIONS").
pub(super) async fn refuse_preflight(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let preflight =
        request.method() == Method::OPTIONS && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let Some(origin) = headers.get(ORIGIN).filter(|_| preflight) else {
        return next.run(request).await;
    };
    let origin = String::from_utf8_lossy(origin.as_bytes());
    let detail = format!(
        "cross-origin requests from {origin} are not allowed: start the gateway with \
         --cors-origin {origin} (or MICRO_GATEWAY_CORS_ORIGINS) to let its pages call"
    );
    GatewayError::new(StatusCode::FORBIDDEN, detail).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn origins_are_parsed_as_browsers_send_them() {
        assert_eq!(Origins::parse(&[]).unwrap(), Origins::Own);
        assert_eq!(
            Origins::parse(&strings(&["https://a.example", "*"])).unwrap(),
            Origins::Any
        );
        let list = strings(&["https://a.example", "http://localhost:3000"]);
        assert_eq!(Origins::parse(&list).unwrap(), Origins::List(list.clone()));
        for bad in [
            "a.example",
            "https://a.example/",
            "ftp://a.example",
            "https://",
        ] {
            let error = Origins::parse(&strings(&[bad])).unwrap_err().to_string();
            assert!(
                error.contains(bad) && error.contains("scheme://host"),
                "{error}"
            );
        }
    }

    #[test]
    fn sockets_follow_the_same_origins() {
        let list = Origins::List(strings(&["https://a.example"]));
        assert!(list.allow("https://A.example"));
        assert!(!list.allow("https://b.example"));
        assert!(Origins::Any.allow("https://b.example"));
        assert!(!Origins::Own.allow("https://a.example"));
        assert!(Origins::Own.layer().is_none());
    }
}
