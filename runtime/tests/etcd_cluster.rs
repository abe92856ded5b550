//! Drills on a real three-member etcd cluster: the leader killed, a member frozen, a member
//! (the leader, or a follower) cut off by a network partition and a lease revoked while three
//! nodes of a service take calls through the etcd registry. No call may fail, and every
//! registration must outlive the fault, or be back within one heartbeat.
//!
//! The partition drills run in a network namespace of their own, where iptables drops every
//! packet of the member's connections (see `EtcdCluster::start_partitionable`).

#![cfg(feature = "registry-etcd")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use micro::registry::{EtcdOptions, EtcdRegistry, Registry};
use micro::{Client, RunningService, Status};
use micro_test_support::{EtcdCluster, in_network_namespace, run_in_privileged_network_namespace};
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

/// Runs `fault` on the cluster under load (the load stops when it returns), then checks that
/// no call failed and that every node's heartbeats kept reaching the cluster through the fault.
async fn drill(cluster: &mut EtcdCluster, fault: impl AsyncFnOnce(&mut EtcdCluster)) {
    let nodes = three_nodes(cluster).await;
    let client = KitchenClient::new(Client::with_registry(registry(cluster)).unwrap())
        .with_service("kitchen");
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(client, stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    fault(cluster).await;
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
    eprintln!("{calls} calls, none failed");
    assert_heartbeats_arrive(cluster, "after the fault").await;
    drop(nodes);
}

/// Checks that the three nodes are registered and that their heartbeats reach the cluster: a
/// lease kept alive in the last heartbeat or two has most of its TTL left.
async fn assert_heartbeats_arrive(cluster: &EtcdCluster, when: &str) {
    let left = lease_time_left(cluster).await;
    eprintln!("time left on the nodes' leases {when}: {left:?}");
    assert_eq!(left.len(), 3, "nodes registered {when}");
    let fresh = TTL - HEARTBEAT * 3;
    assert!(
        left.iter().all(|&left| left >= fresh),
        "heartbeats stopped reaching etcd {when}: time left on the nodes' leases {left:?}"
    );
}

/// Polls `done` every 50 ms until it holds, failing with `what` after `within`.
async fn wait_for(
    cluster: &EtcdCluster,
    what: &str,
    within: Duration,
    done: impl Fn(&EtcdCluster) -> bool,
) {
    let deadline = Instant::now() + within;
    while !done(cluster) {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until partitioned member `index` has lost its leader and the others have one.
async fn wait_until_the_others_lead(cluster: &EtcdCluster, index: usize) {
    let others_lead = |cluster: &EtcdCluster| {
        !cluster.is_healthy(index)
            && !cluster.is_leader(index)
            && cluster.leader().is_some_and(|leader| leader != index)
    };
    let lost = "the partitioned member to lose its leader, and the others to have one";
    wait_for(cluster, lost, Duration::from_secs(10), others_lead).await;
}

/// Cuts member `index` off by a network partition under load, checks that the others carry
/// on without it (a leader of their own, heartbeats arriving), heals the partition and waits
/// until the member has rejoined, with the load on throughout.
async fn partition_drill(cluster: &mut EtcdCluster, index: usize) {
    drill(cluster, async |cluster| {
        let cut = Instant::now();
        cluster.partition(index);
        wait_until_the_others_lead(cluster, index).await;
        eprintln!(
            "partitioned member {index} cut off; others lead after {:?}",
            cut.elapsed()
        );
        // Several heartbeats behind the partition.
        tokio::time::sleep(HEARTBEAT * 5).await;
        assert_heartbeats_arrive(cluster, "during the partition").await;
        let healed = Instant::now();
        cluster.heal(index);
        let rejoined = |cluster: &EtcdCluster| cluster.is_healthy(index);
        let rejoin = "the healed member to rejoin";
        wait_for(cluster, rejoin, Duration::from_secs(20), rejoined).await;
        eprintln!(
            "member {index} rejoined {:?} after healing",
            healed.elapsed()
        );
        tokio::time::sleep(HEARTBEAT * 3).await;
    })
    .await;
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

/// A plain etcd client on the members that answer healthy (waiting for one, as a member
/// can be between leaders for a moment).
async fn raw_client(cluster: &EtcdCluster) -> etcd_client::Client {
    let any_healthy = |cluster: &EtcdCluster| (0..3).any(|index| cluster.is_healthy(index));
    let within = Duration::from_secs(10);
    wait_for(cluster, "a healthy member", within, any_healthy).await;
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
    drill(&mut cluster, async |cluster| {
        cluster.kill(before);
        // Past the election (1 s by default) and a few heartbeats after it.
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let after = cluster.leader().expect("a new leader");
    assert_ne!(after, before, "the killed member is still leader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_member_fails_no_call_and_keeps_registrations() {
    let Some(mut cluster) = EtcdCluster::start(3) else {
        return;
    };
    // The first member: the one every client lists first.
    drill(&mut cluster, async |cluster| {
        cluster.pause(0);
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    cluster.resume(0);
    let caught_up = |cluster: &EtcdCluster| cluster.is_healthy(0);
    let what = "the thawed member to catch up";
    wait_for(&cluster, what, Duration::from_secs(10), caught_up).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioning_the_etcd_leader_fails_no_call_and_it_rejoins_when_healed() {
    if !in_network_namespace() {
        return run_in_privileged_network_namespace(
            "partitioning_the_etcd_leader_fails_no_call_and_it_rejoins_when_healed",
        );
    }
    let Some(mut cluster) = EtcdCluster::start_partitionable(3) else {
        return;
    };
    let leader = cluster.leader().expect("a leader");
    // Cut off from its quorum, the leader steps down (etcd's check-quorum); the others elect.
    partition_drill(&mut cluster, leader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioning_a_follower_fails_no_call_and_it_rejoins_when_healed() {
    if !in_network_namespace() {
        return run_in_privileged_network_namespace(
            "partitioning_a_follower_fails_no_call_and_it_rejoins_when_healed",
        );
    }
    let Some(mut cluster) = EtcdCluster::start_partitionable(3) else {
        return;
    };
    let leader = cluster.leader().expect("a leader");
    // The first member that is not leader: clients list it first, or second.
    let follower = (0..3).find(|&index| index != leader).expect("a follower");
    partition_drill(&mut cluster, follower).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_watch_served_by_a_partitioned_member_carries_on_through_another() {
    if !in_network_namespace() {
        return run_in_privileged_network_namespace(
            "a_registry_watch_served_by_a_partitioned_member_carries_on_through_another",
        );
    }
    let Some(cluster) = EtcdCluster::start_partitionable(3) else {
        return;
    };
    let observer = registry(&cluster);
    let mut watcher = observer.watch(Some("kitchen")).await.unwrap();
    // The member serving the watch: the one that counts a watcher.
    let serving = |cluster: &EtcdCluster| {
        (0..3)
            .find(|&index| cluster.metric(index, "etcd_debugging_mvcc_watcher_total") == Some(1.0))
    };
    let what = "a member to serve the watch";
    wait_for(&cluster, what, Duration::from_secs(5), |c| {
        serving(c).is_some()
    })
    .await;
    let index = serving(&cluster).expect("a member serving the watch");
    cluster.partition(index);
    // The serving member may have led: the others must elect before anyone can write.
    wait_until_the_others_lead(&cluster, index).await;
    // A node registers through the other members.
    let node = micro::registry::Node {
        id: "kitchen-late".into(),
        address: "127.0.0.1:1".into(),
        ..Default::default()
    };
    let service = micro::registry::Service {
        name: "kitchen".into(),
        version: "1".into(),
        nodes: vec![node],
        ..Default::default()
    };
    let value = serde_json::to_string(&service).unwrap();
    let mut others = raw_client(&cluster).await;
    let registered = Instant::now();
    others
        .put("/micro/registry/kitchen/kitchen-late", value, None)
        .await
        .unwrap();
    // Silence is noticed within 2 s; the watch then reopens through another member.
    let within = Duration::from_secs(5);
    let event = tokio::time::timeout(within, watcher.next())
        .await
        .unwrap_or_else(|_| panic!("the watch missed a registration for {within:?}"))
        .expect("the watch goes on")
        .expect("an event, not an error");
    assert_eq!(event.service.nodes[0].id, "kitchen-late");
    eprintln!(
        "the watch on partitioned member {index} reported a registration after {:?}",
        registered.elapsed()
    );
    cluster.heal(index);
}
