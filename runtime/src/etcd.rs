//! What the etcd backends (registry, config, sync) share: endpoints as go-micro takes them,
//! credentials from the environment, and connecting within a bounded time.

use std::future::Future;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use tokio::sync::OnceCell;

/// How long connecting, or one request, may take, as in go-micro.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// `host:port` endpoints: `http://` dropped, port 2379 when missing, `127.0.0.1:2379` when
/// none are given.
pub(crate) fn endpoints(addresses: &[String]) -> Vec<String> {
    let mut endpoints: Vec<String> = addresses
        .iter()
        .map(|address| {
            let address = address.trim_start_matches("http://");
            if address.contains(':') {
                address.to_owned()
            } else {
                format!("{address}:2379")
            }
        })
        .collect();
    if endpoints.is_empty() {
        endpoints.push("127.0.0.1:2379".to_owned());
    }
    endpoints
}

/// User and password from `ETCD_USERNAME` and `ETCD_PASSWORD`, when set.
pub(crate) fn credentials() -> Option<(String, String)> {
    match (
        std::env::var("ETCD_USERNAME"),
        std::env::var("ETCD_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) if !user.is_empty() => Some((user, password)),
        _ => None,
    }
}

/// Connects to `endpoints` within [`TIMEOUT`]; every request then times out after
/// `request_timeout` (`None`: requests may wait, as lock and campaign calls do). The error
/// says why, for the caller's own error type.
pub(crate) async fn connect(
    endpoints: &[String],
    auth: Option<&(String, String)>,
    request_timeout: Option<Duration>,
) -> Result<Client, String> {
    let mut options = ConnectOptions::new().with_connect_timeout(TIMEOUT);
    if let Some(timeout) = request_timeout {
        options = options.with_timeout(timeout);
    }
    if let Some((user, password)) = auth {
        options = options.with_user(user, password);
    }
    match tokio::time::timeout(TIMEOUT, Client::connect(endpoints, Some(options))).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {TIMEOUT:?}")),
    }
}

/// `request`'s result within [`TIMEOUT`]; the error says why, for the caller's own error type.
pub(crate) async fn bounded<T>(
    request: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(TIMEOUT, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {TIMEOUT:?}")),
    }
}

/// An etcd client, connected on first use and then shared (a clone shares the connection once
/// made).
#[derive(Clone)]
pub(crate) struct LazyClient {
    endpoints: Vec<String>,
    auth: Option<(String, String)>,
    request_timeout: Option<Duration>,
    client: OnceCell<Client>,
}

impl LazyClient {
    /// A client of `endpoints` whose requests time out after `request_timeout` (see
    /// [`connect`]).
    pub(crate) fn new(
        endpoints: Vec<String>,
        auth: Option<(String, String)>,
        request_timeout: Option<Duration>,
    ) -> LazyClient {
        LazyClient {
            endpoints,
            auth,
            request_timeout,
            client: OnceCell::new(),
        }
    }

    /// The client, connecting first if this is the first use; the error says why not.
    pub(crate) async fn get(&self) -> Result<Client, String> {
        let client = self
            .client
            .get_or_try_init(|| connect(&self.endpoints, self.auth.as_ref(), self.request_timeout))
            .await?;
        Ok(client.clone())
    }

    /// Runs one request within [`TIMEOUT`] (connecting included); the error says why not.
    pub(crate) async fn request<T, Fut>(
        &self,
        request: impl FnOnce(Client) -> Fut,
    ) -> Result<T, String>
    where
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        bounded(request(self.get().await?)).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_are_normalized_like_go_micros() {
        let given = ["http://a".to_owned(), "b:2380".to_owned()];
        assert_eq!(super::endpoints(&given), ["a:2379", "b:2380"]);
        assert_eq!(super::endpoints(&[]), ["127.0.0.1:2379"]);
    }
}
