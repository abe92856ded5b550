//! Listen addresses as go-micro writes them: `host:port`, `:port`, `[::1]:port`.

use std::fmt;
use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Why an address could not be listened on; `Display` says what to do.
#[derive(Debug)]
pub(crate) enum BindError {
    /// The address is malformed or does not resolve.
    Invalid(String),
    /// Every address it resolved to failed to bind (in use, not permitted).
    Io {
        message: String,
        source: std::io::Error,
    },
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::Invalid(message) | BindError::Io { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BindError::Invalid(_) => None,
            BindError::Io { source, .. } => Some(source),
        }
    }
}

/// Binds `address`, resolving host names; `:port` listens on every IPv4 interface.
pub(crate) async fn bind(address: &str) -> Result<TcpListener, BindError> {
    let candidates = resolve(address).await?;
    let mut last_error = None;
    for candidate in candidates {
        match TcpListener::bind(candidate).await {
            Ok(listener) => return Ok(listener),
            Err(err) => last_error = Some(err),
        }
    }
    let err = last_error.unwrap_or_else(|| std::io::Error::other("no address to bind"));
    Err(BindError::Io {
        message: format!(
            "cannot listen on {address}: {err}; free the port or pass another with \
             --server-address (port 0 picks a free one)"
        ),
        source: err,
    })
}

async fn resolve(address: &str) -> Result<Vec<SocketAddr>, BindError> {
    let address_with_host = match address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => address.to_owned(),
    };
    if let Ok(addr) = address_with_host.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let invalid = |detail: String| {
        BindError::Invalid(format!(
            "invalid server address `{address}`: {detail}; expected host:port, :port or [ipv6]:port"
        ))
    };
    if !address_with_host.contains(':') {
        return Err(invalid("no port".into()));
    }
    match tokio::net::lookup_host(&address_with_host).await {
        Ok(found) => Ok(found.collect()),
        Err(err) => Err(invalid(err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepts_go_micro_forms() {
        assert_eq!(
            resolve(":8080").await.unwrap(),
            ["0.0.0.0:8080".parse().unwrap()]
        );
        assert_eq!(
            resolve("127.0.0.1:0").await.unwrap(),
            ["127.0.0.1:0".parse().unwrap()]
        );
        assert_eq!(
            resolve("[::1]:9").await.unwrap(),
            ["[::1]:9".parse().unwrap()]
        );
        assert!(
            resolve("localhost:0")
                .await
                .unwrap()
                .iter()
                .all(|a| a.ip().is_loopback())
        );
    }

    #[tokio::test]
    async fn rejects_addresses_without_a_port() {
        let err = resolve("localhost").await.unwrap_err();
        assert!(matches!(err, BindError::Invalid(_)));
        assert!(err.to_string().contains("no port"), "{err}");
    }

    #[tokio::test]
    async fn a_taken_port_is_a_bind_error_naming_the_address() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = taken.local_addr().unwrap().to_string();
        let err = bind(&address).await.unwrap_err();
        assert!(matches!(err, BindError::Io { .. }));
        assert!(err.to_string().contains(&address), "{err}");
    }
}
