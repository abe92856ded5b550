//! The services every micro server runs beside the user's: health and reflection.

use std::convert::Infallible;
use std::sync::Arc;

use tonic::server::NamedService;
use tower::util::BoxCloneSyncService;

use super::Error;
use super::health::GrpcHealth;
use super::probes::Probes;
use super::{Body, Handler};

/// A built-in gRPC service, type-erased.
pub(crate) type BuiltinService =
    BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// `grpc.health.v1.Health` and server reflection (v1 for buf, v1alpha for grpcurl).
pub(crate) struct Builtins {
    pub(crate) services: Vec<(&'static str, BuiltinService)>,
}

impl Builtins {
    /// Builds health and reflection for `handlers`; health answers for the overall service
    /// (`""`), `service_name` and each handler, from the readiness `probes` report.
    pub(crate) fn new(
        service_name: &str,
        handlers: &[Arc<dyn Handler>],
        probes: Arc<Probes>,
    ) -> Result<Builtins, Error> {
        let health_names = (handlers.iter())
            .map(|h| h.info().name.to_owned())
            .chain([service_name.to_owned()]);
        Ok(Builtins {
            services: vec![
                named(GrpcHealth::server(probes, health_names)),
                named(reflection(handlers).build_v1().map_err(reflection_error)?),
                named(
                    reflection(handlers)
                        .build_v1alpha()
                        .map_err(reflection_error)?,
                ),
            ],
        })
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
