//! The services every micro server runs beside the user's: health and reflection.

use std::convert::Infallible;
use std::sync::Arc;

use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::util::BoxCloneSyncService;

use super::Error;
use super::{Body, Handler};

/// A built-in gRPC service, type-erased.
pub(crate) type BuiltinService =
    BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// `grpc.health.v1.Health` and server reflection (v1 for buf, v1alpha for grpcurl).
pub(crate) struct Builtins {
    pub(crate) services: Vec<(&'static str, BuiltinService)>,
    health: HealthReporter,
    /// Every name health answers for, besides the overall `""`.
    health_names: Vec<String>,
}

impl Builtins {
    /// Builds health and reflection for `handlers`, reporting them all `SERVING`.
    pub(crate) async fn new(
        service_name: &str,
        handlers: &[Arc<dyn Handler>],
    ) -> Result<Builtins, Error> {
        let (health, health_server) = tonic_health::server::health_reporter();
        let mut health_names: Vec<String> =
            handlers.iter().map(|h| h.info().name.to_owned()).collect();
        health_names.push(service_name.to_owned());
        let builtins = Builtins {
            services: vec![
                named(health_server),
                named(reflection(handlers).build_v1().map_err(reflection_error)?),
                named(
                    reflection(handlers)
                        .build_v1alpha()
                        .map_err(reflection_error)?,
                ),
            ],
            health,
            health_names,
        };
        builtins.set_status(ServingStatus::Serving).await;
        Ok(builtins)
    }

    /// A handle to flip health when the service stops.
    pub(crate) fn health(&self) -> Health {
        Health {
            reporter: self.health.clone(),
            names: self.health_names.clone(),
        }
    }

    async fn set_status(&self, status: ServingStatus) {
        self.health().set(status).await;
    }
}

/// Sets the health of everything a server serves at once.
#[derive(Clone, Debug)]
pub(crate) struct Health {
    reporter: HealthReporter,
    names: Vec<String>,
}

impl Health {
    pub(crate) async fn set(&self, status: ServingStatus) {
        self.reporter.set_service_status("", status).await;
        for name in &self.names {
            self.reporter.set_service_status(name, status).await;
        }
    }
}

/// A reflection builder that knows every service on the port, including both reflection
/// versions, so that either version lists everything.
fn reflection(handlers: &[Arc<dyn Handler>]) -> tonic_reflection::server::Builder<'static> {
    let builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET);
    handlers.iter().fold(builder, |builder, handler| {
        builder.register_encoded_file_descriptor_set(handler.info().file_descriptor_set)
    })
}

fn named<S>(service: S) -> (&'static str, BuiltinService)
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    (S::NAME, BoxCloneSyncService::new(service))
}

fn reflection_error(err: tonic_reflection::server::Error) -> Error {
    Error::config(format!(
        "cannot serve reflection: the embedded descriptors are invalid: {err}"
    ))
    .with_source(err)
}
