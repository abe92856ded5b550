//! Outlier ejection as gRPC's (gRFC A50) against real nodes: one node of three always fails,
//! and once an interval has judged it no call reaches it; with `UNAVAILABLE`, retries hide its
//! failures before that too.

#[path = "support/faults.rs"]
mod faults;
mod support;

use std::time::Duration;

use faults::{Faults, pantry_fleet};
use micro::selector::{FailurePercentageEjection, OutlierDetection};
use micro::{Client, Code};
use support::kitchen::PantryClient;
use support::memory_registry;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Ejection judged every 300 ms, by failure percentage over three nodes.
fn detection() -> OutlierDetection {
    OutlierDetection::default()
        .interval(Duration::from_millis(300))
        .success_rate(None)
        .failure_percentage(Some(
            FailurePercentageEjection::default()
                .minimum_hosts(3)
                .request_volume(10),
        ))
}

/// Calls from 4 tasks for `run`; returns each call's start (since the first) and result.
async fn load(client: PantryClient, run: Duration) -> Vec<(Duration, Result<(), Code>)> {
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..4 {
        let client = client.clone();
        tasks.spawn(async move {
            let mut results = Vec::new();
            while start.elapsed() < run {
                let at = start.elapsed();
                let result = client.count(()).await.map(drop).map_err(|s| s.code());
                results.push((at, result));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            results
        });
    }
    tasks.join_all().await.into_iter().flatten().collect()
}

async fn one_failing_node(code: Code) -> (Vec<(Duration, Result<(), Code>)>, Vec<Faults>) {
    let registry = memory_registry();
    let (_nodes, faults) = pantry_fleet(&registry, 3, |n| match n {
        0 => Faults::seeded(1).fail(100, code).build(),
        _ => Faults::seeded(1).build(),
    })
    .await;
    let client = Client::builder()
        .registry(registry)
        .outlier_detection(detection())
        .build()
        .unwrap();
    let pantry = PantryClient::new(client).with_service("pantry");
    let results = load(pantry, Duration::from_secs(3)).await;
    (results, faults)
}

#[tokio::test]
async fn a_failing_node_is_ejected_and_then_no_call_fails() {
    let (results, faults) = one_failing_node(Code::Internal).await;
    let late: Vec<_> = results
        .iter()
        .filter(|(at, _)| *at > Duration::from_secs(1))
        .collect();
    let late_errors = late.iter().filter(|(_, r)| r.is_err()).count();
    let errors = results.iter().filter(|(_, r)| r.is_err()).count();
    let early_errors = errors - late_errors;
    assert!(
        late.len() > 100,
        "{} calls after the first second",
        late.len()
    );
    assert_eq!(late_errors, 0, "errors after the first second");
    assert!(
        early_errors > 0,
        "the failing node was called before it was ejected"
    );
    assert!(faults[0].failed() > 0);
}

#[tokio::test]
async fn retries_hide_an_unavailable_node_until_it_is_ejected() {
    let (results, faults) = one_failing_node(Code::Unavailable).await;
    let errors = results.iter().filter(|(_, r)| r.is_err()).count();
    assert_eq!(errors, 0, "of {} calls", results.len());
    let failing = faults[0].calls();
    let healthy = faults[1].calls() + faults[2].calls();
    assert!(
        failing * 10 < healthy,
        "the ejected node got {failing} calls, the others {healthy}"
    );
}
