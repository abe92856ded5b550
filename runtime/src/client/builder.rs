//! [`ClientBuilder`]: a client's options, and the stack `build` assembles from them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower::Layer;
use tower::util::BoxCloneSyncService;

use super::balance::{Balance, BalanceOptions, Destination};
use super::connection::DEFAULT_CONNECT_TIMEOUT;
use super::pool::Pool;
use super::retry::{Backoff, ExponentialBackoff, Hedging, Retry, RetryOptions};
use super::stack::Stack;
use super::{
    CallRequest, CallResponse, CallService, Client, DEFAULT_POOL_IDLE, DEFAULT_POOL_SIZE,
    DEFAULT_PROPAGATED_METADATA, DEFAULT_STREAMS_PER_CONNECTION, DEFAULT_TIMEOUT, Error, Inner,
    NO_TIMEOUT, Options, Transport, address, connection,
};
use crate::auth::{self, BearerLayer, TokenSource};
use crate::codec::{DEFAULT_MAX_MESSAGE_SIZE, Format};
use crate::flags::Flags;
use crate::layers::Layers;
use crate::registry::{Cache, Registry};
use crate::rpc::Body;
use crate::selector::{Filter, OutlierDetection, Outliers, Selector, Strategy};
use crate::transcode::JsonOptions;
use crate::{Code, Status};

/// Configures a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    address: Option<String>,
    registry: Option<Cache>,
    strategy: Strategy,
    filter: Filter,
    retry: RetryOptions,
    pool_size: usize,
    connect_timeout: Duration,
    streams_per_connection: usize,
    pool_idle: Duration,
    outliers: OutlierDetection,
    layers: Layers<Transport>,
    call_wrappers: Layers<CallService>,
    options: Options,
    /// A problem found while configuring, reported by `build`.
    invalid: Option<Error>,
    tls: connection::Tls,
}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder {
            address: None,
            registry: None,
            strategy: Strategy::default(),
            filter: Filter::default(),
            retry: RetryOptions::default(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            streams_per_connection: DEFAULT_STREAMS_PER_CONNECTION,
            pool_idle: DEFAULT_POOL_IDLE,
            outliers: OutlierDetection::default(),
            layers: Layers::default(),
            call_wrappers: Layers::default(),
            options: Options {
                timeout: DEFAULT_TIMEOUT,
                timeout_header: Some(crate::deadline::encode(DEFAULT_TIMEOUT)),
                max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
                codec: Format::Protobuf,
                json: Arc::new(JsonOptions::default()),
                propagate: DEFAULT_PROPAGATED_METADATA
                    .map(http::HeaderName::from_static)
                    .into(),
                caller: None,
                broker: None,
                metrics: None,
                telemetry: Default::default(),
            },
            invalid: None,
            tls: connection::Tls::default(),
        }
    }
}

impl ClientBuilder {
    /// Sends every call to this address (`host:port`, `http://host:port`, or
    /// `https://host:port`, checked against the system's roots unless the client has TLS set)
    /// instead of resolving services through a registry.
    pub fn address(mut self, address: impl Into<String>) -> ClientBuilder {
        self.address = Some(address.into());
        self
    }

    /// Finds the nodes of called services in `registry`, through a cache that a watch keeps
    /// current and that keeps answering with the last known nodes if the registry goes down.
    pub fn registry(self, registry: Arc<dyn Registry>) -> ClientBuilder {
        self.registry_cache(Cache::new(registry))
    }

    /// Like [`registry`](Self::registry), sharing a cache another component built.
    pub fn registry_cache(mut self, cache: Cache) -> ClientBuilder {
        self.registry = Some(cache);
        self
    }

    /// How a node is picked: random (default), round robin, or the less loaded of two (p2c).
    pub fn selector(mut self, strategy: Strategy) -> ClientBuilder {
        self.strategy = strategy;
        self
    }

    /// Calls only nodes this filter lets through (by version, node metadata).
    pub fn filter(mut self, filter: Filter) -> ClientBuilder {
        self.filter = filter;
        self
    }

    /// How many times a failed call is retried on another node (default 3; 0 disables; at
    /// most 4, as gRPC allows 5 attempts). Connection failures and `UNAVAILABLE` are retried
    /// unless [`retry_codes`](Self::retry_codes) says otherwise.
    pub fn retries(mut self, retries: u32) -> ClientBuilder {
        self.retry.retries = retries;
        self
    }

    /// Status codes a call is retried on (default `UNAVAILABLE`), as gRPC's
    /// `retryableStatusCodes`. Connections that fail before the request leaves are retried
    /// whatever this says.
    pub fn retry_codes(mut self, codes: impl IntoIterator<Item = Code>) -> ClientBuilder {
        self.retry.codes = super::retry::Codes::of(codes);
        self
    }

    /// gRPC's backoff: before retry `n` a random wait below `min(initial × multiplier^(n-1),
    /// max)` (default 50 ms, 1 s, 2). A server's `grpc-retry-pushback-ms` overrides it.
    pub fn retry_backoff(mut self, backoff: ExponentialBackoff) -> ClientBuilder {
        self.retry.backoff = Backoff::Exponential(backoff);
        self
    }

    /// How long to wait before retry `n` (1-based), exactly, instead of gRPC's jittered
    /// backoff ([`retry_backoff`](Self::retry_backoff)).
    pub fn backoff(mut self, backoff: impl Fn(u32) -> Duration + Send + Sync + 'static) -> Self {
        self.retry.backoff = Backoff::Custom(Arc::new(backoff));
        self
    }

    /// gRPC's retry throttle: a bucket of `max_tokens` (default 100) that each failed attempt
    /// takes one from and each successful call gives `token_ratio` (default 0.2) back to;
    /// retries and hedges go out only while more than half are left.
    pub fn retry_throttle(mut self, max_tokens: u32, token_ratio: f32) -> ClientBuilder {
        self.retry.max_tokens = max_tokens;
        self.retry.token_ratio = token_ratio;
        self
    }

    /// The throttle's `token_ratio` ([`retry_throttle`](Self::retry_throttle)): roughly the
    /// share of calls that may be retried while failures persist (default 0.2).
    pub fn retry_budget(mut self, share: f32) -> ClientBuilder {
        self.retry.token_ratio = share;
        self
    }

    /// Hedges calls to `endpoint` (`Service.Method`, as go-micro names it) as `hedging` says:
    /// copies go to other nodes after each delay without a response; the first wins.
    pub fn hedge(mut self, endpoint: impl Into<String>, hedging: Hedging) -> ClientBuilder {
        self.retry.hedging.insert(endpoint.into(), hedging);
        self
    }

    /// How long connecting to a node (TCP, and TLS where used) may take before the attempt
    /// fails and the call tries another node (default 5 s; `--client-connect-timeout`).
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// HTTP/2 connections per node at most (default 4). Calls share the first until it
    /// carries [`streams_per_connection`](Self::streams_per_connection) of them, then the next
    /// one opens, and so on.
    pub fn pool_size(mut self, connections: usize) -> ClientBuilder {
        self.pool_size = connections;
        self
    }

    /// Calls in flight on one connection before the pool opens another to that node (default
    /// 100). Lower it to spread moderate load over several connections on many-core machines.
    pub fn streams_per_connection(mut self, streams: usize) -> ClientBuilder {
        self.streams_per_connection = streams;
        self
    }

    /// How long a node's connections stay open without calls (default one minute).
    pub fn pool_idle_timeout(mut self, idle: Duration) -> ClientBuilder {
        self.pool_idle = idle;
        self
    }

    /// Leaves a node out for `cool_down` (growing each time it is ejected again) after
    /// `failures` consecutive connection failures (default 3 and 30 s), unless no other node
    /// is left. See [`outlier_detection`](Self::outlier_detection) for the other rules.
    pub fn outlier_ejection(mut self, failures: u32, cool_down: Duration) -> ClientBuilder {
        self.outliers = self
            .outliers
            .consecutive_failures(failures.max(1))
            .base_ejection_time(cool_down);
        self
    }

    /// Ejects nodes as gRPC's outlier detection does (gRFC A50): by success rate and by failure
    /// percentage, evaluated every interval, for a time that grows each time a node is ejected.
    pub fn outlier_detection(mut self, detection: OutlierDetection) -> ClientBuilder {
        self.outliers = detection;
        self
    }

    /// How long a call may take unless it sets its own timeout (default 30 s). Inside a
    /// handler, calls also end by the served call's deadline, whichever is sooner.
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.options.timeout = timeout;
        self.options.timeout_header = Some(crate::deadline::encode(timeout));
        self
    }

    /// Calls have no deadline unless they set one ([`Call::timeout`](super::Call::timeout)) or inherit the served
    /// call's, as in grpc-go and tonic; the server sees no `grpc-timeout`. For clients that
    /// wait on long streams; most should keep a timeout.
    pub fn without_timeout(mut self) -> ClientBuilder {
        // A deadline still bounds the call internally: one that never comes in practice.
        self.options.timeout = NO_TIMEOUT;
        self.options.timeout_header = None;
        self
    }

    /// Largest message sent or accepted, in bytes (default 4 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> ClientBuilder {
        self.options.max_message_size = bytes;
        self
    }

    /// Sends and receives messages as protobuf (the default) or as JSON
    /// (`application/grpc+json`), which any micro service and many gRPC servers accept.
    pub fn codec(mut self, codec: Format) -> ClientBuilder {
        self.options.codec = codec;
        self
    }

    /// How JSON messages are written, with [`Format::Json`].
    pub fn json_options(mut self, options: JsonOptions) -> ClientBuilder {
        self.options.json = Arc::new(options);
        self
    }

    /// Metadata keys a handler's calls copy from the call it serves (default
    /// [`DEFAULT_PROPAGATED_METADATA`]: request id and W3C trace context). Invalid keys are
    /// an error at [`build`](Self::build).
    pub fn propagate<I, K>(mut self, keys: I) -> Result<ClientBuilder, Error>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let keys = keys.into_iter().map(|key| {
            let key = key.as_ref();
            http::HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())
                .map_err(|_| Error::new(format!("`{key}` is not a valid metadata key")))
        });
        self.options.propagate = keys.collect::<Result<Vec<_>, _>>()?.into();
        Ok(self)
    }

    /// Publishes with `broker` ([`Client::publish`]).
    pub fn broker(mut self, broker: Arc<dyn crate::broker::Broker>) -> ClientBuilder {
        self.options.broker = Some(broker);
        self
    }

    /// Exports each attempt's and publish's span with `telemetry` (a service's).
    pub(crate) fn telemetry(mut self, telemetry: crate::telemetry::Telemetry) -> ClientBuilder {
        self.options.telemetry = telemetry;
        self
    }

    /// Counts calls in `metrics` (a service's registry).
    pub(crate) fn metrics(mut self, metrics: crate::metrics::Metrics) -> ClientBuilder {
        self.options.metrics = Some(metrics);
        self
    }

    /// The name sent as `Micro-From-Service` on calls made outside a handler (inside one,
    /// the served service's name is sent).
    pub fn caller(mut self, service: &str) -> ClientBuilder {
        self.options.caller = http::HeaderValue::from_str(service).ok();
        self
    }

    /// Applies the `--client-*` and `--selector` flags that were given; with `--auth jwt`
    /// and `--auth-id`/`--auth-secret`, puts that account's tokens on every call; with
    /// `--tls-ca-dir` or `--tls-cert-file`, calls over (m)TLS as `--server-name` (default
    /// `client`); with `--tls-ca-file` alone, over TLS checked against that bundle.
    pub fn flags(self, flags: &Flags) -> ClientBuilder {
        #[cfg_attr(not(feature = "auth-tls"), allow(unused_mut))]
        let mut builder = self.client_flags(flags);
        #[cfg(feature = "auth-tls")]
        if flags.tls_cert_file.is_none()
            && let Some(ca) = &flags.tls_ca_file
        {
            builder = builder.tls_ca_file(ca);
        }
        if flags.auth_id.is_none() && flags.tls_ca_dir.is_none() && flags.tls_cert_file.is_none() {
            return builder;
        }
        let identity = flags.server_name.as_deref().unwrap_or("client");
        match auth::Options::from_flags(flags).build() {
            Ok(auth) => builder.auth(auth, identity),
            Err(err) => builder.invalid(Error::new(err.to_string())),
        }
    }

    /// Uses a service's resolved auth: its account's tokens, and TLS as `identity`.
    pub(crate) fn auth(mut self, auth: auth::Resolved, identity: &str) -> ClientBuilder {
        if let Some(account) = auth.account {
            self = self.token_source(account);
        }
        #[cfg(feature = "auth-tls")]
        if let Some(tls) = &auth.tls {
            self = self.tls(tls, identity);
        }
        #[cfg(not(feature = "auth-tls"))]
        let _ = identity;
        self
    }

    /// Reports `error` when the client is built.
    fn invalid(mut self, error: Error) -> ClientBuilder {
        self.invalid.get_or_insert(error);
        self
    }

    /// The `--client-*` and `--selector` flags only.
    pub(crate) fn client_flags(mut self, flags: &Flags) -> ClientBuilder {
        if let Some(timeout) = flags.client_request_timeout {
            self = self.timeout(timeout);
        }
        self.retry.retries = flags.client_retries.unwrap_or(self.retry.retries);
        self.retry_flags(flags);
        self.pool_size = flags.client_pool_size.unwrap_or(self.pool_size);
        self.connect_timeout = flags.client_connect_timeout.unwrap_or(self.connect_timeout);
        self.strategy = flags.selector.unwrap_or(self.strategy);
        self
    }

    /// The `--client-retry-*` and `--client-hedge` flags.
    fn retry_flags(&mut self, flags: &Flags) {
        let retry = &mut self.retry;
        if let Some(codes) = &flags.client_retry_codes {
            retry.codes = super::retry::Codes::of(codes.iter().copied());
        }
        if flags.client_retry_backoff_initial.is_some()
            || flags.client_retry_backoff_max.is_some()
            || flags.client_retry_backoff_multiplier.is_some()
        {
            // Flags refine the exponential backoff in use, or gRPC's default one.
            let mut backoff = match &retry.backoff {
                Backoff::Exponential(backoff) => *backoff,
                Backoff::Custom(_) => ExponentialBackoff::default(),
            };
            backoff.initial = flags
                .client_retry_backoff_initial
                .unwrap_or(backoff.initial);
            backoff.max = flags.client_retry_backoff_max.unwrap_or(backoff.max);
            backoff.multiplier = flags
                .client_retry_backoff_multiplier
                .unwrap_or(backoff.multiplier);
            retry.backoff = Backoff::Exponential(backoff);
        }
        retry.max_tokens = flags.client_retry_tokens.unwrap_or(retry.max_tokens);
        retry.token_ratio = flags.client_retry_token_ratio.unwrap_or(retry.token_ratio);
        for (endpoint, delay, copies) in &flags.client_hedge {
            let hedging = Hedging::after(*delay).max_attempts(*copies);
            retry.hedging.insert(endpoint.clone(), hedging);
        }
    }

    /// Wraps every call in a tower layer, outermost last: logging, headers, rate limits,
    /// anything that may `await`. The request's extensions hold its [`CallTarget`](super::CallTarget).
    ///
    /// ```
    /// # fn demo() -> Result<(), micro::client::Error> {
    /// use tower::ServiceExt;
    ///
    /// let client = micro::Client::builder()
    ///     .address("127.0.0.1:8080")
    ///     .layer(tower::layer::layer_fn(|next: micro::client::Transport| {
    ///         tower::service_fn(move |mut request: http::Request<micro::server::Body>| {
    ///             let next = next.clone();
    ///             async move {
    ///                 request.headers_mut().insert("x-team", "payments".parse().unwrap());
    ///                 next.oneshot(request).await
    ///             }
    ///         })
    ///     }));
    /// # Ok(()) }
    /// ```
    pub fn layer<L>(mut self, layer: L) -> ClientBuilder
    where
        L: Layer<Transport> + Send + Sync + 'static,
        L::Service: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Status>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<http::Request<Body>>>::Future: Send + 'static,
    {
        self.layers
            .push(move |inner| BoxCloneSyncService::new(layer.layer(inner)));
        self
    }

    /// Wraps every call in `layer` (go-micro's `WrapCall`): it sees the target, the
    /// metadata, the timeout and the request before the call goes out, may add metadata or
    /// answer with a [`Status`] instead, and sees the response. It runs before discovery,
    /// retries and [`layer`](Self::layer)s, once per call (not per attempt); a wrapper added
    /// later wraps those added before. See [`middleware`](crate::middleware).
    ///
    /// ```
    /// use micro::client::{CallRequest, CallResponse};
    /// use micro::middleware::{Next, from_fn};
    ///
    /// # fn demo() -> Result<(), micro::client::Error> {
    /// let client = micro::Client::builder()
    ///     .address("127.0.0.1:8080")
    ///     .wrap_call(from_fn(
    ///         |mut call: CallRequest, next: Next<CallRequest, CallResponse, micro::Status>| async move {
    ///             call.metadata_mut().insert("x-team", "payments".parse().unwrap());
    ///             next.run(call).await
    ///         },
    ///     ))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn wrap_call<L>(mut self, layer: L) -> ClientBuilder
    where
        L: Layer<CallService> + Send + Sync + 'static,
        L::Service: tower::Service<CallRequest, Response = CallResponse, Error = Status>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<CallRequest>>::Future: Send + 'static,
    {
        self.call_wrappers
            .push(move |inner| CallService::new(layer.layer(inner)));
        self
    }

    /// Uses these call wrappers (a service's, for its client).
    pub(crate) fn call_wrappers(mut self, wrappers: Layers<CallService>) -> ClientBuilder {
        self.call_wrappers = wrappers;
        self
    }

    /// Puts a token from `source` on every call that carries no `Authorization` of its own
    /// ([`Service::client`](crate::Service::client) does this for `--auth-id`/`--auth-secret`).
    pub fn token_source(self, source: Arc<TokenSource>) -> ClientBuilder {
        self.layer(BearerLayer::new(source))
    }

    /// Calls over TLS as `identity` (the calling service's name): presents a certificate from
    /// `tls`'s CA naming it, and accepts only servers whose certificate names the service
    /// called ([`Service::client`](crate::Service::client) does this for a service with TLS).
    #[cfg(feature = "auth-tls")]
    pub fn tls(mut self, tls: &crate::auth::ServiceTls, identity: &str) -> ClientBuilder {
        match tls.client(identity) {
            Ok(tls) => {
                self.tls = Some(tls);
                self
            }
            Err(err) => self.invalid(Error::new(err.to_string())),
        }
    }

    /// Calls every node over TLS without a certificate of its own, accepting servers whose
    /// certificate chains to the CA bundle (PEM) at `path` and is valid for the host dialled
    /// or names the service called.
    #[cfg(feature = "auth-tls")]
    pub fn tls_ca_file(mut self, path: impl AsRef<std::path::Path>) -> ClientBuilder {
        let path = path.as_ref();
        match crate::auth::ClientTls::trusting(path) {
            Ok(tls) => {
                self.tls = Some(tls);
                self
            }
            Err(err) => self.invalid(Error::new(format!("--tls-ca-file: {err}"))),
        }
    }

    /// Builds the client. It connects lazily, on the first call, and must be built inside a
    /// Tokio runtime.
    #[cfg_attr(not(feature = "auth-tls"), allow(unused_mut))]
    pub fn build(mut self) -> Result<Client, Error> {
        if let Some(invalid) = self.invalid {
            return Err(invalid);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::new(
                "a micro::Client must be built inside a Tokio runtime (e.g. in #[tokio::main])",
            ));
        }
        #[cfg(feature = "auth-tls")]
        if self.tls.is_none()
            && let Some(address) = self.address.as_deref().filter(|a| address::is_https(a))
        {
            let web = crate::auth::ClientTls::web(None)
                .map_err(|err| Error::new(format!("cannot call {address}: {err}")))?;
            self.tls = Some(web);
        }
        #[cfg(not(feature = "auth-tls"))]
        if let Some(address) = self.address.as_deref().filter(|a| address::is_https(a)) {
            return Err(Error::new(format!(
                "calling {address} needs TLS, which is not built in; enable micro's `auth-tls` \
                 feature"
            )));
        }
        let destination = match (&self.address, self.registry) {
            (Some(address), _) => Destination::Address(address::authority(address)?.to_string()),
            (None, Some(cache)) => Destination::Registry(cache),
            (None, None) => {
                return Err(Error::new(
                    "the client has neither a registry nor an address to call; set one with \
                     ClientBuilder::registry or ClientBuilder::address (Service::client does)",
                ));
            }
        };
        if self.connect_timeout.is_zero() {
            return Err(Error::new(
                "the connect timeout must be above zero (ClientBuilder::connect_timeout, \
                 --client-connect-timeout)",
            ));
        }
        let balance = Balance::new(BalanceOptions {
            destination: destination.clone(),
            selector: Selector::new(self.strategy, self.filter, Outliers::new(self.outliers)),
            pool: Pool::new(
                self.pool_size,
                self.streams_per_connection,
                self.pool_idle,
                self.tls,
                self.connect_timeout,
            ),
            max_message_size: self.options.max_message_size,
            connect_timeout: self.connect_timeout,
        });
        let policy = self.retry.policy()?;
        let stack = Stack::new(
            Retry::new(balance, policy, self.options.telemetry.clone()),
            &self.layers,
        );
        Ok(Client {
            inner: Arc::new(Inner {
                stack,
                wrappers: crate::middleware::assemble(&self.call_wrappers),
                destination,
                options: self.options,
            }),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("address", &self.address)
            .field("registry", &self.registry)
            .field("strategy", &self.strategy)
            .field("filter", &self.filter)
            .field("retry", &self.retry)
            .field("pool_size", &self.pool_size)
            .field("streams_per_connection", &self.streams_per_connection)
            .field("layers", &self.layers)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::flags::Cli;

    fn with_flags(builder: ClientBuilder, args: &[&str]) -> ClientBuilder {
        let cli = Cli::try_parse_from(std::iter::once("svc").chain(args.iter().copied()));
        builder.client_flags(&cli.unwrap().flags)
    }

    #[test]
    fn backoff_flags_refine_the_grpc_backoff_and_leave_a_custom_one_alone() {
        let args = [
            "--client-retry-backoff-initial=10ms",
            "--client-retry-backoff-multiplier=3",
        ];
        let builder = with_flags(crate::Client::builder(), &args);
        let Backoff::Exponential(backoff) = builder.retry.backoff else {
            panic!("the flags give gRPC's backoff");
        };
        let expected = ExponentialBackoff {
            initial: Duration::from_millis(10),
            max: Duration::from_secs(1),
            multiplier: 3.0,
        };
        assert_eq!(backoff, expected);

        let custom = crate::Client::builder().backoff(|_| Duration::ZERO);
        let builder = with_flags(custom.clone(), &["--client-retries=2"]);
        assert!(matches!(builder.retry.backoff, Backoff::Custom(_)));
        let builder = with_flags(custom, &["--client-retry-backoff-max=2s"]);
        let Backoff::Exponential(backoff) = builder.retry.backoff else {
            panic!("a backoff flag replaces the custom backoff");
        };
        assert_eq!(backoff.max, Duration::from_secs(2));
    }
}
