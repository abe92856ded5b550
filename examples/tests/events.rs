//! At-least-once between processes: `events-producer` stores 200 orders; an `events-consumer`
//! of the group `billing` is killed (SIGKILL) while it holds unacked orders; a second consumer
//! of the group bills every order the first did not ack. Against real NATS JetStream and Redis.

#![cfg(feature = "full")]

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use micro_test_support::{NatsServer, RedisServer};
use support::Example;

const PRODUCER: &str = env!("CARGO_BIN_EXE_events-producer");
const CONSUMER: &str = env!("CARGO_BIN_EXE_events-consumer");
const ORDERS: u64 = 200;

/// Orders a consumer acked, read from its log until `done` holds or `timeout` passes; returns
/// how many of them were redeliveries (attempt > 1).
fn acked_orders(
    consumer: &Example,
    acked: &mut BTreeSet<u64>,
    timeout: Duration,
    done: impl Fn(&BTreeSet<u64>) -> bool,
) -> usize {
    let mut redelivered = 0;
    let deadline = Instant::now() + timeout;
    while !done(acked) && Instant::now() < deadline {
        let Ok(line) = consumer.logs.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let order = line
            .split("acked order ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next());
        if let Some(order) = order.and_then(|n| n.parse().ok()) {
            acked.insert(order);
        }
        if !line.contains("(attempt 1)") && line.contains("acked order") {
            redelivered += 1;
        }
    }
    redelivered
}

fn no_order_lost_when_a_consumer_dies(events: &[&str]) {
    let output = Command::new(PRODUCER)
        .args(events)
        .args(["--count", &ORDERS.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the producer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let consumer_args: Vec<&str> = events
        .iter()
        .copied()
        .chain(["--work-ms", "20", "--ack-wait", "2s"])
        .collect();
    let mut acked = BTreeSet::new();
    let doomed = Example::start(CONSUMER, &consumer_args);
    let _ = acked_orders(&doomed, &mut acked, Duration::from_secs(30), |acked| {
        acked.len() >= 20
    });
    assert!(
        acked.len() >= 20,
        "the first consumer acked only {} orders",
        acked.len()
    );
    drop(doomed); // SIGKILL, holding whatever it had fetched but not acked
    let before_crash = acked.len();

    let survivor = Example::start(CONSUMER, &consumer_args);
    let redelivered = acked_orders(&survivor, &mut acked, Duration::from_secs(60), |acked| {
        acked.len() as u64 == ORDERS
    });
    assert!(
        redelivered > 0,
        "the killed consumer held no unacked order, so the test proved nothing"
    );
    let missing: Vec<u64> = (0..ORDERS).filter(|n| !acked.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "orders lost after a consumer died holding them ({before_crash} acked before): {missing:?}"
    );
}

#[test]
fn nats_jetstream_loses_no_order_when_a_consumer_dies() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let address = nats.address();
    no_order_lost_when_a_consumer_dies(&["--events", "nats", "--events-address", &address]);
}

#[test]
fn redis_streams_lose_no_order_when_a_consumer_dies() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let address = redis.address();
    no_order_lost_when_a_consumer_dies(&["--events", "redis", "--events-address", &address]);
}

#[test]
fn a_backend_that_is_down_is_named_by_the_producer() {
    let port = micro_test_support::free_port().to_string();
    let address = format!("127.0.0.1:{port}");
    for backend in ["nats", "redis"] {
        let started = Instant::now();
        let output = Command::new(PRODUCER)
            .args([
                "--events",
                backend,
                "--events-address",
                &address,
                "--count",
                "1",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "publishing to a {backend} that is down succeeded"
        );
        assert!(
            stderr.contains(backend) && stderr.contains(&address),
            "{stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{backend}: took {:?} to fail",
            started.elapsed()
        );
    }
}
