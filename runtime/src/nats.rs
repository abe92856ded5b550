//! The NATS connection the NATS broker and JetStream share: made on first use, named `micro`,
//! bounded by a timeout, then kept (async-nats reconnects by itself).

use std::time::Duration;

use async_nats::{Client, ConnectOptions, ServerAddr};
use tokio::sync::Mutex;

/// How long connecting, and each request to the server, may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// Why no connection could be made.
pub(crate) enum ConnectError {
    /// An address does not parse.
    Config(String),
    /// The servers cannot be reached.
    Unavailable(crate::BoxError),
}

/// A lazily made connection to the NATS servers at some addresses.
#[derive(Debug)]
pub(crate) struct Connector {
    servers: Vec<String>,
    address: String,
    client: Mutex<Option<Client>>,
}

impl Connector {
    /// For `addresses` (`host:port` or `nats://host:port`; none: `127.0.0.1:4222`).
    pub(crate) fn new(addresses: &[String]) -> Connector {
        let mut servers: Vec<String> = addresses.to_vec();
        if servers.is_empty() {
            servers.push("127.0.0.1:4222".to_owned());
        }
        let address = servers
            .iter()
            .map(|s| s.strip_prefix("nats://").unwrap_or(s))
            .collect::<Vec<_>>()
            .join(",");
        Connector {
            servers,
            address,
            client: Mutex::new(None),
        }
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
        let connect = ConnectOptions::new()
            .name("micro")
            .connection_timeout(TIMEOUT)
            .connect(servers);
        let connected = tokio::time::timeout(TIMEOUT, connect)
            .await
            .map_err(|_| ConnectError::Unavailable("timed out connecting".into()))?
            .map_err(|err| ConnectError::Unavailable(err.into()))?;
        *client = Some(connected.clone());
        Ok(connected)
    }

    /// The client, if connected, leaving none: the next use connects again.
    pub(crate) async fn take(&self) -> Option<Client> {
        self.client.lock().await.take()
    }
}
