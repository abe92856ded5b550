//! The mDNS registry, inside network namespaces this test creates, so no multicast reaches the
//! machine's network card. Each test re-runs itself in its own namespace.

mod support;

use std::sync::Arc;
use std::time::Duration;

use micro::registry::{self, Action, MdnsRegistry, Node, Registry, Service};
use micro_test_support::{in_network_namespace, run_in_network_namespace};

/// Runs the test body inside a fresh network namespace.
macro_rules! in_namespace {
    ($name:literal) => {
        if !in_network_namespace() {
            return run_in_network_namespace($name);
        }
    };
}

#[tokio::test]
async fn mdns_registry_conformance() {
    in_namespace!("mdns_registry_conformance");
    registry::conformance::run(Arc::new(MdnsRegistry::new())).await;
}

fn node_service(name: &str, id: &str, port: u16) -> Service {
    Service {
        name: name.into(),
        version: "1.2.3".into(),
        nodes: vec![Node {
            id: id.into(),
            address: format!("127.0.0.1:{port}"),
            ..Node::default()
        }],
        ..Service::default()
    }
}

#[tokio::test]
async fn one_host_finds_what_another_registered() {
    in_namespace!("one_host_finds_what_another_registered");
    // Two registries, two sockets: as two processes on the network.
    let publisher = MdnsRegistry::new();
    let finder = MdnsRegistry::new();
    let mut watcher = finder.watch(Some("greeter")).await.unwrap();
    let service = node_service("greeter", "greeter-1", 4321);
    let registered = tokio::time::Instant::now();
    publisher
        .register(&service, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let created = tokio::time::timeout(Duration::from_secs(5), watcher.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(created.action, Action::Create);
    assert!(
        registered.elapsed() < Duration::from_secs(1),
        "seen after {:?}",
        registered.elapsed()
    );
    assert_eq!(created.service.nodes[0].address, "127.0.0.1:4321");
    let found = finder.get_service("greeter").await.unwrap();
    assert_eq!(found[0].version, "1.2.3");
    assert_eq!(found[0].nodes[0].id, "greeter-1");
    let listed = finder.list_services().await.unwrap();
    assert!(listed.iter().any(|s| s.name == "greeter"), "{listed:?}");

    publisher.deregister(&service).await.unwrap();
    let deleted = tokio::time::timeout(Duration::from_secs(5), watcher.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (deleted.action, deleted.service.nodes[0].id.as_str()),
        (Action::Delete, "greeter-1")
    );
    assert!(finder.get_service("greeter").await.is_err());
}

#[tokio::test]
async fn a_service_registers_over_mdns_and_is_called_by_what_was_found() {
    in_namespace!("a_service_registers_over_mdns_and_is_called_by_what_was_found");
    let service = support::kitchen_service(support::TestKitchen::default())
        .registry(Arc::new(MdnsRegistry::new()))
        .start()
        .await
        .unwrap();
    let finder = MdnsRegistry::new();
    let found = finder.get_service("kitchen").await.unwrap();
    let node = &found[0].nodes[0];
    assert_eq!(
        node.metadata.get("registry").map(String::as_str),
        Some("mdns")
    );
    assert!(found[0].endpoints.iter().any(|e| e.name == "Kitchen.Get"));
    let client = micro::Client::connect(&node.address).unwrap();
    let kitchen = support::kitchen::KitchenClient::new(client);
    let reply = kitchen
        .get(support::kitchen::GetRequest { id: "mdns".into() })
        .await
        .unwrap();
    assert_eq!(reply.id, "mdns");
    service.stop().await.unwrap();
    assert!(
        finder.get_service("kitchen").await.is_err(),
        "the node is gone after stop"
    );
}
