//! `grpc.health.v1.Health`, answered from the same readiness as `GET /health/ready`:
//! `SERVING` only while the node is registered, not draining and every check passes.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use futures_util::stream::{self, StreamExt};
use tokio::sync::watch;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use super::probes::Probes;

/// How often a `Watch` runs the program's checks again, while someone watches. Lifecycle
/// changes (registered, draining) are sent at once, without waiting for it.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// The health service: one readiness for the overall service (`""`), the service's name and
/// every handler's full name.
#[derive(Debug, Clone)]
pub(crate) struct GrpcHealth {
    probes: Arc<Probes>,
    names: Arc<HashSet<String>>,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, tonic::Status>> + Send>>;

impl GrpcHealth {
    /// Health for `names` (besides `""`), ready as `probes` say.
    pub(crate) fn server(
        probes: Arc<Probes>,
        names: impl IntoIterator<Item = String>,
    ) -> HealthServer<GrpcHealth> {
        let mut names: HashSet<String> = names.into_iter().collect();
        names.insert(String::new());
        HealthServer::new(GrpcHealth {
            probes,
            names: Arc::new(names),
        })
    }
}

#[tonic::async_trait]
impl Health for GrpcHealth {
    async fn check(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
        let name = request.into_inner().service;
        if !self.names.contains(&name) {
            return Err(tonic::Status::not_found(format!(
                "no service named {name:?} here"
            )));
        }
        Ok(tonic::Response::new(reply(status(&self.probes).await)))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<WatchStream>, tonic::Status> {
        let name = request.into_inner().service;
        if !self.names.contains(&name) {
            // As the protocol asks: say so, and keep the call open (the set never changes).
            let unknown = stream::once(async { Ok(reply(ServingStatus::ServiceUnknown)) });
            return Ok(tonic::Response::new(Box::pin(
                unknown.chain(stream::pending()),
            )));
        }
        let changes = self.probes.subscribe();
        Ok(tonic::Response::new(Box::pin(watching(
            self.probes.clone(),
            changes,
        ))))
    }
}

/// What a watcher is told and when: the status now, then each change. Once the service
/// drains, the stream ends after `NOT_SERVING`, so that it does not hold the drain up.
fn watching(
    probes: Arc<Probes>,
    changes: watch::Receiver<()>,
) -> impl Stream<Item = Result<HealthCheckResponse, tonic::Status>> + Send {
    struct State {
        probes: Arc<Probes>,
        changes: watch::Receiver<()>,
        last: Option<ServingStatus>,
        ended: bool,
    }
    let state = State {
        probes,
        changes,
        last: None,
        ended: false,
    };
    stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        loop {
            state.changes.borrow_and_update();
            let now = status(&state.probes).await;
            if state.probes.draining() {
                state.ended = true;
                let last = state.last.replace(ServingStatus::NotServing);
                return match last {
                    Some(ServingStatus::NotServing) => None,
                    _ => Some((Ok(reply(ServingStatus::NotServing)), state)),
                };
            }
            if state.last != Some(now) {
                state.last = Some(now);
                return Some((Ok(reply(now)), state));
            }
            let polling = state.probes.has_checks();
            tokio::select! {
                changed = state.changes.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                () = tokio::time::sleep(WATCH_INTERVAL), if polling => {}
            }
        }
    })
}

async fn status(probes: &Probes) -> ServingStatus {
    match probes.ready().await {
        true => ServingStatus::Serving,
        false => ServingStatus::NotServing,
    }
}

fn reply(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}
