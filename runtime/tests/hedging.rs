//! Hedging (gRFC A6) against real nodes: with one node of three delaying 10 % of calls by
//! 200 ms, hedged calls' p99 is at least 5× lower than unhedged calls' at the same load, and
//! the losing copies are cancelled; server streams are hedged until one copy answers.

#[path = "support/faults.rs"]
mod faults;
mod support;

use std::time::Duration;

use faults::{Faults, pantry_fleet, percentile};
use micro::client::Hedging;
use micro::{Client, RunningService};
use support::kitchen::{KitchenClient, ListRequest, PantryClient};
use support::memory_registry;
use tokio::task::JoinSet;
use tokio::time::Instant;

const CALLS: usize = 2000;
const CONCURRENCY: usize = 16;

/// Each call's latency, `CALLS` calls from `CONCURRENCY` tasks.
async fn latencies(client: PantryClient) -> Vec<Duration> {
    let mut tasks = JoinSet::new();
    for _ in 0..CONCURRENCY {
        let client = client.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(CALLS / CONCURRENCY);
            for _ in 0..CALLS / CONCURRENCY {
                let start = Instant::now();
                client.count(()).await.expect("call succeeds");
                latencies.push(start.elapsed());
            }
            latencies
        });
    }
    tasks.join_all().await.into_iter().flatten().collect()
}

/// Three pantry nodes, node 0 delaying 10 % of its calls by 200 ms.
async fn fleet() -> (
    Client,
    Vec<RunningService>,
    Vec<Faults>,
    micro::client::ClientBuilder,
) {
    let registry = memory_registry();
    let (nodes, faults) = pantry_fleet(&registry, 3, |n| match n {
        0 => Faults::seeded(24)
            .delay(10, Duration::from_millis(200))
            .build(),
        _ => Faults::seeded(24).build(),
    })
    .await;
    let builder = Client::builder().registry(registry);
    let plain = builder.clone().build().unwrap();
    (plain, nodes, faults, builder)
}

#[tokio::test]
async fn hedging_cuts_the_p99_of_a_fleet_with_a_slow_node_fivefold() {
    let (plain, _nodes, faults, builder) = fleet().await;
    let plain = PantryClient::new(plain).with_service("pantry");
    // Warm up connections, then measure without hedging.
    let _ = latencies(plain.clone()).await;
    let mut unhedged = latencies(plain).await;
    let p95 = percentile(&mut unhedged, 95.0);
    let p99_unhedged = percentile(&mut unhedged, 99.0);
    // Hedge a little above the usual p95.
    let delay =
        (p95 + Duration::from_millis(3)).clamp(Duration::from_millis(5), Duration::from_millis(30));
    let hedged = builder
        .hedge("Pantry.Count", Hedging::after(delay).max_attempts(2))
        .build()
        .unwrap();
    let hedged = PantryClient::new(hedged).with_service("pantry");
    let cancelled_before = faults[0].cancelled();
    let mut with_hedging = latencies(hedged).await;
    let p99_hedged = percentile(&mut with_hedging, 99.0);
    let p50 = percentile(&mut with_hedging, 50.0);
    let cancelled = faults[0].cancelled() - cancelled_before;
    eprintln!(
        "p95 unhedged {p95:?}; p99 unhedged {p99_unhedged:?}, hedged {p99_hedged:?} (delay \
         {delay:?}, hedged p50 {p50:?}); slow copies cancelled {cancelled}"
    );
    assert!(
        p99_unhedged >= Duration::from_millis(200),
        "{p99_unhedged:?}"
    );
    assert!(
        p99_hedged * 5 <= p99_unhedged,
        "p99 {p99_hedged:?} hedged, {p99_unhedged:?} without"
    );
    assert!(
        cancelled > 0,
        "the slow node's losing copies were cancelled"
    );
}

/// Two nodes, node 0 holding back every response (its headers: a stream's start too) for 2 s,
/// and a round-robin client, so that every other call goes to node 0 first.
async fn one_slow_node_of_two() -> (Client, Vec<RunningService>, Vec<Faults>) {
    let registry = memory_registry();
    let (nodes, faults) = pantry_fleet(&registry, 2, |n| match n {
        0 => Faults::seeded(1).delay(100, Duration::from_secs(2)).build(),
        _ => Faults::seeded(1).build(),
    })
    .await;
    let client = Client::builder()
        .registry(registry)
        .selector(micro::selector::Strategy::RoundRobin)
        .build()
        .unwrap();
    (client, nodes, faults)
}

#[tokio::test]
async fn a_call_can_ask_for_hedging_itself() {
    let (client, _nodes, _faults) = one_slow_node_of_two().await;
    let pantry = PantryClient::new(client).with_service("pantry");
    for _ in 0..6 {
        let start = Instant::now();
        let hedging = Hedging::after(Duration::from_millis(20));
        pantry.count(()).hedge(hedging).await.unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }
}

#[tokio::test]
async fn a_server_stream_is_hedged_and_read_whole_from_the_copy_that_answered() {
    let (client, _nodes, faults) = one_slow_node_of_two().await;
    let kitchen = KitchenClient::new(client).with_service("pantry");
    for _ in 0..4 {
        let start = Instant::now();
        let request = ListRequest {
            limit: Some(5),
            ..ListRequest::default()
        };
        let hedging = Hedging::after(Duration::from_millis(20));
        let mut items = kitchen.list(request).hedge(hedging).await.unwrap();
        let mut ids = Vec::new();
        while let Some(item) = items.recv().await.unwrap() {
            ids.push(item.id);
        }
        assert_eq!(ids, ["0", "1", "2", "3", "4"]);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }
    // Round robin sent some first copies to node 0; each lost and was cancelled.
    let slow = &faults[0];
    assert!(slow.calls() >= 1, "node 0 got no first copy");
    let deadline = Instant::now() + Duration::from_secs(2);
    while slow.cancelled() < slow.calls() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        slow.cancelled(),
        slow.calls(),
        "every losing copy was cancelled"
    );
}
