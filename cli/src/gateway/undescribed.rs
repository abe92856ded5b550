//! Services that serve no gRPC reflection (go-micro before v6.10): called as go-micro's own
//! gateway calls them. The endpoint must be one the service registered; the request JSON goes
//! as is, through the client stack (`application/json` over go-micro's RPC protocol to
//! `protocol=mucp` nodes, `application/grpc+json` to gRPC ones), and the service's JSON reply
//! comes back as it is. Without descriptors there is nothing to check fields against or to
//! stream with: the service judges the request, and streaming endpoints are refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::response::Response;
use http::{HeaderMap, StatusCode};
use micro::registry::{Cache, Endpoint};
use micro::{Code, Status};
use serde_json::Value;

use super::error::GatewayError;
use super::route::Target;
use super::{Shared, headers};
use micro::http_rule;

/// How long a service found without reflection is called this way before reflection is
/// tried again (it may have been redeployed with it).
const RECHECK: Duration = Duration::from_secs(30);

/// The services found to serve no reflection, and the registry as this path reads it.
pub(super) struct Undescribed {
    registry: Cache,
    since: Mutex<HashMap<String, Instant>>,
}

impl Undescribed {
    pub(super) fn new(registry: Cache) -> Undescribed {
        Undescribed {
            registry,
            since: Mutex::default(),
        }
    }

    /// Whether `service` was found without reflection lately.
    pub(super) fn known(&self, service: &str) -> bool {
        let since = self
            .since
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        since.get(service).is_some_and(|at| at.elapsed() < RECHECK)
    }

    /// Notes that fetching `service`'s descriptors failed with `status`, if that says the
    /// service serves no reflection (it answered, but not to reflection).
    pub(super) fn note(&self, service: &str, status: &Status) {
        if status.code() == Code::Unimplemented {
            let mut since = self
                .since
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            since.insert(service.to_owned(), Instant::now());
        }
    }

    /// The endpoint `target` names (in any case, or by its method alone), as its service
    /// registered it.
    async fn registered(&self, target: &Target) -> Option<Endpoint> {
        let versions = self.registry.get_service(&target.service).await.ok()?;
        let mut endpoints: Vec<Endpoint> = versions
            .into_iter()
            .flat_map(|version| version.endpoints)
            .collect();
        let names: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
        let name =
            crate::endpoint_name::find(&target.service, &names, &target.endpoint)?.to_owned();
        let index = endpoints
            .iter()
            .position(|endpoint| endpoint.name == name)?;
        Some(endpoints.swap_remove(index))
    }
}

/// Calls `target` with the JSON `body` as is, if its service registered the endpoint;
/// otherwise `unfound`, the error finding its descriptors gave.
pub(super) async fn call(
    gateway: &Shared,
    target: &Target,
    headers: &HeaderMap,
    body: &[u8],
    unfound: GatewayError,
) -> Result<Response, GatewayError> {
    let Some(endpoint) = gateway.undescribed.registered(target).await else {
        return Err(unfound);
    };
    if endpoint.metadata.get("stream").map(String::as_str) == Some("true") {
        return Err(GatewayError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "`{}` streams, and `{}` serves no gRPC reflection to describe its messages, so \
                 the gateway cannot stream it; serve reflection (go-micro v6.10+, every micro \
                 service) or call it with go-micro's client",
                endpoint.name, target.service
            ),
        ));
    }
    let request: Value = http_rule::parse_body(body)?;
    let client = &gateway.env.client;
    let call = client.call::<Value, Value>(&target.service, &endpoint.name, request);
    let reply = headers::forward(&gateway.env, headers, call)
        .await
        .map_err(|status| GatewayError::from_status(&status, &target.service))?;
    Ok(super::handler::json_response(reply.to_string()))
}
