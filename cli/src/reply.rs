//! How the gateway, the dashboard and MCP's HTTP API answer a failure: go-micro's error JSON
//! (`{"id","code","detail","status"}`) with the error's HTTP status.

use axum::response::{IntoResponse, Response};
use http::header;
use micro::errors::Error;

/// `error` as an HTTP answer.
pub(crate) fn error(error: &Error) -> Response {
    (
        error.http_status(),
        [(header::CONTENT_TYPE, "application/json")],
        error.to_json(),
    )
        .into_response()
}
