//! Asks a service's `grpc.health.v1` how it is.

use std::fmt;

use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::Client;
use crate::Status;
use crate::client::CallTarget;
use crate::rpc::{MethodInfo, RpcKind, ServiceInfo};

/// What a node's health service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthStatus {
    /// It serves.
    Serving,
    /// It runs but does not serve (shutting down, or a dependency is down).
    NotServing,
    /// It does not know, or sent a status this version does not know.
    Unknown,
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HealthStatus::Serving => "SERVING",
            HealthStatus::NotServing => "NOT_SERVING",
            HealthStatus::Unknown => "UNKNOWN",
        })
    }
}

static HEALTH: ServiceInfo = ServiceInfo {
    name: "grpc.health.v1.Health",
    package: "grpc.health.v1",
    handler: "Health",
    methods: &[MethodInfo {
        name: "Check",
        path: "/grpc.health.v1.Health/Check",
        endpoint: "Health.Check",
        kind: RpcKind::Unary,
        input: "grpc.health.v1.HealthCheckRequest",
        output: "grpc.health.v1.HealthCheckResponse",
    }],
    file_descriptor_set: &[],
};

/// Checks the health of `service` (the overall status, as health checkers ask it), on a node
/// the client picks or the one at `address`. Not retried: each node answers for itself.
pub async fn check_health(
    client: &Client,
    service: &str,
    address: Option<&str>,
) -> Result<HealthStatus, Status> {
    let target = CallTarget {
        service: service.into(),
        info: &HEALTH,
        method: &HEALTH.methods[0],
    };
    let request = HealthCheckRequest {
        service: String::new(),
    };
    let mut call = client
        .unary::<_, HealthCheckResponse>(target, request)
        .retries(0);
    if let Some(address) = address {
        call = call.address(address);
    }
    let reply = call.await?;
    Ok(match ServingStatus::try_from(reply.status) {
        Ok(ServingStatus::Serving) => HealthStatus::Serving,
        Ok(ServingStatus::NotServing) => HealthStatus::NotServing,
        _ => HealthStatus::Unknown,
    })
}
