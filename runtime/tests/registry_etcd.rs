//! The etcd registry against a real etcd: conformance, go-micro's exact format, bad data,
//! an unreachable etcd, and etcd losing everything while a service runs.

#![cfg(feature = "registry-etcd")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use micro::registry::{self, Cache, ErrorKind, EtcdOptions, EtcdRegistry, Registry};
use micro_test_support::EtcdServer;

fn etcd_registry(server: &EtcdServer) -> Arc<dyn Registry> {
    Arc::new(EtcdRegistry::new(EtcdOptions::from_addresses(&[
        server.address()
    ])))
}

async fn raw_client(server: &EtcdServer) -> etcd_client::Client {
    etcd_client::Client::connect([server.address()], None)
        .await
        .unwrap()
}

/// A value exactly as go-micro (v4-v6) writes it into etcd.
const GO_MICRO_VALUE: &str = r#"{"name":"greeter","version":"latest","metadata":null,"endpoints":[{"name":"Greeter.Hello","request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":[{"name":"msg","type":"string","values":null}]},"metadata":{}}],"nodes":[{"id":"greeter-6d0c1d06-5b55-4c34-9a5b-30a2c8d8f2f1","address":"10.0.0.9:41234","metadata":{"broker":"http","protocol":"grpc","registry":"etcd","server":"grpc","transport":"grpc"}}]}"#;

#[tokio::test]
async fn etcd_registry_conformance() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    registry::conformance::run(etcd_registry(&server)).await;
}

#[tokio::test]
async fn reads_what_go_micro_writes_and_writes_what_go_micro_reads() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let mut client = raw_client(&server).await;
    let key = "/micro/registry/greeter/greeter-6d0c1d06-5b55-4c34-9a5b-30a2c8d8f2f1";
    client.put(key, GO_MICRO_VALUE, None).await.unwrap();
    let registry = etcd_registry(&server);
    let services = registry.get_service("greeter").await.unwrap();
    assert_eq!(services[0].nodes[0].address, "10.0.0.9:41234");
    assert_eq!(services[0].endpoints[0].name, "Greeter.Hello");

    // What a micro service writes: the key layout and JSON keys go-micro expects.
    let service = support::kitchen_service(support::TestKitchen::default())
        .registry(registry.clone())
        .start()
        .await
        .unwrap();
    let node_id = service.registration().unwrap().nodes[0].id.clone();
    let stored = client
        .get(format!("/micro/registry/kitchen/{node_id}"), None)
        .await
        .unwrap();
    let kv = &stored.kvs()[0];
    assert_ne!(kv.lease(), 0, "the node is attached to a lease (the TTL)");
    let json: serde_json::Value = serde_json::from_slice(kv.value()).unwrap();
    for key in ["name", "version", "metadata", "endpoints", "nodes"] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(
        json["nodes"].as_array().unwrap().len(),
        1,
        "one node per key"
    );
    assert_eq!(json["nodes"][0]["id"], node_id.as_str());
    assert_eq!(json["nodes"][0]["metadata"]["registry"], "etcd");
    assert_eq!(json["endpoints"][0]["request"]["type"], "GetRequest");
    service.stop().await.unwrap();
    assert!(
        client
            .get(format!("/micro/registry/kitchen/{node_id}"), None)
            .await
            .unwrap()
            .kvs()
            .is_empty()
    );
}

#[tokio::test]
async fn a_corrupt_value_is_skipped() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let mut client = raw_client(&server).await;
    client
        .put("/micro/registry/greeter/garbage", "{not json", None)
        .await
        .unwrap();
    client
        .put("/micro/registry/greeter/good", GO_MICRO_VALUE, None)
        .await
        .unwrap();
    let services = etcd_registry(&server).get_service("greeter").await.unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].nodes.len(), 1);
}

#[tokio::test]
async fn an_unreachable_etcd_is_a_clear_error_at_start() {
    let port = micro_test_support::free_port();
    let registry: Arc<dyn Registry> =
        Arc::new(EtcdRegistry::new(EtcdOptions::from_addresses(&[format!(
            "127.0.0.1:{port}"
        )])));
    let started = std::time::Instant::now();
    let err = support::kitchen_service(support::TestKitchen::default())
        .registry(registry)
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), micro::service::ErrorKind::Registry);
    let message = err.to_string();
    assert!(
        message.contains(&format!("etcd at 127.0.0.1:{port} unreachable")),
        "{message}"
    );
    assert!(message.contains("--registry mdns"), "{message}");
    assert!(message.contains("after 3 attempts"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn a_node_lost_with_etcds_data_is_registered_again_within_one_heartbeat() {
    let Some(mut server) = EtcdServer::start() else {
        return;
    };
    let registry = etcd_registry(&server);
    let interval = Duration::from_secs(1);
    let service = support::kitchen_service(support::TestKitchen::default())
        .registry(registry.clone())
        .register_ttl(Duration::from_secs(10), interval)
        .start()
        .await
        .unwrap();
    let node_id = service.registration().unwrap().nodes[0].id.clone();
    server.restart(true);
    // Wiped: the node is gone until the next heartbeat puts it back.
    let restarted = tokio::time::Instant::now();
    let deadline = restarted + interval * 2 + Duration::from_secs(5);
    loop {
        let found = registry.get_service("kitchen").await.ok();
        if found.is_some_and(|services| services[0].nodes.iter().any(|n| n.id == node_id)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not registered again after etcd lost its data"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn the_cache_serves_known_nodes_while_etcd_is_down() {
    let Some(mut server) = EtcdServer::start() else {
        return;
    };
    let mut client = raw_client(&server).await;
    client
        .put("/micro/registry/greeter/node", GO_MICRO_VALUE, None)
        .await
        .unwrap();
    let registry = etcd_registry(&server);
    let cache = Cache::with_ttl(registry.clone(), Duration::from_millis(100));
    assert_eq!(
        cache.get_service("greeter").await.unwrap()[0].nodes.len(),
        1
    );
    server.kill();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let direct = registry.get_service("greeter").await.unwrap_err();
    assert_eq!(direct.kind(), ErrorKind::Unavailable);
    let cached = cache
        .get_service("greeter")
        .await
        .expect("stale nodes while etcd is down");
    assert_eq!(cached[0].nodes[0].address, "10.0.0.9:41234");
}
