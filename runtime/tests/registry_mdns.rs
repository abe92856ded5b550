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

#[tokio::test]
async fn an_entry_with_a_corrupt_txt_record_is_skipped() {
    in_namespace!("an_entry_with_a_corrupt_txt_record_is_skipped");
    let publisher = MdnsRegistry::new();
    publisher
        .register(&node_service("greeter", "greeter-good", 4000), None)
        .await
        .unwrap();
    // Another responder answers for greeter twice: once as go-micro would, once with a TXT
    // that is not go-micro's.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let finder = MdnsRegistry::new();
    let lookup = tokio::spawn(async move { finder.get_service("greeter").await });
    let go_micro_txt = go_micro_txt(
        r#"{"Metadata":{"protocol":"grpc"},"Service":"greeter","Version":"1.2.3","Endpoints":null}"#,
    );
    for _ in 0..5 {
        socket
            .send_to(
                &answer("greeter-raw", 4002, &go_micro_txt),
                "224.0.0.251:5353",
            )
            .await
            .unwrap();
        socket
            .send_to(
                &answer("greeter-bad", 4003, &["not-hex-zz!".to_owned()]),
                "224.0.0.251:5353",
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let found = lookup.await.unwrap().unwrap();
    let mut ids: Vec<&str> = found
        .iter()
        .flat_map(|s| s.nodes.iter().map(|n| n.id.as_str()))
        .collect();
    ids.sort();
    assert_eq!(ids, ["greeter-good", "greeter-raw"]);
}

/// go-micro's TXT encoding of a JSON payload: zlib, hex, 255-character strings.
fn go_micro_txt(json: &str) -> Vec<String> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(json.as_bytes()).unwrap();
    let hex = hex::encode(encoder.finish().unwrap());
    hex.as_bytes()
        .chunks(255)
        .map(|chunk| String::from_utf8(chunk.to_vec()).unwrap())
        .collect()
}

/// A DNS response announcing `<id>.greeter.micro.` on 127.0.0.1:`port` with `txt`, written
/// byte by byte as another implementation would send it.
fn answer(id: &str, port: u16, txt: &[String]) -> Vec<u8> {
    fn name(out: &mut Vec<u8>, text: &str) {
        for label in text.trim_end_matches('.').split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
    }
    fn record(out: &mut Vec<u8>, owner: &str, kind: u16, data: &[u8]) {
        name(out, owner);
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&120u32.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
    }
    let instance = format!("{id}.greeter.micro.");
    let host = format!("{id}.micro.");
    let mut packet = vec![0, 0, 0x84, 0, 0, 0, 0, 4, 0, 0, 0, 0];
    let mut ptr = Vec::new();
    name(&mut ptr, &instance);
    record(&mut packet, "greeter.micro.", 12, &ptr);
    let mut srv = vec![0, 0, 0, 0];
    srv.extend_from_slice(&port.to_be_bytes());
    name(&mut srv, &host);
    record(&mut packet, &instance, 33, &srv);
    let strings: Vec<u8> = txt
        .iter()
        .flat_map(|s| std::iter::once(s.len() as u8).chain(s.bytes()))
        .collect();
    record(&mut packet, &instance, 16, &strings);
    record(&mut packet, &host, 1, &[127, 0, 0, 1]);
    packet
}

#[tokio::test]
async fn without_multicast_registering_still_works_and_lookups_say_why_not() {
    if !in_network_namespace() {
        return micro_test_support::run_in_isolated_network_namespace(
            "without_multicast_registering_still_works_and_lookups_say_why_not",
        );
    }
    let registry = MdnsRegistry::new();
    registry
        .register(&node_service("lonely", "lonely-1", 4001), None)
        .await
        .unwrap();
    let err = registry.get_service("lonely").await.unwrap_err();
    assert_eq!(err.kind(), registry::ErrorKind::Unavailable);
    assert!(err.to_string().contains("--registry etcd"), "{err}");
}
