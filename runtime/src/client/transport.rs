//! Transports: the bottom of the client stack, where requests meet connections.

use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use super::connection::Connection;
use super::{Error, Transport};
use crate::codec::FrameLimit;
use crate::server::Body;

/// A transport to one address over one lazily connected HTTP/2 connection.
pub(super) fn direct(address: &str, max_message_size: usize) -> Result<Transport, Error> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::new(
            "a micro::Client must be built inside a Tokio runtime (e.g. in #[tokio::main])",
        ));
    }
    let authority = authority(address)?;
    let transport =
        Connection::new(authority).map_response(move |response: http::Response<Body>| {
            response.map(|body| Body::new(FrameLimit::new(body, max_message_size)))
        });
    Ok(BoxCloneSyncService::new(transport))
}

/// `host:port`, `http://host:port` or `:port` (this host) → the `host:port` to dial.
fn authority(address: &str) -> Result<http::uri::Authority, Error> {
    let invalid = |detail: &str| Error::new(format!("invalid address `{address}`: {detail}"));
    let without_scheme = match address.split_once("://") {
        Some(("http", rest)) => rest,
        Some(("https", _)) => return Err(invalid("TLS is not supported yet; use http://")),
        Some((scheme, _)) => return Err(invalid(&format!("unsupported scheme `{scheme}`"))),
        None => address,
    };
    let host_port = match without_scheme.trim_end_matches('/').strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None => without_scheme.trim_end_matches('/').to_owned(),
    };
    let authority: http::uri::Authority = host_port
        .parse()
        .map_err(|_| invalid("expected host:port"))?;
    if authority.port_u16().is_none() {
        return Err(invalid("no port"));
    }
    Ok(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_authorities() {
        assert_eq!(authority("127.0.0.1:8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(authority(":8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(authority("http://svc:1/").unwrap(), "svc:1");
        assert_eq!(authority("[::1]:9").unwrap(), "[::1]:9");
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        for (address, detail) in [
            ("https://svc:1", "TLS is not supported"),
            ("ftp://svc:1", "unsupported scheme `ftp`"),
            ("svc", "no port"),
            ("not an address", "expected host:port"),
        ] {
            let err = authority(address).unwrap_err().to_string();
            assert!(err.contains(detail), "{address}: {err}");
        }
    }

    #[test]
    fn building_outside_a_runtime_is_an_error_not_a_panic() {
        let err = direct("127.0.0.1:1", 1024).unwrap_err();
        assert!(err.to_string().contains("inside a Tokio runtime"), "{err}");
    }
}
