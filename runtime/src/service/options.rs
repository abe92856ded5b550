//! What a [`Service`](super::Service) is configured with: options set in code, then flags.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{Error, SubscriberService};
use crate::BackendTls;
use crate::broker::Broker;
use crate::client::CallService;
use crate::events;
use crate::flags::Flags;
use crate::layers::Layers;
use crate::registry::{self, Registry};
use crate::server::{Cors, Handler, HandlerService, Stack};
use crate::transcode::JsonOptions;

/// What a [`Service`] was configured with, after flags were applied.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) id: String,
    pub(crate) address: String,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) max_message_size: usize,
    pub(crate) compress_responses: bool,
    pub(crate) shutdown_timeout: Duration,
    /// Whether HTTP/2 connections gather replies into fewer writes ([`crate::Service::gather_writes`]).
    pub(crate) gather_writes: bool,
    pub(crate) json: JsonOptions,
    pub(crate) cors: Cors,
    pub(crate) registry: Choice<Arc<dyn Registry>>,
    pub(crate) broker: Choice<Arc<dyn Broker>>,
    pub(crate) events: Choice<Arc<dyn events::EventStream>>,
    pub(crate) store: Choice<Arc<dyn crate::store::Store>>,
    /// `--store-database` and `--store-table`.
    pub(crate) store_scope: (Option<String>, Option<String>),
    pub(crate) sync: Choice<Arc<dyn crate::sync::Coordinator>>,
    /// `--registry-tls-*`, `--broker-tls-*`, `--events-tls-*`, `--sync-tls-*`.
    pub(crate) backend_tls: BackendsTls,
    /// The first config source: defaults the program gave.
    pub(crate) config_defaults: serde_json::Value,
    /// `--config`: the config sources after the defaults, in load order.
    pub(crate) config_sources: Vec<String>,
    pub(crate) register_ttl: Duration,
    pub(crate) register_interval: Duration,
    pub(crate) advertise: Option<String>,
    /// `--health-address`: where the probes are also served over plain HTTP.
    pub(crate) health_address: Option<String>,
    pub(crate) layers: Layers<Stack>,
    /// Handler wrappers, innermost first.
    pub(crate) handler_wrappers: Layers<HandlerService>,
    /// Call wrappers of the service's clients, innermost first.
    pub(crate) call_wrappers: Layers<CallService>,
    /// Subscriber wrappers, innermost first.
    pub(crate) subscriber_wrappers: Layers<SubscriberService>,
    pub(crate) auth: crate::auth::Options,
    /// The registry endpoints of the service's subscribers.
    pub(crate) subscriber_endpoints: Vec<registry::Endpoint>,
    /// The service's metrics registry, and whether the server records and serves it.
    pub(crate) metrics: crate::metrics::Metrics,
    pub(crate) metrics_on: bool,
}

/// TLS to the backends named by flags (not to instances the program built).
#[derive(Debug, Clone, Default)]
pub(crate) struct BackendsTls {
    pub(crate) registry: BackendTls,
    pub(crate) broker: BackendTls,
    pub(crate) events: BackendTls,
    pub(crate) sync: BackendTls,
    pub(crate) config: BackendTls,
}

impl BackendsTls {
    /// Applies the `--<backend>-tls-*` flags: each file given replaces the one set.
    fn apply(&mut self, f: &Flags) {
        overlay(
            &mut self.registry,
            [
                &f.registry_tls_ca,
                &f.registry_tls_cert,
                &f.registry_tls_key,
            ],
        );
        overlay(
            &mut self.broker,
            [&f.broker_tls_ca, &f.broker_tls_cert, &f.broker_tls_key],
        );
        overlay(
            &mut self.events,
            [&f.events_tls_ca, &f.events_tls_cert, &f.events_tls_key],
        );
        overlay(
            &mut self.sync,
            [&f.sync_tls_ca, &f.sync_tls_cert, &f.sync_tls_key],
        );
        overlay(
            &mut self.config,
            [&f.config_tls_ca, &f.config_tls_cert, &f.config_tls_key],
        );
    }
}

/// `tls` with each of the files given (CA, certificate, key) replacing the one it has.
fn overlay(tls: &mut BackendTls, [ca, cert, key]: [&Option<PathBuf>; 3]) {
    for (slot, given) in [
        (&mut tls.ca, ca),
        (&mut tls.cert, cert),
        (&mut tls.key, key),
    ] {
        if given.is_some() {
            slot.clone_from(given);
        }
    }
}

/// Which backend (registry, broker, events) a service uses.
#[derive(Debug, Clone)]
pub(crate) enum Choice<T> {
    /// By name and addresses (flags, or the default).
    Named(String, Vec<String>),
    /// One the program built.
    Instance(T),
}

impl Options {
    /// The name of the broker the service publishes and subscribes with (`http`, `nats`, …),
    /// as its registry node says.
    pub(crate) fn broker_name(&self) -> String {
        match &self.broker {
            Choice::Named(name, _) => name.clone(),
            Choice::Instance(broker) => broker.name().to_owned(),
        }
    }
}

impl<T: Clone> Choice<T> {
    /// The backend: the instance, or `build(name, addresses)`.
    pub(super) fn build<E: std::fmt::Display>(
        &self,
        build: impl FnOnce(&str, &[String]) -> Result<T, E>,
    ) -> Result<T, Error> {
        match self {
            Choice::Instance(backend) => Ok(backend.clone()),
            Choice::Named(name, addresses) => {
                build(name, addresses).map_err(|err| Error::config(err.to_string()))
            }
        }
    }

    /// Applies `--<backend>` and `--<backend>-address`: a name replaces the choice; addresses
    /// alone change those of a named one.
    fn apply(&mut self, name: Option<String>, addresses: Vec<String>) {
        match (name, &mut *self) {
            (Some(name), _) => *self = Choice::Named(name, addresses),
            (None, Choice::Named(_, current)) if !addresses.is_empty() => *current = addresses,
            (None, _) => {}
        }
    }
}

impl Options {
    pub(super) fn apply(&mut self, flags: &Flags) {
        let Flags {
            server_name,
            server_version,
            server_id,
            server_address,
            server_metadata,
            server_max_message_size,
            server_shutdown_timeout,
            server_advertise,
            health_address,
            registry,
            registry_address,
            broker,
            broker_address,
            events,
            events_address,
            store,
            store_address,
            store_database,
            store_table,
            sync,
            sync_address,
            config,
            register_ttl,
            register_interval,
            metrics,
            ..
        } = flags.clone();
        self.name = server_name.unwrap_or(std::mem::take(&mut self.name));
        self.version = server_version.unwrap_or(std::mem::take(&mut self.version));
        self.id = server_id.unwrap_or(std::mem::take(&mut self.id));
        self.address = server_address.unwrap_or(std::mem::take(&mut self.address));
        self.metadata.extend(server_metadata);
        self.max_message_size = server_max_message_size.unwrap_or(self.max_message_size);
        self.shutdown_timeout = server_shutdown_timeout.unwrap_or(self.shutdown_timeout);
        self.advertise = server_advertise.or(self.advertise.take());
        self.health_address = health_address.or(self.health_address.take());
        self.register_ttl = register_ttl.unwrap_or(self.register_ttl);
        self.register_interval = register_interval.unwrap_or(self.register_interval);
        self.metrics_on = metrics.unwrap_or(self.metrics_on);
        self.auth.apply(flags);
        self.registry.apply(registry, registry_address);
        self.broker.apply(broker, broker_address);
        self.events.apply(events, events_address);
        self.store.apply(store, store_address.into_iter().collect());
        self.sync.apply(sync, sync_address);
        self.backend_tls.apply(flags);
        if !config.is_empty() {
            self.config_sources = config;
        }
        self.store_scope = (
            store_database.or(self.store_scope.0.take()),
            store_table.or(self.store_scope.1.take()),
        );
    }

    pub(super) fn validate(&self, handlers: &[Arc<dyn Handler>]) -> Result<(), Error> {
        if self.name.is_empty() {
            return Err(Error::config(
                "the service has no name; pass one to Service::new or --server-name",
            ));
        }
        if self.max_message_size == 0 {
            return Err(Error::config("the maximum message size must be above zero"));
        }
        if self.register_interval.is_zero() || self.register_interval >= self.register_ttl {
            return Err(Error::config(format!(
                "the register interval ({:?}) must be above zero and below the register TTL ({:?}), \
                 or registrations lapse between refreshes",
                self.register_interval, self.register_ttl
            )));
        }
        let mut names: Vec<&str> = handlers.iter().map(|h| h.info().name).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(Error::config(format!(
                "`{}` is handled twice; pass each generated server to Service::handle once",
                pair[0]
            )));
        }
        Ok(())
    }
}
