//! The services the registry lists: their versions, nodes (with each node's health) and
//! endpoints, for `GET api/services` and `GET api/services/{name}`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use futures_util::future::join_all;
use micro::registry::{Endpoint, ErrorKind, Service};
use serde::Serialize;

use super::Dashboard;
use super::error::ApiError;

/// How long a node may take to answer a health check before it is shown as unreachable.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET api/services`: the registry asked and the services in it.
#[derive(Debug, Serialize)]
pub(crate) struct Listing {
    registry: String,
    services: Vec<Summary>,
}

/// A service's name and the versions registered.
#[derive(Debug, Serialize)]
struct Summary {
    name: String,
    versions: Vec<String>,
}

/// `GET api/services/{name}`: a service's nodes with their health, and its endpoints.
#[derive(Debug, Serialize)]
pub(crate) struct Details {
    name: String,
    metadata: BTreeMap<String, String>,
    nodes: Vec<NodeHealth>,
    endpoints: Vec<Endpoint>,
}

/// A node, the version it runs and how its health check went.
#[derive(Debug, Serialize)]
struct NodeHealth {
    id: String,
    address: String,
    version: String,
    metadata: BTreeMap<String, String>,
    /// `SERVING`, `NOT_SERVING`, `UNKNOWN`, or `UNREACHABLE` when the check failed.
    health: String,
    /// Why the check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub(crate) async fn list(State(dashboard): State<Dashboard>) -> Result<Json<Listing>, ApiError> {
    let env = &dashboard.env;
    let services = env
        .registry
        .list_services()
        .await
        .map_err(|err| ApiError::registry(&err, &env.registry_label))?;
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for service in services {
        let known = versions.entry(service.name).or_default();
        if !known.contains(&service.version) {
            known.push(service.version);
        }
    }
    let services = versions
        .into_iter()
        .map(|(name, versions)| Summary { name, versions })
        .collect();
    Ok(Json(Listing {
        registry: env.registry_label.clone(),
        services,
    }))
}

pub(crate) async fn details(
    State(dashboard): State<Dashboard>,
    Path(name): Path<String>,
) -> Result<Json<Details>, ApiError> {
    let versions = lookup(&dashboard, &name).await?;
    let checks = versions.iter().flat_map(|service| {
        let dashboard = &dashboard;
        service
            .nodes
            .iter()
            .map(move |node| check(dashboard, service, node))
    });
    let nodes = join_all(checks).await;
    let first = versions.first();
    Ok(Json(Details {
        metadata: first.map(|s| s.metadata.clone()).unwrap_or_default(),
        endpoints: endpoints(&versions),
        name,
        nodes,
    }))
}

/// Every registered version of `name`; 404 naming the registry asked when there is none.
pub(crate) async fn lookup(dashboard: &Dashboard, name: &str) -> Result<Vec<Service>, ApiError> {
    let env = &dashboard.env;
    match env.registry.get_service(name).await {
        Ok(versions) if !versions.is_empty() => Ok(versions),
        Err(err) if err.kind() != ErrorKind::NotFound => {
            Err(ApiError::registry(&err, &env.registry_label))
        }
        _ => Err(ApiError::not_found(format!(
            "service {name} is not registered; {}",
            env.not_found_hint()
        ))),
    }
}

/// The endpoints of all versions, once each by name, sorted.
fn endpoints(versions: &[Service]) -> Vec<Endpoint> {
    let mut endpoints = BTreeMap::new();
    for endpoint in versions.iter().flat_map(|service| &service.endpoints) {
        endpoints
            .entry(endpoint.name.clone())
            .or_insert_with(|| endpoint.clone());
    }
    endpoints.into_values().collect()
}

async fn check(
    dashboard: &Dashboard,
    service: &Service,
    node: &micro::registry::Node,
) -> NodeHealth {
    let checked =
        micro::dynamic::check_health(&dashboard.env.client, &service.name, Some(&node.address));
    let (health, error) = match tokio::time::timeout(HEALTH_TIMEOUT, checked).await {
        Ok(Ok(status)) => (status.to_string(), None),
        Ok(Err(status)) => ("UNREACHABLE".to_owned(), Some(status.message().to_owned())),
        Err(_) => (
            "UNREACHABLE".to_owned(),
            Some(format!("no answer within {HEALTH_TIMEOUT:?}")),
        ),
    };
    NodeHealth {
        id: node.id.clone(),
        address: node.address.clone(),
        version: service.version.clone(),
        metadata: node.metadata.clone(),
        health,
        error,
    }
}
