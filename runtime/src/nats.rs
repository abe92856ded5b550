//! The NATS connection the NATS broker and JetStream share: made on first use, named `micro`,
//! over TLS when asked, bounded by a timeout, then kept (async-nats reconnects by itself).

use std::time::Duration;

use async_nats::{Client, ConnectErrorKind, ConnectOptions, ServerAddr};
use tokio::sync::Mutex;

use crate::BackendTls;

/// How long connecting, and each request to the server, may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// Why no connection could be made.
pub(crate) enum ConnectError {
    /// An address does not parse, a TLS file cannot be read, or the TLS handshake failed.
    Config(String),
    /// The servers cannot be reached.
    Unavailable(crate::BoxError),
}

/// A lazily made connection to the NATS servers at some addresses.
#[derive(Debug)]
pub(crate) struct Connector {
    servers: Vec<String>,
    address: String,
    /// TLS files, and the flags that give them (`--broker-tls`), named in errors.
    tls: Option<(BackendTls, &'static str)>,
    client: Mutex<Option<Client>>,
}

impl Connector {
    /// For `addresses` (`host:port`, `nats://host:port` or `tls://host:port`; none:
    /// `127.0.0.1:4222`).
    pub(crate) fn new(addresses: &[String]) -> Connector {
        let mut servers: Vec<String> = addresses.to_vec();
        if servers.is_empty() {
            servers.push("127.0.0.1:4222".to_owned());
        }
        let address = servers
            .iter()
            .map(|s| s.split_once("://").map_or(s.as_str(), |(_, rest)| rest))
            .collect::<Vec<_>>()
            .join(",");
        Connector {
            servers,
            address,
            tls: None,
            client: Mutex::new(None),
        }
    }

    /// Speaks TLS with `files` (given by `flags`, e.g. `--broker-tls`), or when an address is
    /// `tls://`.
    pub(crate) fn with_tls(mut self, files: BackendTls, flags: &'static str) -> Connector {
        self.tls = Some((files, flags));
        self
    }

    /// The servers, as errors name them: `host:port[,host:port…]`.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// The connected client, connecting first if needed.
    pub(crate) async fn client(&self) -> Result<Client, ConnectError> {
        let mut client = self.client.lock().await;
        if let Some(client) = client.as_ref() {
            return Ok(client.clone());
        }
        let servers = self
            .servers
            .iter()
            .map(|server| server.parse::<ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| {
                ConnectError::Config(format!("bad NATS address {}: {err}", self.address))
            })?;
        let mut options = ConnectOptions::new()
            .name("micro")
            .connection_timeout(TIMEOUT);
        let tls = self.tls.as_ref().filter(|(files, _)| {
            files.is_on() || self.servers.iter().any(|s| s.starts_with("tls://"))
        });
        if let Some((files, flags)) = tls {
            let config = crate::net::tls::backend::client_config(files, flags)
                .map_err(|err| ConnectError::Config(format!("TLS to NATS: {err}")))?;
            options = options.require_tls(true).tls_client_config(config);
        }
        let connected = tokio::time::timeout(TIMEOUT, options.connect(servers))
            .await
            .map_err(|_| ConnectError::Unavailable("timed out connecting".into()))?
            .map_err(|err| match tls {
                Some((_, flags)) if is_tls_failure(&err) => ConnectError::Config(format!(
                    "the TLS handshake with NATS at {} failed: {}; check {flags}-ca (the CA \
                     that signed the server's certificate) and {flags}-cert/{flags}-key (a \
                     client certificate the server trusts)",
                    self.address,
                    crate::error_shape::chain(&err),
                )),
                _ => ConnectError::Unavailable(err.into()),
            })?;
        *client = Some(connected.clone());
        Ok(connected)
    }

    /// The client, if connected, leaving none: the next use connects again.
    pub(crate) async fn take(&self) -> Option<Client> {
        self.client.lock().await.take()
    }
}

/// Whether connecting failed in the TLS handshake (a certificate not trusted, or refused).
fn is_tls_failure(err: &async_nats::ConnectError) -> bool {
    err.kind() == ConnectErrorKind::Tls || crate::net::tls::is_handshake_failure(err)
}
