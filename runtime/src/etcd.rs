//! What the etcd backends (registry, config, sync) share: endpoints as go-micro takes them,
//! credentials from the environment, TLS, and connecting within a bounded time.

use std::future::Future;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use tokio::sync::OnceCell;

use crate::BackendTls;

mod members;
mod watch;

pub(crate) use watch::Watch;

/// How long connecting, or one request, may take, as in go-micro.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// `host:port` endpoints: `http://` dropped (`https://` kept), port 2379 when missing,
/// `127.0.0.1:2379` when none are given.
pub(crate) fn endpoints(addresses: &[String]) -> Vec<String> {
    let mut endpoints: Vec<String> = addresses
        .iter()
        .map(|address| {
            let address = address.trim_start_matches("http://");
            let host = address.trim_start_matches("https://");
            if host.contains(':') {
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

/// TLS to etcd: the files, and the flags that give them (`--registry-tls`), named in errors.
#[derive(Debug, Clone)]
pub(crate) struct Tls {
    pub(crate) files: BackendTls,
    pub(crate) flags: &'static str,
}

impl Tls {
    /// Whether to speak TLS to `endpoints`: a file is given, or an endpoint is `https://`.
    fn is_on(&self, endpoints: &[String]) -> bool {
        self.files.is_on() || endpoints.iter().any(|e| e.starts_with("https://"))
    }

    /// tonic's TLS options from the files: the CA (else the system's roots) and the client
    /// certificate; the error names the file and flag.
    fn options(&self) -> Result<TlsOptions, String> {
        let pem = crate::net::tls::backend::pem_files(&self.files, self.flags)?;
        let options = match pem.ca {
            Some(ca) => TlsOptions::new().ca_certificate(Certificate::from_pem(ca)),
            None => TlsOptions::new().with_native_roots(),
        };
        Ok(match pem.identity {
            Some((cert, key)) => options.identity(Identity::from_pem(cert, key)),
            None => options,
        })
    }

    /// What to check when TLS to etcd failed (`handshake`), or etcd closed the connection.
    fn hint(&self, handshake: bool) -> String {
        let flags = self.flags;
        let check = format!(
            "check {flags}-ca (the CA that signed etcd's certificate) and {flags}-cert/\
             {flags}-key (a client certificate etcd trusts)"
        );
        if handshake {
            format!("the TLS handshake with etcd failed: {check}")
        } else {
            format!("if etcd is up, it may have refused our TLS certificate: {check}")
        }
    }
}

/// Checks that the files of `tls` can be read and hold what they should; the error names the
/// file and the flag (for backends to refuse a bad configuration when built).
pub(crate) fn check_tls(tls: &BackendTls, flags: &str) -> Result<(), String> {
    crate::net::tls::backend::pem_files(tls, flags).map(drop)
}

/// Connects to `endpoints` within [`TIMEOUT`], over TLS when `tls` says so; every request then
/// times out after `request_timeout` (`None`: requests may wait, as lock and campaign calls
/// do). The error says why, for the caller's own error type.
pub(crate) async fn connect(
    endpoints: &[String],
    auth: Option<&(String, String)>,
    request_timeout: Option<Duration>,
    tls: Option<&Tls>,
) -> Result<Client, String> {
    let mut options = ConnectOptions::new().with_connect_timeout(TIMEOUT);
    if let Some(timeout) = request_timeout {
        options = options.with_timeout(timeout);
    }
    if let Some((user, password)) = auth {
        options = options.with_user(user, password);
    }
    let mut endpoints = endpoints.to_vec();
    if let Some(tls) = tls.filter(|tls| tls.is_on(&endpoints)) {
        options = options.with_tls(tls.options()?);
        // etcd-client takes TLS options with `https://` endpoints only.
        for endpoint in &mut endpoints {
            let host = endpoint.trim_start_matches("https://");
            *endpoint = format!("https://{host}");
        }
    }
    match tokio::time::timeout(TIMEOUT, Client::connect(&endpoints, Some(options))).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(err)) => Err(describe(&err, tls)),
        Err(_) => Err(format!("no answer within {TIMEOUT:?}")),
    }
}

/// `err`, with what to check when it is a failed TLS handshake.
fn describe(err: &etcd_client::Error, tls: Option<&Tls>) -> String {
    match tls.zip(tls_failure(err)) {
        Some((tls, (cause, handshake))) => format!("{cause}; {}", tls.hint(handshake)),
        None => err.to_string(),
    }
}

/// `request`'s result within [`TIMEOUT`]; the error says why, for the caller's own error type.
pub(crate) async fn bounded<T>(
    request: impl Future<Output = Result<T, etcd_client::Error>>,
    tls: Option<&Tls>,
) -> Result<T, String> {
    match tokio::time::timeout(TIMEOUT, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(describe(&err, tls)),
        Err(_) => Err(format!("no answer within {TIMEOUT:?}")),
    }
}

/// What went wrong, when `err` may be TLS's doing: its innermost cause (e.g. "received fatal
/// alert: BadCertificate"), and whether it surely was a failed handshake rather than a
/// connection closed (as etcd does when it refuses a client certificate after a TLS 1.3
/// handshake). tonic passes rustls's errors on as text in an `InvalidData` I/O error, which is
/// what tokio-rustls makes of them.
fn tls_failure(err: &etcd_client::Error) -> Option<(String, bool)> {
    // etcd-client's errors do not expose their cause as a `source`.
    let mut next: Option<&(dyn std::error::Error + 'static)> = match err {
        etcd_client::Error::GRpcStatus(status) => Some(status),
        etcd_client::Error::TransportError(err) => Some(err),
        _ => None,
    };
    let (mut handshake, mut transport) = (false, false);
    let mut innermost = None;
    while let Some(err) = next {
        let io = err.downcast_ref::<std::io::Error>();
        handshake |= io.is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
            || crate::net::tls::is_handshake_failure(err);
        transport |= err.is::<tonic::transport::Error>();
        innermost = Some(err);
        next = err.source();
    }
    let cause = innermost.filter(|_| handshake || transport)?;
    Some((cause.to_string(), handshake))
}

/// An etcd client, connected on first use and then shared (a clone shares the connection once
/// made).
#[derive(Clone)]
pub(crate) struct LazyClient {
    endpoints: Vec<String>,
    auth: Option<(String, String)>,
    request_timeout: Option<Duration>,
    tls: Option<Tls>,
    client: OnceCell<(Client, Option<members::Watchdog>)>,
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
            tls: None,
            client: OnceCell::new(),
        }
    }

    /// Speaks TLS with `files` (given by `flags`, e.g. `--registry-tls`), or when an endpoint is
    /// `https://`.
    pub(crate) fn with_tls(mut self, files: BackendTls, flags: &'static str) -> LazyClient {
        let tls = Tls { files, flags };
        self.tls = tls.is_on(&self.endpoints).then_some(tls);
        self
    }

    /// The client, connecting first if this is the first use; the error says why not.
    pub(crate) async fn get(&self) -> Result<Client, String> {
        let (client, _) = self
            .client
            .get_or_try_init(|| async {
                let (auth, tls) = (self.auth.as_ref(), self.tls.as_ref());
                let client = connect(&self.endpoints, auth, self.request_timeout, tls).await?;
                let watchdog = (self.endpoints.len() > 1).then(|| self.watch_members(&client));
                Ok::<_, String>((client, watchdog))
            })
            .await?;
        Ok(client.clone())
    }

    /// Keeps `client` off members that stop answering (see [`members`]).
    fn watch_members(&self, client: &Client) -> members::Watchdog {
        let tls_on = self.tls.is_some();
        let urls = self
            .endpoints
            .iter()
            .map(|endpoint| match endpoint.contains("://") {
                true => endpoint.clone(),
                false if tls_on => format!("https://{endpoint}"),
                false => format!("http://{endpoint}"),
            })
            .collect();
        let (auth, tls) = (self.auth.clone(), self.tls.clone());
        let connect = move |url: String| {
            let (auth, tls) = (auth.clone(), tls.clone());
            async move {
                let timeout = Some(members::PROBE_TIMEOUT);
                connect(&[url], auth.as_ref(), timeout, tls.as_ref()).await
            }
        };
        members::Watchdog::start(client.clone(), urls, connect)
    }

    /// `err` of a request made with this client, with what to check if TLS may be to blame.
    #[cfg_attr(not(feature = "sync-etcd"), allow(dead_code))]
    pub(crate) fn describe(&self, err: &etcd_client::Error) -> String {
        describe(err, self.tls.as_ref())
    }

    /// Runs one request within [`TIMEOUT`] (connecting included); the error says why not.
    pub(crate) async fn request<T, Fut>(
        &self,
        request: impl FnOnce(Client) -> Fut,
    ) -> Result<T, String>
    where
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        bounded(request(self.get().await?), self.tls.as_ref()).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_are_normalized_like_go_micros() {
        let given = ["http://a".to_owned(), "b:2380".to_owned()];
        assert_eq!(super::endpoints(&given), ["a:2379", "b:2380"]);
        assert_eq!(super::endpoints(&[]), ["127.0.0.1:2379"]);
        let given = ["https://a".to_owned(), "https://b:2380".to_owned()];
        assert_eq!(
            super::endpoints(&given),
            ["https://a:2379", "https://b:2380"]
        );
    }
}
