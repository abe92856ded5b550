//! [`GatewayError`]: every failure answered as go-micro's error JSON
//! (`{"id","code","detail","status"}`) with the matching HTTP status.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use micro::Status;
use micro::errors::Error;

/// The `id` of errors the gateway raises itself (a service's errors carry the service's name).
pub(super) const GATEWAY_ID: &str = "micro.gateway";

/// An error answer.
#[derive(Debug, Clone)]
pub struct GatewayError(Error);

impl GatewayError {
    /// An error with HTTP status `code`, raised by the gateway.
    pub fn new(code: StatusCode, detail: impl Into<String>) -> GatewayError {
        GatewayError(Error::new(GATEWAY_ID, detail, i32::from(code.as_u16())))
    }

    /// 400: the request cannot be turned into a call.
    pub fn bad_request(detail: impl Into<String>) -> GatewayError {
        GatewayError::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404: nothing answers this path.
    pub fn not_found(detail: impl Into<String>) -> GatewayError {
        GatewayError::new(StatusCode::NOT_FOUND, detail)
    }

    /// The failed call's status: a go-micro error the service sent, as it sent it, else its
    /// gRPC code mapped to HTTP (`UNAVAILABLE` → 503, `DEADLINE_EXCEEDED` → 504, …).
    pub fn from_status(status: &Status, id: &str) -> GatewayError {
        GatewayError(Error::from_status(status, id))
    }

    /// The go-micro error.
    pub fn error(&self) -> &Error {
        &self.0
    }
}

/// A failure of the gateway's own work (reading descriptors, JSON ↔ protobuf), as
/// [`GatewayError::from_status`] with the gateway's id.
impl From<Status> for GatewayError {
    fn from(status: Status) -> GatewayError {
        GatewayError::from_status(&status, GATEWAY_ID)
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        if self.0.http_status().is_server_error() {
            tracing::warn!("gateway: {}", self.0.detail);
        }
        crate::reply::error(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use micro::Code;

    #[test]
    fn call_failures_map_to_http_statuses() {
        for (code, http) in [
            (Code::Unavailable, 503),
            (Code::DeadlineExceeded, 504),
            (Code::InvalidArgument, 400),
            (Code::NotFound, 404),
            (Code::PermissionDenied, 403),
            (Code::Unauthenticated, 401),
            (Code::Internal, 500),
        ] {
            let error = GatewayError::from_status(&Status::new(code, "why"), "svc");
            let response = error.clone().into_response();
            assert_eq!(response.status().as_u16(), http, "{code:?}");
            assert_eq!(error.error().detail, "why");
            assert_eq!(error.error().id, "svc");
        }
    }

    #[test]
    fn a_services_own_error_json_is_kept() {
        let sent = Error::new("greeter", "out of stock", 409);
        let error = GatewayError::from_status(&sent.to_status(), "greeter");
        assert_eq!(error.error(), &sent);
        assert_eq!(error.into_response().status(), StatusCode::CONFLICT);
    }
}
