//! A started service and its orderly shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::hooks::{Hooks, Stage};
use super::registration::Registration;
use super::{Error, ErrorKind, Options};
use crate::auth::Gatekeeper;
use crate::net;
use crate::registry::{self, Registry};
use crate::server::call::CallSettings;
use crate::server::{Builtins, Handler, Probes, Router, ServeOptions, serve, serve_probes};
use crate::telemetry::Telemetry;

/// A service that is serving. Stop it with [`stop`](Self::stop); dropping it stops it abruptly.
#[derive(Debug)]
pub struct RunningService {
    options: Options,
    local_addr: SocketAddr,
    registration: Option<Registration>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<usize>,
    /// The probe port (`--health-address`), if any: its address, its stop and its task.
    probe_port: Option<ProbePort>,
    subscribers: Vec<crate::broker::Subscriber>,
    /// The service's lifecycle hooks, for its stop.
    hooks: Hooks,
    /// Its readiness, as the HTTP probes answer it.
    probes: Arc<Probes>,
    /// Where its spans are exported, flushed when it stops.
    telemetry: Telemetry,
}

impl RunningService {
    pub(super) async fn start(
        mut options: Options,
        handlers: Vec<Arc<dyn Handler>>,
        registry: Arc<dyn Registry>,
        auth: crate::auth::Resolved,
        probes: Arc<Probes>,
        telemetry: Telemetry,
    ) -> Result<RunningService, Error> {
        let builtins = Builtins::new(&options.name, &handlers, probes.clone())?;
        let listener = net::bind(&options.address).await?;
        let local_addr = listener.local_addr().map_err(|err| {
            Error::new(
                ErrorKind::Bind,
                format!("cannot read the listening address: {err}"),
            )
        })?;
        let advertised = net::advertised_address(local_addr, options.advertise.as_deref());
        let probe_listener = match &options.health_address {
            Some(address) => Some(bind_probe_port(address).await?),
            None => None,
        };
        if let Some((_, probe_addr)) = &probe_listener {
            let health = probe_advertised(*probe_addr, &advertised);
            options.metadata.insert("health".to_owned(), health);
        }
        let mut registration = Registration::new(registry, &options, &handlers, advertised);
        let settings = CallSettings {
            service: Arc::from(options.name.as_str()),
            max_message_size: options.max_message_size,
            compress_responses: options.compress_responses,
            json: Arc::new(options.json.clone()),
            gatekeeper: auth
                .server
                .map(|server| Arc::new(Gatekeeper::new(server, Arc::from(options.name.as_str())))),
            metrics: options.metrics_on.then(|| options.metrics.clone()),
            wrappers: crate::middleware::assemble(&options.handler_wrappers),
            telemetry: telemetry.clone(),
        };
        let services: Vec<&str> = handlers.iter().map(|h| h.info().name).collect();
        let router = Arc::new(Router::new(handlers, &builtins, settings, probes.clone())?);
        let (shutdown, signal) = oneshot::channel::<()>();
        let serve_options = ServeOptions {
            drain_timeout: options.shutdown_timeout,
            gather_writes: options.gather_writes,
            cors: options.cors.layer()?.map(Arc::new),
            layers: options.layers.clone(),
            #[cfg(feature = "auth-tls")]
            tls: auth
                .tls
                .as_ref()
                .map(|tls| tls.server(&options.name))
                .transpose()
                .map_err(|err| Error::config(err.to_string()))?,
        };
        let task = tokio::spawn(serve(listener, router.clone(), serve_options, async {
            // A dropped sender also means stop.
            let _ = signal.await;
        }));
        let probe_port = probe_listener.map(|(listener, local_addr)| {
            let (shutdown, signal) = oneshot::channel::<()>();
            let task = tokio::spawn(serve_probes(listener, router.clone(), async {
                let _ = signal.await;
            }));
            tracing::info!(service = %options.name, "serving probes and metrics on {local_addr} (plain HTTP)");
            ProbePort {
                local_addr,
                shutdown: Some(shutdown),
                task,
            }
        });
        tracing::info!(
            service = %options.name,
            version = %options.version,
            id = %options.id,
            "listening on {local_addr} (gRPC, gRPC-Web, Connect, JSON; reflection, health): {}",
            services.join(", ")
        );
        let mut running = RunningService {
            options,
            local_addr,
            registration: None,
            shutdown: Some(shutdown),
            task,
            probe_port,
            subscribers: Vec::new(),
            hooks: Hooks::default(),
            probes,
            telemetry,
        };
        // Register only once the port answers; a failure stops what was started.
        registration.start().await?;
        running.registration = Some(registration);
        running.probes.set_registered(true);
        Ok(running)
    }

    /// Runs `hooks`' stop hooks when it stops.
    pub(super) fn hooks(&mut self, hooks: Hooks) {
        self.hooks = hooks;
    }

    /// Runs the service's subscribers until it stops.
    pub(super) fn hold(&mut self, subscribers: Vec<crate::broker::Subscriber>) {
        self.subscribers = subscribers;
    }

    /// The registry entry of this node: name, version, endpoints and the node's address.
    pub fn registration(&self) -> Option<&registry::Service> {
        self.registration.as_ref().map(Registration::entry)
    }

    /// The address the service listens on (with the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where the probe port (`--health-address`) listens, if the service has one.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.probe_port.as_ref().map(|port| port.local_addr)
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.options.name
    }

    /// This instance's id.
    pub fn id(&self) -> &str {
        &self.options.id
    }

    /// Stops gracefully, in this order: the `before_stop` hooks run; the node leaves the
    /// registry, so no new caller finds it; readiness turns false (`GET /health/ready` answers
    /// 503, `grpc.health.v1` `NOT_SERVING`); subscribers unsubscribe; the listener closes and
    /// open connections get GOAWAY; in-flight calls get the shutdown timeout to finish before
    /// their connections are closed; the `after_stop` hooks run; the spans still queued for
    /// OpenTelemetry are sent. A failing hook is logged; stopping goes on.
    pub async fn stop(mut self) -> Result<(), Error> {
        let hooks = std::mem::take(&mut self.hooks);
        hooks
            .run_logged(Stage::BeforeStop, &self.options.name)
            .await;
        // Leave the registry before anything else, so no new callers find this node; callers
        // that still hold it retry elsewhere once its port refuses them.
        if let Some(registration) = self.registration.as_mut() {
            registration.stop().await;
        }
        self.probes.set_registered(false);
        self.probes.set_draining();
        tracing::info!(service = %self.options.name, "not ready: draining");
        for subscriber in self.subscribers.drain(..) {
            let topic = subscriber.topic().to_owned();
            if let Err(err) = subscriber.unsubscribe().await {
                tracing::warn!(%topic, error = %err, "unsubscribing failed");
            }
        }
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let cut_off = (&mut self.task).await.map_err(|err| {
            Error::new(ErrorKind::Serve, format!("the server task failed: {err}")).with_source(err)
        })?;
        // The probe port answers "not ready" until the service's port has drained.
        if let Some(mut port) = self.probe_port.take() {
            if let Some(shutdown) = port.shutdown.take() {
                let _ = shutdown.send(());
            }
            if let Err(err) = port.task.await {
                tracing::warn!(error = %err, "the probe port's task failed");
            }
        }
        tracing::info!(service = %self.options.name, cut_off, "stopped");
        hooks.run_logged(Stage::AfterStop, &self.options.name).await;
        self.telemetry.shutdown().await;
        Ok(())
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        if self.shutdown.is_some() {
            self.task.abort();
        }
        if let Some(port) = &self.probe_port {
            port.task.abort();
        }
    }
}

/// The plain-HTTP port that serves only the probes and the metrics.
#[derive(Debug)]
struct ProbePort {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Binds `--health-address`.
async fn bind_probe_port(address: &str) -> Result<(tokio::net::TcpListener, SocketAddr), Error> {
    let named = |err: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::Bind,
            format!("the probe port (--health-address {address}): {err}"),
        )
    };
    let listener = net::bind(address).await.map_err(|err| named(&err))?;
    let local_addr = listener.local_addr().map_err(|err| named(&err))?;
    Ok((listener, local_addr))
}

/// The probe port's address as others reach it: its own when bound to one IP, else the
/// advertised host with the probe port.
fn probe_advertised(probe: SocketAddr, advertised: &str) -> String {
    if !probe.ip().is_unspecified() {
        return probe.to_string();
    }
    let host = advertised
        .rsplit_once(':')
        .map_or(advertised, |(host, _)| host);
    format!("{host}:{}", probe.port())
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from creation on, so that a signal sent while the
/// service starts is not lost.
pub(super) struct ShutdownSignal {
    #[cfg(unix)]
    signals: Vec<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    pub(super) fn install() -> Result<ShutdownSignal, Error> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = [SignalKind::interrupt(), SignalKind::terminate()]
                .into_iter()
                .map(signal)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| {
                    Error::new(
                        ErrorKind::Serve,
                        format!("cannot listen for SIGINT/SIGTERM: {err}"),
                    )
                    .with_source(err)
                })?;
            Ok(ShutdownSignal { signals })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignal {})
    }

    /// Resolves when either signal arrives.
    pub(super) async fn recv(mut self) {
        #[cfg(unix)]
        {
            let any = futures_util::future::select_all(
                self.signals
                    .iter_mut()
                    .map(|signal| Box::pin(signal.recv())),
            );
            any.await;
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
