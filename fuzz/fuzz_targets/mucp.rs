#![no_main]
//! go-micro's RPC protocol (mucp) on both sides: the replies of go-micro nodes as micro's
//! client reads them (`client/mucp.rs`: the reply or `Micro-Error`, turned into a gRPC
//! response and read as a unary reply), and the headers of go-micro requests as micro's server
//! reads them (`server/protocol`: protocol, endpoint, timeout) with the error it answers.
//!
//! Input: a control byte (bit 0: reply or request; bits 1–4: the status code a request fails
//! with), then an HTTP head as text (for a reply, the status on the first line), a blank line,
//! and the body (a request's: the failure's message).
//!
//! Invariants: no panic. Replies: a `Micro-Error` header is the call's error, and the go-micro
//! error it holds comes back out of the status unchanged; otherwise a 2xx reply's body is the
//! reply message, byte for byte, whatever other headers say; a failed HTTP status without the
//! header reads the body as the error (its code the HTTP status when the body has none).
//! Requests: a go-micro endpoint header makes the request go-micro's (or refused), the endpoint
//! is the first header in go-micro's order, go-micro's `timeout` is whole nanoseconds or an
//! INVALID_ARGUMENT naming it, and the error answered is go-micro's error for the status, in
//! `Micro-Error` and (for curl, not for go-micro clients) in the body with its HTTP status.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use micro::errors::Error as MicroError;
use micro::{Code, Status, fuzzing};

/// go-micro's endpoint headers, in the order go-micro reads them.
const ENDPOINT_HEADERS: [&str; 4] = [
    "micro-endpoint",
    "x-micro-endpoint",
    "micro-method",
    "x-micro-method",
];

/// The head's lines as headers (`name: value`); lines that are no header are skipped, as a
/// client or server would refuse them.
fn headers<'a>(lines: impl Iterator<Item = &'a [u8]>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = line[colon + 1..].trim_ascii();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let (head, body) = match rest.windows(2).position(|pair| pair == b"\n\n") {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, &[][..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    match control & 1 {
        0 => {
            let status = lines
                .next()
                .and_then(|line| StatusCode::from_bytes(line.trim_ascii()).ok());
            let status = status.unwrap_or(StatusCode::OK);
            reply(status, headers(lines), Bytes::copy_from_slice(body));
        }
        _ => {
            let code = Code::from_i32(i32::from((control >> 1) & 0x0f) + 1);
            let message = String::from_utf8_lossy(body);
            request(&headers(lines), &Status::new(code, message.into_owned()));
        }
    }
});

fn reply(status: StatusCode, headers: HeaderMap, body: Bytes) {
    let micro_error = headers
        .get("micro-error")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .filter(|text| !text.is_empty());
    let result = fuzzing::mucp_reply(status, headers, body.clone());
    let expected = match (micro_error, status.is_success()) {
        (Some(text), _) => MicroError::parse(&text),
        (None, true) => {
            let message = result.unwrap_or_else(|status| {
                panic!(
                    "a {} reply of {} bytes failed: {status:?}",
                    status.code(),
                    body.len()
                )
            });
            assert_eq!(message, body, "the reply message is not the body");
            return;
        }
        (None, false) => {
            let mut error = MicroError::parse(&String::from_utf8_lossy(&body));
            if error.code == 0 {
                error.code = i32::from(status.as_u16());
            }
            error
        }
    };
    let status = result.expect_err("a go-micro error is the call's error");
    assert_eq!(
        MicroError::from_status(&status, "fuzz"),
        expected,
        "the go-micro error changed on its way through the client: {status:?}"
    );
}

fn request(headers: &HeaderMap, status: &Status) {
    let read = fuzzing::micro_request(headers);
    let first = ENDPOINT_HEADERS.iter().find_map(|name| headers.get(*name));
    if let Some(value) = first {
        assert!(
            read.format.is_some() || read.unsupported,
            "a request with a go-micro endpoint header was taken for another protocol"
        );
        assert_eq!(read.endpoint, value.to_str().unwrap_or_default());
    } else {
        assert!(read.endpoint.is_empty());
    }
    let other_timeout =
        headers.contains_key("grpc-timeout") || headers.contains_key("connect-timeout-ms");
    if let (false, Some(value)) = (other_timeout, headers.get("timeout")) {
        let text = value.to_str().unwrap_or_default();
        let nanos =
            (!text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse::<u64>().ok())
                .flatten();
        match (nanos, &read.timeout) {
            (Some(nanos), Ok(Some(timeout))) => assert_eq!(timeout.as_nanos(), u128::from(nanos)),
            (None, Err(status)) => {
                assert_eq!(status.code(), Code::InvalidArgument);
                assert!(status.message().contains("timeout header"), "{status:?}");
            }
            (nanos, timeout) => panic!("timeout `{text}`: expected {nanos:?} ns, read {timeout:?}"),
        }
    }

    let expected = MicroError::from_status(status, "fuzz");
    let (http_status, response_headers, body) = fuzzing::micro_error(headers, status, "fuzz");
    let json = expected.to_json();
    match response_headers.get("micro-error") {
        Some(value) => {
            let text = std::str::from_utf8(value.as_bytes()).expect("Micro-Error is UTF-8");
            assert_eq!(MicroError::parse(text), expected);
        }
        None => assert!(
            HeaderValue::from_str(&json).is_err(),
            "Micro-Error is missing"
        ),
    }
    let go_micro_client = headers.contains_key("micro-id") || headers.contains_key("x-micro-id");
    if go_micro_client {
        assert_eq!(
            http_status,
            StatusCode::OK,
            "go-micro clients read errors from the header"
        );
        assert!(body.is_empty());
    } else {
        assert_eq!(http_status, expected.http_status());
        assert_eq!(
            body,
            format!("{json}\n"),
            "curl reads the error from the body"
        );
    }
}
