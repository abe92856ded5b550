//! Transports: the bottom of the client stack, where requests meet connections.

use std::time::Duration;

use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use super::{Error, Transport};
use crate::Status;
use crate::codec::FrameLimit;
use crate::server::Body;

/// How long connecting may take before a call fails with `UNAVAILABLE`, as in go-micro.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A transport to one address over a lazily connected HTTP/2 channel that reconnects as needed.
pub(super) fn direct(address: &str, max_message_size: usize) -> Result<Transport, Error> {
    let uri = uri(address)?;
    let channel = tonic::transport::Endpoint::from_shared(uri.clone())
        .map_err(|err| Error::new(format!("invalid address `{address}`: {err}")))?
        .tcp_nodelay(true)
        .connect_timeout(CONNECT_TIMEOUT)
        .connect_lazy();
    let transport = channel
        .map_err(|err| Status::from_error(Box::new(err)))
        .map_response(move |response: http::Response<Body>| {
            response.map(|body| Body::new(FrameLimit::new(body, max_message_size)))
        });
    Ok(BoxCloneSyncService::new(transport))
}

/// `host:port` → `http://host:port`; `:port` → the local host.
fn uri(address: &str) -> Result<String, Error> {
    let uri = if address.contains("://") {
        address.to_owned()
    } else if let Some(port) = address.strip_prefix(':') {
        format!("http://127.0.0.1:{port}")
    } else {
        format!("http://{address}")
    };
    if uri.starts_with("https://") {
        return Err(Error::new(format!(
            "cannot call `{address}`: TLS is not supported yet; use an http:// address"
        )));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_http_uris() {
        assert_eq!(uri("127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(uri(":8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(uri("http://svc:1").unwrap(), "http://svc:1");
        assert!(uri("https://svc:1").is_err());
    }

    #[tokio::test]
    async fn a_malformed_address_is_an_error() {
        let err = direct("not an address", 1024).unwrap_err();
        assert!(
            err.to_string().contains("invalid address `not an address`"),
            "{err}"
        );
    }
}
