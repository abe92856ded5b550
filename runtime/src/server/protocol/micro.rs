//! go-micro's HTTP calls: `POST` to any path with `Micro-Endpoint: Service.Method`, the body
//! one message (JSON or protobuf), errors as go-micro's error JSON.
//!
//! go-micro's own clients expect `200 OK` with the error only in a `Micro-Error` header; a person
//! using curl wants the status code and the error in the body. Requests that carry `Micro-Id`
//! (which go-micro clients always send) get the former, every other request the latter, and both
//! get the header. Responses echo the request's `Micro-*` headers, as go-micro's do.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use http_body_util::Full;

use super::MICRO_ENDPOINT_HEADERS;
use crate::Status;
use crate::codec::Format;
use crate::errors::Error as MicroError;
use crate::server::{Body, UnframedReply};

/// How a go-micro reply is written: go-micro's content types, and JSON ends with a newline
/// (go-micro writes it with `json.Encoder`).
pub(crate) fn reply(codec: Format) -> UnframedReply {
    match codec {
        Format::Protobuf => UnframedReply {
            codec,
            content_type: "application/protobuf",
            newline: false,
        },
        Format::Json => UnframedReply {
            codec,
            content_type: "application/json",
            newline: true,
        },
    }
}

/// The go-micro headers a response echoes, as go-micro's server does.
static ECHOED: [HeaderName; 8] = [
    HeaderName::from_static("micro-id"),
    HeaderName::from_static("micro-service"),
    HeaderName::from_static("micro-method"),
    HeaderName::from_static("micro-endpoint"),
    HeaderName::from_static("x-micro-id"),
    HeaderName::from_static("x-micro-service"),
    HeaderName::from_static("x-micro-method"),
    HeaderName::from_static("x-micro-endpoint"),
];

/// What a go-micro request says about itself, read in one pass over its headers.
pub(crate) struct Caller {
    /// The endpoint it calls, e.g. `Helloworld.Greeting`, with its header's rank in
    /// `MICRO_ENDPOINT_HEADERS` (go-micro reads them in that order).
    endpoint: Option<(usize, HeaderValue)>,
    /// The request's `Micro-*` headers, echoed on the response.
    echo: Vec<(HeaderName, HeaderValue)>,
    /// A go-micro client (it sends `Micro-Id`), rather than a person with curl.
    go_micro_client: bool,
}

impl Caller {
    pub(crate) fn of(headers: &HeaderMap) -> Caller {
        let mut caller = Caller {
            endpoint: None,
            echo: Vec::new(),
            go_micro_client: false,
        };
        for (name, value) in headers {
            if let Some(rank) = MICRO_ENDPOINT_HEADERS
                .iter()
                .position(|header| header == name)
                && caller
                    .endpoint
                    .as_ref()
                    .is_none_or(|(best, _)| rank < *best)
            {
                caller.endpoint = Some((rank, value.clone()));
            }
            if ECHOED.contains(name) {
                caller.go_micro_client |= name == "micro-id" || name == "x-micro-id";
                caller.echo.push((name.clone(), value.clone()));
            }
        }
        caller
    }

    /// The endpoint called, e.g. `Helloworld.Greeting` (empty if unreadable).
    pub(crate) fn endpoint(&self) -> &str {
        self.endpoint
            .as_ref()
            .and_then(|(_, value)| value.to_str().ok())
            .unwrap_or_default()
    }

    /// go-micro's response for a finished call; a failure becomes go-micro's error.
    pub(crate) fn response(
        &self,
        mut response: http::Response<Body>,
        service: &str,
    ) -> http::Response<Body> {
        match super::failure(&mut response) {
            Some(status) => self.error(&status, service),
            None => self.echoed(response),
        }
    }

    /// go-micro's error for `status`: raised by `service` unless it carries a go-micro error.
    pub(crate) fn error(&self, status: &Status, service: &str) -> http::Response<Body> {
        let error = MicroError::from_status(status, service);
        let json = error.to_json();
        let mut response = if self.go_micro_client {
            http::Response::new(Body::empty())
        } else {
            let body = Body::new(Full::new(Bytes::from(format!("{json}\n"))));
            let mut response = http::Response::new(body);
            *response.status_mut() = error.http_status();
            let content_type = HeaderValue::from_static("application/json");
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
            response
        };
        if let Ok(value) = HeaderValue::from_str(&json) {
            response.headers_mut().insert("micro-error", value.clone());
            response.headers_mut().insert("x-micro-error", value);
        }
        self.echoed(response)
    }

    fn echoed(&self, mut response: http::Response<Body>) -> http::Response<Body> {
        for (name, value) in &self.echo {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        response
    }
}
