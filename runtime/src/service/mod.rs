//! [`Service`]: a named, versioned micro service that serves handlers on one port.

mod checks;
mod data;
mod error;
mod hooks;
mod options;
mod pubsub;
mod registration;
mod running;
mod subscriber;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;

pub use error::{Error, ErrorKind};
pub(crate) use options::{Choice, Options};
pub use running::RunningService;

use crate::auth::ServerAuth;
use crate::broker::Broker;
use crate::client::CallService;
use crate::client::{self, Client};
use crate::events;
use crate::flags::{Cli, Flags};
use crate::layers::Layers;
use crate::registry::{self, Registry};
use crate::server::HandlerService;
use crate::server::{Body, Cors, Handler, Stack};
use crate::telemetry::Telemetry;
use crate::transcode::JsonOptions;
use hooks::Stage;
pub use subscriber::{SubscriberRequest, SubscriberService};

pub use crate::codec::DEFAULT_MAX_MESSAGE_SIZE;

/// How long in-flight calls may take to finish on shutdown unless configured.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a registration lasts unless refreshed, as go-micro's flags set it.
pub const DEFAULT_REGISTER_TTL: Duration = Duration::from_secs(60);

/// How often the registration is refreshed, as in go-micro.
pub const DEFAULT_REGISTER_INTERVAL: Duration = Duration::from_secs(30);

/// A micro service: a name, a version, an address, and the handlers it serves.
///
/// One port serves gRPC (all four kinds of call), gRPC server reflection and `grpc.health.v1`.
/// Settings made in code are defaults; flags and `MICRO_*` variables override them (see
/// [`Flags`]).
///
/// ```no_run
/// # use micro::Service;
/// # async fn demo(handler: impl micro::server::Handler) -> Result<(), micro::service::Error> {
/// Service::new("helloworld")
///     .version("1.0.0")
///     .address("127.0.0.1:8080")
///     .handle(handler) // e.g. HelloworldServer::new(Greeter)
///     .run()
///     .await
/// # }
/// ```
#[derive(Clone)]
pub struct Service {
    options: Options,
    handlers: Vec<Arc<dyn Handler>>,
    flags: Option<Flags>,
    /// The registry once built, shared by the service and its clients (one mDNS daemon).
    registry: Arc<Mutex<Option<Arc<dyn Registry>>>>,
    /// The auth once built, shared likewise (development keys are generated once).
    auth: Arc<Mutex<Option<crate::auth::Resolved>>>,
    /// The broker and event stream once built, shared likewise.
    broker: Arc<Mutex<Option<Arc<dyn Broker>>>>,
    events: Arc<Mutex<Option<Arc<dyn events::EventStream>>>>,
    store: Arc<Mutex<Option<Arc<dyn crate::store::Store>>>>,
    sync: Arc<Mutex<Option<Arc<dyn crate::sync::Coordinator>>>>,
    /// The span exporter once set up (from the `OTEL_*` variables), shared likewise.
    telemetry: Arc<Mutex<Option<Telemetry>>>,
    /// The config once loaded, shared likewise.
    config: Arc<tokio::sync::OnceCell<crate::config::Config>>,
    subscriptions: Vec<pubsub::Subscription>,
    /// The lifecycle hooks, by stage.
    hooks: hooks::Hooks,
    /// The readiness checks the program added.
    checks: Vec<(String, crate::server::Check)>,
}

impl Service {
    /// A service named `name`, version `latest`, listening on `:0` (any interface, a free port).
    pub fn new(name: impl Into<String>) -> Service {
        Service {
            options: Options {
                name: name.into(),
                version: "latest".to_owned(),
                id: uuid::Uuid::new_v4().to_string(),
                address: ":0".to_owned(),
                metadata: BTreeMap::new(),
                max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
                compress_responses: false,
                shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
                gather_writes: false,
                json: JsonOptions::default(),
                cors: Cors::default(),
                registry: Choice::Named("mdns".to_owned(), Vec::new()),
                broker: Choice::Named("http".to_owned(), Vec::new()),
                events: Choice::Named("memory".to_owned(), Vec::new()),
                store: Choice::Named("file".to_owned(), Vec::new()),
                store_scope: (None, None),
                sync: Choice::Named("memory".to_owned(), Vec::new()),
                backend_tls: Default::default(),
                config_defaults: serde_json::Value::Null,
                config_sources: Vec::new(),
                register_ttl: DEFAULT_REGISTER_TTL,
                register_interval: DEFAULT_REGISTER_INTERVAL,
                advertise: None,
                health_address: None,
                layers: Layers::default(),
                handler_wrappers: Layers::default(),
                call_wrappers: Layers::default(),
                subscriber_wrappers: Layers::default(),
                auth: crate::auth::Options::default(),
                subscriber_endpoints: Vec::new(),
                metrics: crate::metrics::Metrics::new(),
                metrics_on: true,
            },
            handlers: Vec::new(),
            flags: None,
            registry: Arc::default(),
            auth: Arc::default(),
            broker: Arc::default(),
            events: Arc::default(),
            store: Arc::default(),
            sync: Arc::default(),
            telemetry: Arc::default(),
            config: Arc::default(),
            subscriptions: Vec::new(),
            hooks: hooks::Hooks::default(),
            checks: Vec::new(),
        }
    }

    /// Sets the version (default `latest`).
    pub fn version(mut self, version: impl Into<String>) -> Service {
        self.options.version = version.into();
        self
    }

    /// Sets the listen address: `host:port`, `:port` (every interface) or port 0 for a free one.
    pub fn address(mut self, address: impl Into<String>) -> Service {
        self.options.address = address.into();
        self
    }

    /// Adds a metadata entry describing this instance.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Service {
        self.options.metadata.insert(key.into(), value.into());
        self
    }

    /// Turns the server's metrics on or off (default on, or `--metrics`/`MICRO_METRICS`). Off,
    /// calls are not counted and `GET /metrics` answers 404.
    pub fn metrics(mut self, on: bool) -> Service {
        self.options.metrics_on = on;
        self
    }

    /// The Prometheus registry `GET /metrics` serves: register your own metrics here to serve
    /// them beside the server's (see [`metrics`](crate::metrics)).
    ///
    /// ```
    /// use micro::metrics::prometheus::{IntCounter, Registry};
    ///
    /// let service = micro::Service::new("billing");
    /// let invoices = IntCounter::new("billing_invoices_total", "Invoices sent.").unwrap();
    /// service.metrics_registry().register(Box::new(invoices.clone())).unwrap();
    /// invoices.inc();
    /// ```
    pub fn metrics_registry(&self) -> &crate::metrics::prometheus::Registry {
        self.options.metrics.registry()
    }

    /// Sets the largest request message accepted, in bytes (default 4 MiB); a larger one
    /// fails the call with `RESOURCE_EXHAUSTED`. Replies are not limited here, as in grpc-go
    /// and tonic: each client enforces its own receive limit.
    pub fn max_message_size(mut self, bytes: usize) -> Service {
        self.options.max_message_size = bytes;
        self
    }

    /// Compresses gRPC responses with gzip for clients that accept it (`grpc-accept-encoding`);
    /// off by default, as most replies are small and CPU costs more than bandwidth on a LAN. A
    /// handler can still opt one reply out with
    /// [`Context::skip_response_compression`](crate::Context::skip_response_compression). Compressed requests
    /// are always accepted.
    pub fn compress_responses(mut self, on: bool) -> Service {
        self.options.compress_responses = on;
        self
    }

    /// Gathers the replies of calls that finish together on an HTTP/2 connection into one
    /// socket write (off by default). It trades a little latency for a lot of throughput: the
    /// server spends ~25 % less CPU per call and serves 1.2–1.5× the calls under h2load and
    /// 1.1–1.6× the bidi round trips, but a lone call waits one more scheduler turn (~5 % at
    /// one caller) and p99 doubles at 256 callers; see BENCHMARKS.md ("Gathering the server's
    /// HTTP/2 writes"). Worth it for services under heavy multiplexed load, e.g. behind a
    /// gateway or proxy.
    pub fn gather_writes(mut self, on: bool) -> Service {
        self.options.gather_writes = on;
        self
    }

    /// Sets how long in-flight calls may take to finish on shutdown (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Service {
        self.options.shutdown_timeout = timeout;
        self
    }

    /// Sets how JSON requests and responses are read and written (field names, defaults,
    /// unknown fields).
    pub fn json_options(mut self, options: JsonOptions) -> Service {
        self.options.json = options;
        self
    }

    /// Sets the registry to register with (default: mDNS), e.g. `registry::from_uri("etcd://…")`.
    pub fn registry(mut self, registry: Arc<dyn Registry>) -> Service {
        self.options.registry = Choice::Instance(registry);
        self.registry = Arc::default();
        self
    }

    /// Sets how long the registration lasts unless refreshed (default 60 s) and how often it
    /// is refreshed (default 30 s).
    pub fn register_ttl(mut self, ttl: Duration, interval: Duration) -> Service {
        self.options.register_ttl = ttl;
        self.options.register_interval = interval;
        self
    }

    /// Registers this address instead of the listen address, e.g. behind NAT.
    pub fn advertise(mut self, address: impl Into<String>) -> Service {
        self.options.advertise = Some(address.into());
        self
    }

    /// Also serves the health probes and `/metrics` on `address` over plain HTTP (as
    /// `--health-address`), for kubelet's probes when the service's port requires client
    /// certificates; `host:port`, port 0 for a free one.
    pub fn health_address(mut self, address: impl Into<String>) -> Service {
        self.options.health_address = Some(address.into());
        self
    }

    /// Sets which browser origins may call the service (default: any, without credentials).
    pub fn cors(mut self, cors: Cors) -> Service {
        self.options.cors = cors;
        self
    }

    /// Serves a handler: a generated one (`HelloworldServer::new(Greeter)`), or a proto-less
    /// one ([`#[micro::handler]`](macro@crate::handler)) with its endpoints and subscribers.
    /// Call again for more services on the same port.
    pub fn handle(self, handler: impl Mount) -> Service {
        handler.mount(self)
    }

    /// Wraps every request the service receives in a tower layer, outermost last: logging,
    /// headers, rate limits, anything that may `await`. To reject a call, answer
    /// `status.into_http()`.
    ///
    /// ```
    /// use micro::server::{Body, Stack};
    /// use tower::ServiceExt;
    ///
    /// let service = micro::Service::new("greeter").layer(tower::layer::layer_fn(|next: Stack| {
    ///     tower::service_fn(move |request: http::Request<Body>| {
    ///         let next = next.clone();
    ///         async move {
    ///             if request.headers().contains_key("x-blocked") {
    ///                 return Ok(micro::Status::permission_denied("blocked").into_http());
    ///             }
    ///             next.oneshot(request).await
    ///         }
    ///     })
    /// }));
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Service
    where
        L: tower::Layer<Stack> + Send + Sync + 'static,
        L::Service: tower::Service<
                http::Request<Body>,
                Response = http::Response<Body>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<http::Request<Body>>>::Future: Send + 'static,
    {
        self.options
            .layers
            .push(move |inner| Stack::new(layer.layer(inner)));
        self
    }

    /// Wraps every handler call in `layer` (go-micro's `WrapHandler`): it sees the endpoint,
    /// the metadata and the decoded request, may answer with a [`Status`](crate::Status)
    /// instead of the handler, and sees the response. It runs after routing, auth and the
    /// deadline; a wrapper added later wraps those added before. See [`middleware`](crate::middleware).
    pub fn wrap_handler<L>(mut self, layer: L) -> Service
    where
        L: tower::Layer<HandlerService> + Send + Sync + 'static,
        L::Service: tower::Service<
                crate::server::HandlerRequest,
                Response = crate::server::HandlerResponse,
                Error = crate::Status,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<crate::server::HandlerRequest>>::Future: Send + 'static,
    {
        self.options
            .handler_wrappers
            .push(move |inner| HandlerService::new(layer.layer(inner)));
        self
    }

    /// Wraps every call the service's [`client`](Self::client) makes in `layer` (go-micro's
    /// `WrapCall`); see [`ClientBuilder::wrap_call`](crate::client::ClientBuilder::wrap_call).
    pub fn wrap_call<L>(mut self, layer: L) -> Service
    where
        L: tower::Layer<CallService> + Send + Sync + 'static,
        L::Service: tower::Service<
                crate::client::CallRequest,
                Response = crate::client::CallResponse,
                Error = crate::Status,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<crate::client::CallRequest>>::Future: Send + 'static,
    {
        self.options
            .call_wrappers
            .push(move |inner| CallService::new(layer.layer(inner)));
        self
    }

    /// Wraps every message the service's subscribers handle in `layer` (go-micro's
    /// `WrapSubscriber`): it sees the topic, the message and its decoded payload, and may
    /// fail the delivery instead of the subscriber.
    pub fn wrap_subscriber<L>(mut self, layer: L) -> Service
    where
        L: tower::Layer<SubscriberService> + Send + Sync + 'static,
        L::Service: tower::Service<SubscriberRequest, Response = (), Error = crate::BoxError>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<SubscriberRequest>>::Future: Send + 'static,
    {
        self.options
            .subscriber_wrappers
            .push(move |inner| SubscriberService::new(layer.layer(inner)));
        self
    }

    /// Checks every call this service serves: tokens inspected by the [`Auth`](crate::auth::Auth),
    /// access decided by the [`Rules`](crate::auth::Rules) (see [`auth`](crate::auth)). Beats
    /// `--auth`.
    pub fn auth(mut self, auth: ServerAuth) -> Service {
        self.options.auth.set_server(auth);
        self
    }

    /// The service's own account (`--auth-id`/`--auth-secret`): its clients get tokens with
    /// it, refresh them before they expire, and send them on every call.
    pub fn account(mut self, id: &str, secret: &str) -> Service {
        self.options.auth.set_account(id, secret);
        self
    }

    /// Serves the port over TLS with a certificate naming this service, issued by the CA and
    /// renewed before it expires; callers must present one too unless the options say
    /// otherwise. The service's clients ([`client`](Self::client)) present theirs and accept
    /// only servers whose certificate names the service they call.
    #[cfg(feature = "auth-tls")]
    pub fn tls(mut self, tls: crate::auth::ServiceTls) -> Service {
        self.options.auth.set_tls(tls);
        self
    }

    /// Applies flags parsed by the program's own parser; [`run`](Self::run) then parses none.
    pub fn flags(mut self, flags: Flags) -> Service {
        self.flags = Some(flags);
        self
    }

    /// Parses the command line and `MICRO_*` variables now, so [`client`](Self::client)
    /// sees them too; `--help` prints the flags and exits 0, a bad value exits 2.
    pub fn parse_flags(self) -> Service {
        self.flags(Cli::parse().flags)
    }

    /// A client that finds services in this service's registry (the same instance, so one
    /// mDNS daemon), configured by the `--client-*` and `--selector` flags, and naming this
    /// service in `Micro-From-Service`. Handlers use it to call other services:
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), micro::service::Error> {
    /// let service = micro::Service::new("frontend").parse_flags();
    /// let client = service.client()?;
    /// // let greeter = HelloworldClient::new(client);
    /// // service.handle(FrontendServer::new(Frontend { greeter })).run().await
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> Result<Client, Error> {
        let options = self.options_with_flags()?;
        let registry = self.shared_registry(&options)?;
        let mut builder = Client::builder()
            .registry(registry)
            .max_message_size(options.max_message_size)
            .json_options(options.json.clone())
            .caller(&options.name)
            .call_wrappers(options.call_wrappers.clone());
        if let Some(flags) = &self.flags {
            builder = builder.client_flags(flags);
        }
        builder = builder.auth(self.shared_auth(&options)?, &options.name);
        builder = builder.broker(self.shared_broker(&options)?);
        if options.metrics_on {
            builder = builder.metrics(options.metrics.clone());
        }
        builder = builder.telemetry(self.shared_telemetry(&options)?);
        builder
            .build()
            .map_err(|err: client::Error| Error::config(err.to_string()))
    }

    fn shared_registry(&self, options: &Options) -> Result<Arc<dyn Registry>, Error> {
        built_once(&self.registry, || {
            let tls = &options.backend_tls.registry;
            options
                .registry
                .build(|name, addresses| registry::build_with_tls(name, addresses, tls))
        })
    }

    fn shared_telemetry(&self, options: &Options) -> Result<Telemetry, Error> {
        built_once(&self.telemetry, || {
            let telemetry = Telemetry::from_env(&options.name, &options.id)
                .map_err(|err| Error::config(err.to_string()))?;
            // The calls counted for /metrics go over OTLP too, if metrics are exported.
            options.metrics.export(&telemetry);
            Ok(telemetry)
        })
    }

    fn shared_auth(&self, options: &Options) -> Result<crate::auth::Resolved, Error> {
        built_once(&self.auth, || {
            options
                .auth
                .build()
                .map_err(|err| Error::config(err.to_string()))
        })
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.options.name
    }

    /// This instance's id (`--server-id`, else a UUID made by [`new`](Self::new)).
    pub fn id(&self) -> String {
        self.options_with_flags()
            .map_or_else(|_| self.options.id.clone(), |options| options.id)
    }

    /// Runs until SIGINT or SIGTERM, then stops gracefully (see [`RunningService::stop`]): the
    /// node deregisters, readiness and health turn `NOT_SERVING`, new connections are refused,
    /// and in-flight calls get the shutdown timeout to finish.
    ///
    /// Unless [`flags`](Self::flags) was called, this first parses the command line and
    /// `MICRO_*` variables; `--help` prints them and exits 0, a bad value exits 2. It also
    /// installs a log subscriber (level from `MICRO_LOG_LEVEL` or `RUST_LOG`, default `info`)
    /// if the program has not set one.
    pub async fn run(mut self) -> Result<(), Error> {
        crate::log::init();
        if self.flags.is_none() {
            self.flags = Some(Cli::parse().flags);
        }
        let signal = running::ShutdownSignal::install()?;
        let running = self.start().await?;
        signal.recv().await;
        tracing::info!(service = %running.name(), "shutting down");
        running.stop().await
    }

    /// Starts serving in the background and returns once the port is open.
    ///
    /// Unlike [`run`](Self::run) it reads no command line and waits for no signal: for tests
    /// and programs that manage the lifecycle themselves.
    pub async fn start(self) -> Result<RunningService, Error> {
        let options = self.options_with_flags()?;
        self.hooks.run(Stage::BeforeStart, &options.name).await?;
        let registry = self.shared_registry(&options)?;
        let auth = self.shared_auth(&options)?;
        let telemetry = self.shared_telemetry(&options)?;
        let broker = match self.subscriptions.is_empty() {
            true => None,
            false => Some(self.shared_broker(&options)?),
        };
        let name = options.name.clone();
        let wrappers = crate::middleware::assemble(&options.subscriber_wrappers);
        let probes = Arc::new(crate::server::Probes::new(self.checks));
        let mut running = RunningService::start(
            options,
            self.handlers,
            registry,
            auth,
            probes,
            telemetry.clone(),
        )
        .await?;
        if let Some(broker) = broker {
            let delivery = pubsub::Delivery {
                service: Arc::from(name.as_str()),
                wrappers,
                telemetry,
                system: Arc::from(broker.name()),
            };
            let subscribers = pubsub::start(&broker, &self.subscriptions, delivery).await?;
            running.hold(subscribers);
        }
        if let Err(err) = self.hooks.run(Stage::AfterStart, &name).await {
            // Stop what was started; its stop hooks are for a service that started.
            if let Err(stop) = running.stop().await {
                tracing::warn!(service = %name, error = %stop, "stopping after a failed after_start hook failed");
            }
            return Err(err);
        }
        running.hooks(self.hooks);
        Ok(running)
    }

    fn options_with_flags(&self) -> Result<Options, Error> {
        let mut options = self.options.clone();
        if let Some(flags) = &self.flags {
            options.apply(flags);
        }
        options.validate(&self.handlers)?;
        options.subscriber_endpoints = self.subscriber_endpoints();
        Ok(options)
    }
}

/// The value in `cell`, built by `build` the first time.
fn built_once<T: Clone>(
    cell: &Mutex<Option<T>>,
    build: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let mut shared = cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(value) = &*shared {
        return Ok(value.clone());
    }
    let value = build()?;
    *shared = Some(value.clone());
    Ok(value)
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let handlers: Vec<&str> = self.handlers.iter().map(|h| h.info().name).collect();
        f.debug_struct("Service")
            .field("options", &self.options)
            .field("handlers", &handlers)
            .finish_non_exhaustive()
    }
}

/// What [`Service::handle`] takes: a [`Handler`] (generated `<Svc>Server`s are one), or a type
/// marked [`#[micro::handler]`](macro@crate::handler), which mounts its endpoints and its
/// subscribers.
pub trait Mount {
    /// Adds itself to `service`.
    fn mount(self, service: Service) -> Service;
}

impl<H: Handler> Mount for H {
    fn mount(self, mut service: Service) -> Service {
        service.handlers.push(Arc::new(self));
        service
    }
}
