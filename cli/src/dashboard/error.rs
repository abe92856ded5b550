//! [`ApiError`]: how the dashboard's API fails, as go-micro's error JSON with a matching
//! HTTP status.

use axum::response::{IntoResponse, Response};
use micro::errors::Error;

/// The `id` of errors the dashboard itself reports.
pub(crate) const ID: &str = "micro.dashboard";

/// A go-micro error answered with its HTTP status.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) Error);

impl ApiError {
    /// The request was malformed; `detail` says how to fix it.
    pub(crate) fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError(Error::bad_request(ID, detail))
    }

    /// Nothing by that name; `detail` says where we looked.
    pub(crate) fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError(Error::not_found(ID, detail))
    }

    /// A gRPC status from a call to `id` (the service called).
    pub(crate) fn from_status(status: &micro::Status, id: &str) -> ApiError {
        ApiError(Error::from_status(status, id))
    }

    /// The registry could not be read.
    pub(crate) fn registry(error: &micro::registry::Error, label: &str) -> ApiError {
        ApiError(Error::new(
            ID,
            format!("cannot read the {label} registry: {error}"),
            503,
        ))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::reply::error(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_the_errors_http_status_and_json() {
        let response = ApiError::not_found("no such service").into_response();
        assert_eq!(response.status(), 404);
        let response = ApiError::from_status(&micro::Status::unavailable("down"), "helloworld")
            .into_response();
        assert_eq!(response.status(), 503);
    }
}
