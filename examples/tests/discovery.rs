//! Discovery between processes: helloworld registers; the `services` binary finds it through
//! the registry; `helloworld-client` calls the address it found. Over etcd, and over mDNS inside
//! a network namespace this test creates.

mod support;

use std::process::Command;

use micro_test_support::{in_network_namespace, run_in_network_namespace};
use support::Example;

const SERVICES: &str = env!("CARGO_BIN_EXE_services");
const CLIENT: &str = env!("CARGO_BIN_EXE_helloworld-client");

/// Runs `services` until it lists a helloworld node, and returns the node's address.
fn find_helloworld(registry: &[&str]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let output = Command::new(SERVICES)
            .args(registry)
            .args(["--service", "helloworld"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let node = stdout
            .lines()
            .find_map(|line| line.trim().strip_prefix("node "));
        if let Some(node) = node {
            assert!(stdout.contains("endpoint Helloworld.Greeting"), "{stdout}");
            assert!(node.contains("protocol=grpc"), "{node}");
            return node
                .split_whitespace()
                .nth(1)
                .expect("an address")
                .to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "services never listed helloworld:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn greet(address: &str) -> String {
    let output = Command::new(CLIENT)
        .args(["--address", address, "discovery"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn helloworld_found_over_mdns_by_another_process() {
    if !in_network_namespace() {
        return run_in_network_namespace("helloworld_found_over_mdns_by_another_process");
    }
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &["--registry", "mdns"]);
    let address = find_helloworld(&["--registry", "mdns"]);
    assert_eq!(address, server.addr.to_string());
    assert_eq!(greet(&address), "Hello discovery");
    // The client resolves helloworld through mDNS itself.
    let output = Command::new(CLIENT)
        .args(["--registry", "mdns", "by name"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "Hello by name"
    );
}

#[cfg(feature = "full")]
mod etcd {
    use super::*;
    use micro::registry::{Action, EtcdOptions, EtcdRegistry, Registry};
    use micro_test_support::EtcdServer;

    #[test]
    fn helloworld_found_over_etcd_by_another_process() {
        let Some(etcd) = EtcdServer::start() else {
            return;
        };
        let registry = ["--registry", "etcd", "--registry-address", &etcd.address()];
        let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &registry);
        let address = find_helloworld(&registry);
        assert_eq!(address, server.addr.to_string());
        assert_eq!(greet(&address), "Hello discovery");
    }

    /// The failover drill: the load tool calls three helloworld processes through etcd while
    /// one is killed (SIGKILL: no deregistration); no call fails.
    #[tokio::test]
    async fn the_load_tool_loses_no_call_when_a_node_is_killed() {
        let Some(etcd) = EtcdServer::start() else {
            return;
        };
        let registry = ["--registry", "etcd", "--registry-address", &etcd.address()];
        let mut servers: Vec<Option<Example>> = (0..3)
            .map(|_| Some(Example::start(env!("CARGO_BIN_EXE_helloworld"), &registry)))
            .collect();
        let etcd_registry = EtcdRegistry::new(EtcdOptions::from_addresses(&[etcd.address()]));
        let started = tokio::time::Instant::now();
        while etcd_registry
            .get_service("helloworld")
            .await
            .map_or(0, |services| {
                services.iter().map(|s| s.nodes.len()).sum::<usize>()
            })
            < 3
        {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "never registered"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let mut client = std::process::Command::new(CLIENT)
            .args(registry)
            .args(["--requests", "30000", "--concurrency", "8", "drill"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        assert!(
            client.try_wait().unwrap().is_none(),
            "the load ended before the kill"
        );
        drop(servers[1].take());
        let output = client.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stdout.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("ok=30000 failed=0 p50="),
            "{stdout}\n{stderr}"
        );
        assert!(output.status.success());
    }

    #[tokio::test]
    async fn sigterm_leaves_the_registry_before_draining_calls() {
        use examples::streaming::{CountRequest, StreamerClient};

        let Some(etcd) = EtcdServer::start() else {
            return;
        };
        let flags = [
            "--registry",
            "etcd",
            "--registry-address",
            &etcd.address(),
            "--server-shutdown-timeout",
            "20s",
        ];
        let server = Example::start(env!("CARGO_BIN_EXE_streaming"), &flags);
        let registry = EtcdRegistry::new(EtcdOptions::from_addresses(&[etcd.address()]));
        let mut watcher = registry.watch(Some("streaming")).await.unwrap();
        // The node registers right after the port opens.
        let registered = tokio::time::Instant::now();
        while registry.get_service("streaming").await.is_err() {
            assert!(
                registered.elapsed() < std::time::Duration::from_secs(10),
                "never registered"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }

        // A call in flight: 30 numbers, 100 ms apart.
        let client = StreamerClient::new(micro::Client::connect(&server.addr.to_string()).unwrap());
        let mut counts = client
            .count(CountRequest {
                to: 30,
                interval_ms: 100,
            })
            .await
            .unwrap();
        assert_eq!(counts.recv().await.unwrap().unwrap().number, 1);

        let terminated = std::thread::spawn(move || server.terminate());
        // The watch saw the registration; the next change must be the removal.
        loop {
            let next =
                tokio::time::timeout(std::time::Duration::from_secs(10), watcher.next()).await;
            let event = next.expect("an event within 10 s").unwrap().unwrap();
            if event.action == Action::Delete {
                break;
            }
        }
        // The call started before SIGTERM still completes: draining comes after deregistering.
        let mut last = 1;
        while let Some(reply) = counts.recv().await.unwrap() {
            last = reply.number;
        }
        assert_eq!(last, 30);
        assert_eq!(terminated.join().unwrap().code(), Some(0));
    }
}
