//! The memory registry passes the registry conformance suite, and a service registers,
//! refreshes and deregisters its node in it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use micro::registry::{self, MemoryRegistry, Registry};

#[tokio::test]
async fn memory_registry_conformance() {
    registry::conformance::run(Arc::new(MemoryRegistry::new())).await;
}

#[tokio::test]
async fn from_uri_picks_backends_and_explains_unknown_ones() {
    assert_eq!(registry::from_uri("memory://").unwrap().name(), "memory");
    assert_eq!(registry::from_uri("mdns").unwrap().name(), "mdns");
    let err = registry::from_uri("consul://127.0.0.1:8500").unwrap_err();
    assert_eq!(err.kind(), registry::ErrorKind::Config);
    assert!(
        err.to_string()
            .contains("unknown registry `consul`; use mdns, etcd or memory"),
        "{err}"
    );
}

#[tokio::test]
async fn a_service_registers_its_node_endpoints_and_metadata() {
    let registry = Arc::new(MemoryRegistry::new());
    let service = support::kitchen_service(support::TestKitchen::default())
        .registry(registry.clone())
        .metadata("zone", "eu-1")
        .version("2.0.0")
        .start()
        .await
        .unwrap();
    let found = registry.get_service("kitchen").await.unwrap();
    assert_eq!(found.len(), 1);
    let entry = &found[0];
    assert_eq!(entry.version, "2.0.0");
    let node = &entry.nodes[0];
    assert_eq!(node.address, service.local_addr().to_string());
    assert!(node.id.starts_with("kitchen-"), "{}", node.id);
    for (key, value) in [
        ("protocol", "grpc"),
        ("server", "grpc"),
        ("transport", "grpc"),
        ("registry", "memory"),
        ("zone", "eu-1"),
    ] {
        assert_eq!(
            node.metadata.get(key).map(String::as_str),
            Some(value),
            "{key}"
        );
    }
    let endpoint = |name: &str| {
        entry
            .endpoints
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let get = endpoint("Kitchen.Get");
    assert!(get.metadata.is_empty());
    let request = get.request.as_ref().unwrap();
    assert_eq!(
        (
            request.name.as_str(),
            request.values[0].name.as_str(),
            request.values[0].kind.as_str()
        ),
        ("GetRequest", "id", "string")
    );
    let response = get.response.as_ref().unwrap();
    let labels = response.values.iter().find(|v| v.name == "labels").unwrap();
    assert_eq!(labels.kind, "map[string]int64");
    let history = response
        .values
        .iter()
        .find(|v| v.name == "history")
        .unwrap();
    assert_eq!(history.kind, "[]Detail");
    assert_eq!(
        endpoint("Kitchen.Chat")
            .metadata
            .get("stream")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        endpoint("Kitchen.List")
            .metadata
            .get("stream")
            .map(String::as_str),
        Some("true")
    );
    assert!(entry.endpoints.iter().any(|e| e.name == "Pantry.Count"));

    service.stop().await.unwrap();
    let err = registry.get_service("kitchen").await.unwrap_err();
    assert_eq!(err.kind(), registry::ErrorKind::NotFound);
}

#[tokio::test]
async fn the_heartbeat_keeps_a_short_ttl_registration_alive() {
    let registry = Arc::new(MemoryRegistry::new());
    let service = support::kitchen_service(support::TestKitchen::default())
        .registry(registry.clone())
        .register_ttl(Duration::from_secs(2), Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    // Three TTLs later, the node is still there because it was refreshed.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        registry.get_service("kitchen").await.unwrap()[0]
            .nodes
            .len(),
        1
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn an_interval_not_below_the_ttl_is_rejected() {
    let err = support::kitchen_service(support::TestKitchen::default())
        .register_ttl(Duration::from_secs(10), Duration::from_secs(10))
        .start()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("must be above zero and below the register TTL"),
        "{err}"
    );
}
