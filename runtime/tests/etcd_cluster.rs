//! Drills on a real three-member etcd cluster: the leader killed, a member frozen and a lease
//! revoked while three nodes of a service take calls through the etcd registry. No call may
//! fail, and every registration must outlive the fault, or be back within one heartbeat.

#![cfg(feature = "registry-etcd")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use micro::registry::{EtcdOptions, EtcdRegistry, Registry};
use micro::{Client, RunningService, Status};
use micro_test_support::EtcdCluster;
use support::kitchen::{GetRequest, KitchenClient};
use support::{TestKitchen, kitchen_service};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How often nodes re-register, and how long etcd keeps a node that stopped.
const HEARTBEAT: Duration = Duration::from_secs(1);
const TTL: Duration = Duration::from_secs(10);

/// A registry client of its own (as each process has), knowing every member.
fn registry(cluster: &EtcdCluster) -> Arc<dyn Registry> {
    Arc::new(EtcdRegistry::new(EtcdOptions::from_addresses(
        &cluster.addresses(),
    )))
}

/// Three kitchen nodes, each registered through its own client of the cluster.
async fn three_nodes(cluster: &EtcdCluster) -> Vec<RunningService> {
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let node = kitchen_service(TestKitchen::default())
            .registry(registry(cluster))
            .register_ttl(TTL, HEARTBEAT)
            .start()
            .await
            .expect("node starts");
        nodes.push(node);
    }
    nodes
}

/// Calls from 8 tasks until `stop` is set (at most 20,000 calls each); the calls made and the
/// failures.
fn load(client: KitchenClient, stop: Arc<AtomicBool>) -> JoinSet<(usize, Vec<Status>)> {
    let mut tasks = JoinSet::new();
    for _ in 0..8 {
        let (client, stop) = (client.clone(), stop.clone());
        tasks.spawn(async move {
            let (mut calls, mut failures) = (0, Vec::new());
            while !stop.load(Ordering::SeqCst) && calls < 20_000 {
                let request = GetRequest { id: "a".into() };
                if let Err(status) = client.get(request).await {
                    failures.push(status);
                }
                calls += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (calls, failures)
        });
    }
    tasks
}

/// Runs `fault` on the cluster under load, keeps the load on for `after`, then checks that no
/// call failed and that every node's heartbeats kept reaching the cluster through the fault.
async fn drill(cluster: &mut EtcdCluster, fault: impl FnOnce(&mut EtcdCluster), after: Duration) {
    let nodes = three_nodes(cluster).await;
    let client = KitchenClient::new(Client::with_registry(registry(cluster)).unwrap())
        .with_service("kitchen");
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(client, stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    fault(cluster);
    tokio::time::sleep(after).await;
    stop.store(true, Ordering::SeqCst);
    let results = tasks.join_all().await;
    let calls: usize = results.iter().map(|(calls, _)| calls).sum();
    let failures: Vec<&Status> = results.iter().flat_map(|(_, f)| f).collect();
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    assert!(calls > 500, "too few calls to prove anything: {calls}");
    let left = lease_time_left(cluster).await;
    assert_eq!(left.len(), 3, "nodes registered after the fault");
    // A lease kept alive in the last heartbeat or two has most of its TTL left.
    let fresh = TTL - HEARTBEAT * 3;
    assert!(
        left.iter().all(|&left| left >= fresh),
        "heartbeats stopped reaching etcd: seconds left on the nodes' leases {left:?}"
    );
    drop(nodes);
}

/// The time left on each registered kitchen node's lease, asked of the cluster directly.
async fn lease_time_left(cluster: &EtcdCluster) -> Vec<Duration> {
    let mut raw = raw_client(cluster).await;
    let options = etcd_client::GetOptions::new().with_prefix();
    let keys = raw
        .get("/micro/registry/kitchen/", Some(options))
        .await
        .unwrap();
    let mut left = Vec::new();
    for kv in keys.kvs() {
        let lease = raw.lease_time_to_live(kv.lease(), None).await.unwrap();
        left.push(Duration::from_secs(lease.ttl().max(0) as u64));
    }
    left
}

async fn raw_client(cluster: &EtcdCluster) -> etcd_client::Client {
    let live: Vec<String> = (0..3)
        .filter(|&index| cluster.is_healthy(index))
        .map(|index| cluster.addresses()[index].clone())
        .collect();
    etcd_client::Client::connect(live, None).await.unwrap()
}

/// How many kitchen nodes the registry lists.
async fn registered(registry: &Arc<dyn Registry>) -> usize {
    registry
        .get_service("kitchen")
        .await
        .map(|services| services.iter().map(|s| s.nodes.len()).sum())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_etcd_leader_under_load_fails_no_call_and_keeps_registrations() {
    let Some(mut cluster) = EtcdCluster::start(3) else {
        return;
    };
    let before = cluster.leader().expect("a leader");
    let kill_leader = |cluster: &mut EtcdCluster| cluster.kill(before);
    // Past the election (1 s by default) and a few heartbeats after it.
    drill(&mut cluster, kill_leader, Duration::from_secs(5)).await;
    let after = cluster.leader().expect("a new leader");
    assert_ne!(after, before, "the killed member is still leader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_member_fails_no_call_and_keeps_registrations() {
    let Some(mut cluster) = EtcdCluster::start(3) else {
        return;
    };
    // The first member: the one every client lists first.
    let freeze_first = |cluster: &mut EtcdCluster| cluster.pause(0);
    drill(&mut cluster, freeze_first, Duration::from_secs(5)).await;
    cluster.resume(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cluster.is_healthy(0) {
        assert!(
            Instant::now() < deadline,
            "the thawed member did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_lease_is_revoked_registers_again_within_one_heartbeat() {
    let Some(cluster) = EtcdCluster::start(3) else {
        return;
    };
    let nodes = three_nodes(&cluster).await;
    let observer = registry(&cluster);
    assert_eq!(registered(&observer).await, 3);
    let mut raw = raw_client(&cluster).await;
    let options = etcd_client::GetOptions::new().with_prefix();
    let keys = raw
        .get("/micro/registry/kitchen/", Some(options))
        .await
        .unwrap();
    let lease = keys.kvs()[0].lease();
    raw.lease_revoke(lease).await.unwrap();
    assert_eq!(
        registered(&observer).await,
        2,
        "revoking the lease removes its node"
    );
    let revoked = Instant::now();
    while registered(&observer).await < 3 {
        assert!(
            revoked.elapsed() < HEARTBEAT * 2 + Duration::from_millis(500),
            "not registered again within a heartbeat of losing its lease"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(nodes);
}
