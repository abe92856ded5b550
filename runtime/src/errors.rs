//! go-micro's error format, `{"id","code","detail","status"}`, and its mapping to gRPC statuses.
//!
//! go-micro services return these errors, and its clients parse them from a status's details,
//! its message, or a `Micro-Error` header. Return one from a handler to answer as go-micro would:
//!
//! ```
//! use micro::errors::Error;
//!
//! let status: micro::Status = Error::not_found("helloworld", "no user alice").into();
//! assert_eq!(status.code(), micro::Code::NotFound);
//! assert_eq!(Error::from_status(&status, "x").detail, "no user alice");
//! ```

use std::fmt;

use bytes::Bytes;
use http::StatusCode;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::{Code, Status};

/// A go-micro error. `code` is an HTTP status code; `status` its reason phrase.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Error {
    /// Who raised it, e.g. `go.micro.client` or a service name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// HTTP status code.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i32,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The code's reason phrase, e.g. `Not Found`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
}

fn is_zero(code: &i32) -> bool {
    *code == 0
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(id: impl Into<String>, detail: impl Into<String>) -> Error {
                Error::new(id, detail, $code.as_u16() as i32)
            }
        )*
    };
}

impl Error {
    /// An error with any HTTP status code.
    pub fn new(id: impl Into<String>, detail: impl Into<String>, code: i32) -> Error {
        let status = u16::try_from(code)
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .and_then(|code| code.canonical_reason())
            .unwrap_or_default();
        Error {
            id: id.into(),
            code,
            detail: detail.into(),
            status: status.to_owned(),
        }
    }

    constructors! {
        /// 400: the request is malformed.
        bad_request => StatusCode::BAD_REQUEST;
        /// 401: the caller is not authenticated.
        unauthorized => StatusCode::UNAUTHORIZED;
        /// 403: the caller may not do this.
        forbidden => StatusCode::FORBIDDEN;
        /// 404: the thing asked for does not exist.
        not_found => StatusCode::NOT_FOUND;
        /// 405: the method is not allowed.
        method_not_allowed => StatusCode::METHOD_NOT_ALLOWED;
        /// 408: the call took too long.
        timeout => StatusCode::REQUEST_TIMEOUT;
        /// 409: the request conflicts with the current state.
        conflict => StatusCode::CONFLICT;
        /// 500: the server failed.
        internal_server_error => StatusCode::INTERNAL_SERVER_ERROR;
    }

    /// Parses go-micro's JSON; text that is not an error JSON becomes the detail, as go-micro's
    /// `errors.Parse` does.
    pub fn parse(text: &str) -> Error {
        match serde_json::from_str::<Error>(text) {
            Ok(error) if error != Error::default() => error,
            _ => Error {
                detail: text.to_owned(),
                ..Error::default()
            },
        }
    }

    /// The HTTP status to answer with: the error's code when it is an error status (4xx, 5xx),
    /// else 500.
    pub fn http_status(&self) -> StatusCode {
        u16::try_from(self.code)
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .filter(|code| code.as_u16() >= 400)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error JSON, as go-micro's `Error()` returns it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The go-micro error carried by `status`: from its details or JSON message when a go-micro
    /// service sent it, otherwise built from its code and message with `id`.
    pub fn from_status(status: &Status, id: &str) -> Error {
        if let Some(error) = from_details(status.details()) {
            return error;
        }
        let parsed = Error::parse(status.message());
        if parsed.code != 0 {
            return parsed;
        }
        Error::new(
            id,
            status.message(),
            i32::from(http_status(status.code()).as_u16()),
        )
    }

    /// The gRPC status go-micro's gRPC server sends for this error: the mapped code, the JSON
    /// as message, and the error in the details.
    pub fn to_status(&self) -> Status {
        let json = self.to_json();
        let details = rpc::Status {
            code: grpc_code(self.code) as i32,
            message: json.clone(),
            details: vec![prost_types::Any {
                type_url: rpc::ERROR_TYPE_URL.to_owned(),
                value: rpc::Error::from(self).encode_to_vec(),
            }],
        };
        Status::with_details(
            grpc_code(self.code),
            json,
            Bytes::from(details.encode_to_vec()),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl std::error::Error for Error {}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        error.to_status()
    }
}

/// A gRPC code's name as Connect spells it (gRPC's, lowercase; `canceled`), e.g. `not_found`.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status for a gRPC code, as gRPC-gateway and Connect map them.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The gRPC code for an HTTP status, as go-micro's gRPC server maps it.
pub fn grpc_code(http: i32) -> Code {
    match http {
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        408 => Code::DeadlineExceeded,
        409 => Code::AlreadyExists,
        412 => Code::FailedPrecondition,
        500 => Code::Internal,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

fn from_details(details: &[u8]) -> Option<Error> {
    let status = rpc::Status::decode(details).ok()?;
    let any = status
        .details
        .into_iter()
        .find(|any| any.type_url == rpc::ERROR_TYPE_URL)?;
    let error = rpc::Error::decode(any.value.as_slice()).ok()?;
    Some(Error {
        id: error.id,
        code: error.code,
        detail: error.detail,
        status: error.status,
    })
}

/// The protobuf forms: `google.rpc.Status` (gRPC's details) and go-micro's `errors.Error`.
mod rpc {
    pub(super) const ERROR_TYPE_URL: &str = "type.googleapis.com/errors.Error";

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Status {
        #[prost(int32, tag = "1")]
        pub(super) code: i32,
        #[prost(string, tag = "2")]
        pub(super) message: String,
        #[prost(message, repeated, tag = "3")]
        pub(super) details: Vec<prost_types::Any>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Error {
        #[prost(string, tag = "1")]
        pub(super) id: String,
        #[prost(int32, tag = "2")]
        pub(super) code: i32,
        #[prost(string, tag = "3")]
        pub(super) detail: String,
        #[prost(string, tag = "4")]
        pub(super) status: String,
    }

    impl From<&super::Error> for Error {
        fn from(error: &super::Error) -> Error {
            Error {
                id: error.id.clone(),
                code: error.code,
                detail: error.detail.clone(),
                status: error.status.clone(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_go_micros_keys_and_omits_empty_fields() {
        let error = Error::not_found("helloworld", "no user alice");
        assert_eq!(
            error.to_json(),
            r#"{"id":"helloworld","code":404,"detail":"no user alice","status":"Not Found"}"#
        );
        assert_eq!(
            Error {
                detail: "x".into(),
                ..Error::default()
            }
            .to_json(),
            r#"{"detail":"x"}"#
        );
    }

    #[test]
    fn parse_reads_json_and_falls_back_to_detail() {
        let json = r#"{"id":"go.micro.client","code":408,"detail":"call timeout","status":"Request Timeout"}"#;
        assert_eq!(
            Error::parse(json),
            Error::timeout("go.micro.client", "call timeout")
        );
        assert_eq!(
            Error::parse("boom"),
            Error {
                detail: "boom".into(),
                ..Error::default()
            }
        );
    }

    #[test]
    fn status_round_trip_keeps_the_error() {
        let error = Error::forbidden("auth", "access denied to Helloworld.Greeting");
        let status = error.to_status();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(status.message(), error.to_json());
        assert_eq!(Error::from_status(&status, "ignored"), error);
    }

    #[test]
    fn a_plain_status_maps_its_code() {
        let status = Status::unavailable("no nodes");
        let error = Error::from_status(&status, "go.micro.client");
        assert_eq!(error, Error::new("go.micro.client", "no nodes", 503));
        assert_eq!(error.status, "Service Unavailable");
    }

    #[test]
    fn every_go_micro_code_maps_to_grpc_and_back() {
        for (http, code) in [
            (400, Code::InvalidArgument),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::NotFound),
            (409, Code::AlreadyExists),
            (500, Code::Internal),
            (501, Code::Unimplemented),
            (503, Code::Unavailable),
        ] {
            assert_eq!(grpc_code(http), code);
            assert_eq!(i32::from(http_status(code).as_u16()), http);
        }
        assert_eq!(grpc_code(418), Code::Unknown);
    }
}
