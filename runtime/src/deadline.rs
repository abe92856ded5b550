//! Deadlines on the wire: `grpc-timeout` (written by clients, read by servers), and, read only,
//! Connect's `connect-timeout-ms` and go-micro's `timeout` (nanoseconds).

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::Status;

/// gRPC's deadline header.
pub(crate) static GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
static CONNECT_TIMEOUT: HeaderName = HeaderName::from_static("connect-timeout-ms");
static GO_MICRO_TIMEOUT: HeaderName = HeaderName::from_static("timeout");

/// Encodes a timeout as `grpc-timeout` does: at most 8 digits, in the finest unit that fits,
/// rounded up so the server never sees a shorter deadline than the client keeps.
pub(crate) fn encode(timeout: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    let (value, unit) = units
        .iter()
        .map(|&(size, unit)| (nanos.div_ceil(size), unit))
        .find(|&(value, _)| value <= MAX)
        .unwrap_or((MAX, 'H'));
    let text = format!("{value}{unit}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("99999999H"))
}

/// The timeout the caller asked for, if any: `grpc-timeout`, Connect's `connect-timeout-ms`,
/// or go-micro's `timeout` (nanoseconds). A malformed header is the caller's error.
pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Option<Duration>, Status> {
    // One pass over the headers rather than three lookups: this runs on every call. A header
    // sent twice counts once, its first value, as `HeaderMap::get` and Go's `Header.Get` read it.
    let (mut grpc, mut connect, mut go_micro) = (None, None, None);
    for (name, value) in headers {
        let slot = if *name == GRPC_TIMEOUT {
            &mut grpc
        } else if *name == CONNECT_TIMEOUT {
            &mut connect
        } else if *name == GO_MICRO_TIMEOUT {
            &mut go_micro
        } else {
            continue;
        };
        slot.get_or_insert(value);
    }
    if let Some(text) = grpc.map(|value| value.to_str().unwrap_or_default()) {
        return parse_grpc_timeout(text).map(Some).ok_or_else(|| {
            malformed(
                "grpc-timeout",
                text,
                "up to 8 digits and a unit (H, M, S, m, u, n), e.g. `500m`",
            )
        });
    }
    if let Some(text) = connect.map(|value| value.to_str().unwrap_or_default()) {
        return parse_digits(text, 10)
            .map(|ms| Some(Duration::from_millis(ms)))
            .ok_or_else(|| malformed("connect-timeout-ms", text, "milliseconds, up to 10 digits"));
    }
    if let Some(text) = go_micro.map(|value| value.to_str().unwrap_or_default()) {
        return parse_digits(text, 20)
            .map(|ns| Some(Duration::from_nanos(ns)))
            .ok_or_else(|| malformed("timeout", text, "nanoseconds as a whole number"));
    }
    Ok(None)
}

fn parse_digits(text: &str, max_digits: usize) -> Option<u64> {
    let valid =
        !text.is_empty() && text.len() <= max_digits && text.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| text.parse().ok()).flatten()
}

fn malformed(header: &str, text: &str, expected: &str) -> Status {
    Status::invalid_argument(format!(
        "malformed {header} header `{text}`: expected {expected}"
    ))
}

/// Parses gRPC's `TimeoutValue TimeoutUnit`, e.g. `100m` for 100 ms.
fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    let digits = text.get(..text.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match &text[digits.len()..] {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        let cases = [
            ("2H", Duration::from_secs(7200)),
            ("3M", Duration::from_secs(180)),
            ("4S", Duration::from_secs(4)),
            ("500m", Duration::from_millis(500)),
            ("99999999u", Duration::from_micros(99_999_999)),
            ("1n", Duration::from_nanos(1)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_grpc_timeout(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_values() {
        for text in ["", "m", "123456789m", "10", "10x", "-1S", "1.5S", "１S"] {
            assert_eq!(parse_grpc_timeout(text), None, "{text}");
        }
    }

    /// Found by the `mucp` fuzz target: of two `timeout` headers the last counted, where
    /// go-micro (Go's `Header.Get`) reads the first.
    #[test]
    fn a_timeout_sent_twice_counts_its_first_value() {
        let mut headers = HeaderMap::new();
        headers.append("timeout", "3000000".parse().unwrap());
        headers.append("timeout", "soon".parse().unwrap());
        headers.append("grpc-timeout", "5m".parse().unwrap());
        headers.append("grpc-timeout", "7m".parse().unwrap());
        assert_eq!(
            from_headers(&headers).unwrap(),
            Some(Duration::from_millis(5))
        );
        headers.remove("grpc-timeout");
        assert_eq!(
            from_headers(&headers).unwrap(),
            Some(Duration::from_millis(3))
        );
    }

    #[test]
    fn go_micro_timeout_is_nanoseconds_and_grpc_timeout_wins() {
        let mut headers = HeaderMap::new();
        headers.insert("timeout", "2000000".parse().unwrap());
        assert_eq!(
            from_headers(&headers).unwrap(),
            Some(Duration::from_millis(2))
        );
        headers.insert("grpc-timeout", "1S".parse().unwrap());
        assert_eq!(
            from_headers(&headers).unwrap(),
            Some(Duration::from_secs(1))
        );
        headers.insert("grpc-timeout", "soon".parse().unwrap());
        assert_eq!(
            from_headers(&headers).unwrap_err().code(),
            crate::Code::InvalidArgument
        );
    }
}
