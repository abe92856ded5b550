//! go-micro's HTTP broker between processes: `pubsub` mailers subscribe (two in a queue group,
//! one on its own), `pubsub-publisher` finds them through the registry and posts to them. Over
//! etcd, and over mDNS inside a network namespace this test creates.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use micro_test_support::{in_network_namespace, run_in_network_namespace};
use support::Example;

const MAILER: &str = env!("CARGO_BIN_EXE_pubsub");
const PUBLISHER: &str = env!("CARGO_BIN_EXE_pubsub-publisher");

/// Starts a mailer and waits until its subscriber is registered.
fn mailer(registry: &[&str], extra: &[&str]) -> Example {
    let args: Vec<&str> = registry.iter().chain(extra).copied().collect();
    let example = Example::start(MAILER, &args);
    wait_for_log(&example, "subscribed");
    example
}

fn wait_for_log(example: &Example, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(line) = example.logs.recv_timeout(Duration::from_millis(100))
            && line.contains(needle)
        {
            return;
        }
    }
    panic!("the mailer never logged `{needle}`");
}

/// The sequence numbers a mailer welcomed, from its log.
fn welcomed(example: &Example, wait_for: usize) -> BTreeSet<u64> {
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.len() < wait_for && Instant::now() < deadline {
        let Ok(line) = example.logs.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let sequence = line
            .split("(#")
            .nth(1)
            .and_then(|rest| rest.split(')').next());
        if let Some(n) = sequence.and_then(|n| n.parse().ok()) {
            assert!(line.contains("from signup-form"), "{line}");
            seen.insert(n);
        }
    }
    seen
}

fn publish(registry: &[&str], count: u64) {
    let output = Command::new(PUBLISHER)
        .args(registry)
        .args(["--count", &count.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the publisher failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("published {count}")
    );
}

/// Two mailers in a queue group share 20 signups, each exactly once; a third, subscribed on
/// its own, gets all 20.
fn queue_and_broadcast(registry: &[&str]) {
    let first = mailer(registry, &["--queue", "mailers"]);
    let second = mailer(registry, &["--queue", "mailers"]);
    let loner = mailer(registry, &[]);
    publish(registry, 20);
    let (a, b) = (welcomed(&first, 20), welcomed(&second, 20));
    assert!(
        a.is_disjoint(&b),
        "a queue group member got a signup twice: {a:?} {b:?}"
    );
    let group: BTreeSet<u64> = a.union(&b).copied().collect();
    assert_eq!(group, (0..20).collect(), "the queue group missed signups");
    assert_eq!(
        welcomed(&loner, 20),
        (0..20).collect(),
        "the broadcast mailer missed signups"
    );
}

#[test]
fn http_broker_between_processes_over_mdns() {
    if !in_network_namespace() {
        return run_in_network_namespace("http_broker_between_processes_over_mdns");
    }
    queue_and_broadcast(&["--registry", "mdns"]);
}

#[cfg(feature = "full")]
#[test]
fn http_broker_between_processes_over_etcd() {
    let Some(etcd) = micro_test_support::EtcdServer::start() else {
        return;
    };
    let address = etcd.address();
    queue_and_broadcast(&["--registry", "etcd", "--registry-address", &address]);
}

/// A subscriber that died (SIGKILL: its registration lingers until the TTL) cannot take a
/// signup: the publisher exits 1 naming the topic, after retrying, instead of losing it.
#[cfg(feature = "full")]
#[test]
fn an_undeliverable_signup_fails_the_publisher_naming_it() {
    let Some(etcd) = micro_test_support::EtcdServer::start() else {
        return;
    };
    let address = etcd.address();
    let registry = ["--registry", "etcd", "--registry-address", &address];
    drop(mailer(&registry, &[]));
    let output = Command::new(PUBLISHER).args(registry).output().unwrap();
    assert!(
        !output.status.success(),
        "publishing to a dead subscriber succeeded"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("signups") && stderr.contains("reached 0 of 1"),
        "{stderr}"
    );
}
