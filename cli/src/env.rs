//! [`Env`]: what commands work with, built from the global options: the registry, a client
//! on it, and the descriptor catalog for calls without generated code.

use std::sync::Arc;

use anyhow::Context as _;
use micro::Client;
use micro::auth::ServiceTls;
use micro::client::ClientBuilder;
use micro::dynamic::Catalog;
use micro::registry::Registry;

use crate::{Global, Output};

/// The registry, client and output every command uses.
#[derive(Clone)]
pub struct Env {
    /// Where services are found.
    pub registry: Arc<dyn Registry>,
    /// The registry as the user chose it (`mdns`, `etcd at 127.0.0.1:2379`), for messages.
    pub registry_label: String,
    /// Calls services through the registry: load balanced, retried on another node.
    pub client: Client,
    /// Descriptors of the services called, fetched by gRPC reflection.
    pub catalog: Catalog,
    /// How results are printed.
    pub output: Output,
    /// The global options.
    pub global: Global,
}

impl Env {
    /// Builds the registry and client the options ask for.
    pub fn new(global: &Global) -> anyhow::Result<Env> {
        let registry = micro::registry::build(&global.registry, &global.registry_address)
            .context("cannot open the registry")?;
        Env::with_registry(global, registry)
    }

    /// Like [`new`](Self::new), on a registry built elsewhere (an in-process one, say).
    pub fn with_registry(global: &Global, registry: Arc<dyn Registry>) -> anyhow::Result<Env> {
        let client = tls(Client::builder(), global)
            .registry(registry.clone())
            .timeout(global.timeout)
            .caller("micro")
            .build()
            .context("cannot build the client")?;
        Ok(Env {
            registry_label: registry_label(global),
            catalog: Catalog::new(client.clone()),
            registry,
            client,
            output: global.output,
            global: global.clone(),
        })
    }

    /// Adds the `--token` (if any) to a call.
    pub fn authorize<T: Send + 'static>(&self, call: micro::Call<T>) -> micro::Call<T> {
        match &self.global.token {
            Some(token) => call.metadata("authorization", &format!("Bearer {token}")),
            None => call,
        }
    }

    /// What to tell a user whose service was not found: which registry was asked and how to
    /// ask another.
    pub fn not_found_hint(&self) -> String {
        format!(
            "asked the {} registry; pick another with --registry etcd --registry-address \
             HOST:PORT (or MICRO_REGISTRY / MICRO_REGISTRY_ADDRESS), and see what is \
             registered with `micro services`",
            self.registry_label
        )
    }
}

/// TLS from `--tls-cert-file`/`--tls-key-file` and `--tls-ca-file`.
fn tls(builder: ClientBuilder, global: &Global) -> ClientBuilder {
    match (&global.tls_cert_file, &global.tls_key_file) {
        (Some(cert), Some(key)) => {
            let tls = ServiceTls::from_files(cert, key);
            let tls = match &global.tls_ca_file {
                Some(ca) => tls.trust(ca),
                None => tls,
            };
            builder.tls(&tls, "micro")
        }
        _ => match &global.tls_ca_file {
            Some(ca) => builder.tls_ca_file(ca),
            None => builder,
        },
    }
}

fn registry_label(global: &Global) -> String {
    match global.registry_address.as_slice() {
        [] => global.registry.clone(),
        addresses => format!("{} ({})", global.registry, addresses.join(",")),
    }
}
