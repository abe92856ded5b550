//! The client stack against real services: calls by service name through the registry,
//! random and round-robin spread, failover when a node dies under load, the retry budget,
//! deadlines across hops, streaming through discovery, and what goes wrong when the service or
//! the registry cannot be found.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(feature = "registry-etcd")]
use micro::registry::Cache;
use micro::registry::Registry;
use micro::selector::Strategy;
use micro::{Client, Code, Context, RunningService, Service, Status};
use support::kitchen::{
    GetRequest, KitchenClient, ListRequest, PantryClient, PantryHandler, PantryServer, PutReply,
};
use support::types::Item;
use support::{TestKitchen, kitchen_service, memory_registry};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Kitchen nodes registered in one registry, each with its own call counters.
struct Fleet {
    nodes: Vec<Option<RunningService>>,
    kitchens: Vec<TestKitchen>,
}

impl Fleet {
    async fn start(registry: &Arc<dyn Registry>, count: usize) -> Fleet {
        let mut fleet = Fleet {
            nodes: Vec::new(),
            kitchens: Vec::new(),
        };
        for n in 0..count {
            let kitchen = TestKitchen::default();
            let node = kitchen_service(kitchen.clone())
                .registry(registry.clone())
                .metadata("n", n.to_string())
                .start()
                .await
                .expect("node starts");
            fleet.nodes.push(Some(node));
            fleet.kitchens.push(kitchen);
        }
        fleet
    }

    /// Calls each node's handlers started.
    fn served(&self) -> Vec<usize> {
        self.kitchens
            .iter()
            .map(|k| k.counters.started.load(Ordering::SeqCst))
            .collect()
    }

    /// Kills node `n` abruptly: no deregistration, connections cut.
    fn kill(&mut self, n: usize) {
        drop(self.nodes[n].take());
    }
}

fn kitchen_client(client: Client) -> KitchenClient {
    KitchenClient::new(client).with_service("kitchen")
}

fn get(id: &str) -> GetRequest {
    GetRequest { id: id.to_owned() }
}

/// Pearson's χ² statistic of `counts` against a uniform spread.
fn chi_squared(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

/// The χ² value a uniform spread over three nodes exceeds with probability 0.001 (2 degrees of
/// freedom): a correct random selector fails this test once in a thousand runs.
const CHI_SQUARED_2DF_P001: f64 = 13.816;

async fn spread(registry: Arc<dyn Registry>) {
    let fleet = Fleet::start(&registry, 3).await;
    let random = kitchen_client(Client::with_registry(registry.clone()).unwrap());
    for _ in 0..3000 {
        random.get(get("a")).await.unwrap();
    }
    let counts = fleet.served();
    assert_eq!(counts.iter().sum::<usize>(), 3000);
    let chi = chi_squared(&counts);
    assert!(
        chi < CHI_SQUARED_2DF_P001,
        "random spread {counts:?} has χ² = {chi:.2}"
    );
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");

    // Round robin continues across calls (go-micro restarts it per call, #2799).
    let round_robin = Client::builder()
        .registry(registry)
        .selector(Strategy::RoundRobin)
        .build();
    let round_robin = kitchen_client(round_robin.unwrap());
    for _ in 0..300 {
        round_robin.get(get("a")).await.unwrap();
    }
    let after: Vec<usize> = fleet
        .served()
        .iter()
        .zip(&counts)
        .map(|(a, b)| a - b)
        .collect();
    assert_eq!(after, [100, 100, 100]);
}

/// p2c goes by the calls this client has in flight on each node's connections: with five
/// slow calls held on node 0, every new call goes to node 1.
#[tokio::test]
async fn least_loaded_avoids_the_node_with_calls_in_flight() {
    let registry = memory_registry();
    let fleet = Fleet::start(&registry, 2).await;
    let client = Client::builder()
        .registry(registry)
        .selector(Strategy::LeastLoaded)
        .build()
        .unwrap();
    let kitchen = kitchen_client(client);
    let busy = fleet.nodes[0].as_ref().unwrap().local_addr().to_string();
    let mut slow = JoinSet::new();
    for _ in 0..5 {
        let (kitchen, busy) = (kitchen.clone(), busy.clone());
        slow.spawn(async move { kitchen.get(get("slow")).address(&busy).await });
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while fleet.served()[0] < 5 {
        assert!(Instant::now() < deadline, "the slow calls never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..20 {
        kitchen.get(get("a")).await.unwrap();
    }
    assert_eq!(fleet.served(), [5, 20]);
    slow.abort_all();
}

#[tokio::test]
async fn random_spread_passes_chi_squared_and_round_robin_is_exact_memory() {
    spread(memory_registry()).await;
}

#[cfg(feature = "registry-etcd")]
#[tokio::test]
async fn random_spread_passes_chi_squared_and_round_robin_is_exact_etcd() {
    let Some(etcd) = micro_test_support::EtcdServer::start() else {
        return;
    };
    spread(etcd_registry(&etcd)).await;
}

#[cfg(feature = "registry-etcd")]
fn etcd_registry(etcd: &micro_test_support::EtcdServer) -> Arc<dyn Registry> {
    let options = micro::registry::EtcdOptions::from_addresses(&[etcd.address()]);
    Arc::new(micro::registry::EtcdRegistry::new(options))
}

/// Calls from several tasks while one node is killed; every call must succeed.
async fn failover_under_load(registry: Arc<dyn Registry>) {
    let mut fleet = Fleet::start(&registry, 3).await;
    let client = kitchen_client(Client::with_registry(registry).unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..8 {
        let (client, calls) = (client.clone(), calls.clone());
        tasks.spawn(async move {
            let mut failures = Vec::new();
            for _ in 0..500 {
                if let Err(status) = client.get(get("a")).await {
                    failures.push(status);
                }
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
            failures
        });
    }
    while calls.load(Ordering::SeqCst) < 1000 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let served_before_kill = fleet.served()[1];
    fleet.kill(1);
    let failures: Vec<Status> = tasks.join_all().await.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} calls failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    assert!(
        served_before_kill > 0,
        "node 1 served nothing before it died"
    );
    let served = fleet.served();
    assert!(
        served[0] + served[2] > 2000,
        "the surviving nodes took over: {served:?}"
    );
}

#[tokio::test]
async fn killing_a_node_under_load_fails_no_call_memory() {
    failover_under_load(memory_registry()).await;
}

#[cfg(feature = "registry-etcd")]
#[tokio::test]
async fn killing_a_node_under_load_fails_no_call_etcd() {
    let Some(etcd) = micro_test_support::EtcdServer::start() else {
        return;
    };
    failover_under_load(etcd_registry(&etcd)).await;
}

#[tokio::test]
async fn all_nodes_down_fails_fast_with_unavailable_naming_the_service() {
    let registry = memory_registry();
    let mut fleet = Fleet::start(&registry, 3).await;
    let client = kitchen_client(Client::with_registry(registry).unwrap());
    client.get(get("a")).await.unwrap();
    (0..3).for_each(|n| fleet.kill(n));
    let started = Instant::now();
    let status = client.get(get("a")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("kitchen"), "{}", status.message());
    assert!(
        status.message().contains("after 4 attempts"),
        "{}",
        status.message()
    );
    // Retries back off gRPC's way: random waits below 50, 100 and 200 ms.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn the_retry_budget_bounds_attempts_when_every_node_is_unavailable() {
    let registry = memory_registry();
    let fleet = Fleet::start(&registry, 3).await;
    let client = Client::builder()
        .registry(registry)
        .backoff(|_| Duration::ZERO)
        .build()
        .unwrap();
    let client = kitchen_client(client);
    let calls = 300;
    let mut failed = 0;
    for _ in 0..calls {
        let status = client.get(get("unavailable")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        failed += 1;
    }
    let attempts: usize = fleet.served().iter().sum();
    // Without a budget: 4 attempts per call (1200). With it: every call once, 20 % of them
    // again, and the floor of 10 retries a second over the 10 s window.
    assert_eq!(failed, calls);
    assert!(attempts >= calls, "{attempts}");
    assert!(
        attempts <= calls + calls / 5 + 100,
        "{attempts} attempts for {calls} calls"
    );
}

/// A pantry node that answers, or says it is unavailable (as a draining node does).
#[derive(Clone, Default)]
struct Flaky {
    unavailable: bool,
    calls: Arc<AtomicUsize>,
}

impl PantryHandler for Flaky {
    async fn count(&self, _ctx: Context, _request: ()) -> Result<PutReply, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.unavailable {
            true => Err(Status::unavailable("draining")),
            false => Ok(PutReply { stored: 7 }),
        }
    }
}

#[tokio::test]
async fn unavailable_is_retried_on_another_node() {
    let registry = memory_registry();
    let (draining, healthy) = (
        Flaky {
            unavailable: true,
            ..Flaky::default()
        },
        Flaky::default(),
    );
    let mut nodes = Vec::new();
    for handler in [&draining, &healthy] {
        let service = Service::new("pantry")
            .address("127.0.0.1:0")
            .registry(registry.clone());
        nodes.push(
            service
                .handle(PantryServer::new(handler.clone()))
                .start()
                .await
                .unwrap(),
        );
    }
    let client = Client::builder()
        .registry(registry)
        .selector(Strategy::RoundRobin)
        .build();
    let pantry = PantryClient::new(client.unwrap()).with_service("pantry");
    for _ in 0..10 {
        assert_eq!(pantry.count(()).await.unwrap().stored, 7);
    }
    assert_eq!(healthy.calls.load(Ordering::SeqCst), 10);
    assert!(
        draining.calls.load(Ordering::SeqCst) >= 1,
        "round robin reached the draining node"
    );
}

#[tokio::test]
async fn streaming_calls_of_every_kind_go_through_discovery() {
    let registry = memory_registry();
    let _fleet = Fleet::start(&registry, 2).await;
    let client = kitchen_client(Client::with_registry(registry).unwrap());
    let request = ListRequest {
        limit: Some(5),
        ..ListRequest::default()
    };
    let mut items = client.list(request).await.unwrap();
    let mut ids = Vec::new();
    while let Some(item) = items.recv().await.unwrap() {
        ids.push(item.id);
    }
    assert_eq!(ids, ["0", "1", "2", "3", "4"]);

    let items = futures::stream::iter((0..4).map(|n| Item {
        id: n.to_string(),
        ..Item::default()
    }));
    assert_eq!(client.put(items).await.unwrap(), PutReply { stored: 4 });

    let items = futures::stream::iter(["x", "y"].map(|id| Item {
        id: id.into(),
        ..Item::default()
    }));
    let mut replies = client.chat(items).await.unwrap();
    let mut ids = Vec::new();
    while let Some(item) = replies.recv().await.unwrap() {
        ids.push(item.id);
    }
    assert_eq!(ids, ["re: x", "re: y"]);
}

#[tokio::test]
async fn an_unknown_service_is_not_found_naming_it_and_the_registry() {
    let client = Client::with_registry(memory_registry()).unwrap();
    let status = KitchenClient::new(client)
        .with_service("nowhere")
        .get(get("a"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(
        status.message().contains("`nowhere`"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("memory registry"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn a_per_call_address_and_retries_override_the_client() {
    let registry = memory_registry();
    let mut fleet = Fleet::start(&registry, 2).await;
    let address = fleet.nodes[1].as_ref().unwrap().local_addr().to_string();
    let client = kitchen_client(Client::with_registry(registry).unwrap());
    for _ in 0..5 {
        client.get(get("a")).address(&address).await.unwrap();
    }
    assert_eq!(fleet.served(), [0, 5]);
    fleet.kill(1);
    let status = client
        .get(get("a"))
        .address(&address)
        .retries(0)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        !status.message().contains("attempts"),
        "one attempt: {}",
        status.message()
    );
    let bad = client
        .get(get("a"))
        .address("not an address")
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
}

#[tokio::test]
async fn an_expired_deadline_is_not_retried() {
    let registry = memory_registry();
    let fleet = Fleet::start(&registry, 3).await;
    let client = kitchen_client(Client::with_registry(registry).unwrap());
    let started = Instant::now();
    let status = client
        .get(get("slow"))
        .timeout(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        status.message().contains("kitchen Kitchen.Get"),
        "{}",
        status.message()
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        fleet.served().iter().sum::<usize>(),
        1,
        "exactly one attempt"
    );
}

#[cfg(feature = "registry-etcd")]
#[tokio::test]
async fn cached_nodes_keep_working_while_the_registry_is_down() {
    let Some(mut etcd) = micro_test_support::EtcdServer::start() else {
        return;
    };
    let registry = etcd_registry(&etcd);
    let _fleet = Fleet::start(&registry, 2).await;
    let cache = Cache::with_ttl(registry, Duration::from_millis(100));
    let client = kitchen_client(Client::builder().registry_cache(cache).build().unwrap());
    client.get(get("a")).await.unwrap();
    etcd.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..10 {
        client
            .get(get("a"))
            .await
            .expect("served from the cached nodes");
    }
}

/// A hop in a chain of services: waits, then calls the next hop, or (the last) records what it
/// was called with.
#[derive(Clone)]
struct Hop {
    next: Option<PantryClient>,
    seen: Arc<Mutex<HashMap<String, String>>>,
    calls: Arc<AtomicUsize>,
}

impl PantryHandler for Hop {
    async fn count(&self, ctx: Context, _request: ()) -> Result<PutReply, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        if let Some(next) = &self.next {
            return next.count(()).await;
        }
        let mut seen = self.seen.lock().unwrap();
        let left = ctx.remaining().map_or(0, |left| left.as_millis());
        seen.insert("remaining_ms".into(), left.to_string());
        for key in ["x-request-id", "micro-from-service", "x-private"] {
            seen.insert(key.into(), ctx.get(key).unwrap_or("").into());
        }
        Ok(PutReply { stored: 1 })
    }
}

#[tokio::test]
async fn deadlines_and_metadata_pass_across_two_hops() {
    let registry = memory_registry();
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let mut running = Vec::new();
    let mut next = None;
    let mut calls = Vec::new();
    for name in ["hop-c", "hop-b", "hop-a"] {
        let service = Service::new(name)
            .address("127.0.0.1:0")
            .registry(registry.clone());
        let hop = Hop {
            next: next.take(),
            seen: seen.clone(),
            calls: Arc::default(),
        };
        calls.push(hop.calls.clone());
        next = Some(PantryClient::new(service.client().unwrap()).with_service(name));
        running.push(
            service
                .handle(PantryServer::new(hop))
                .start()
                .await
                .unwrap(),
        );
    }
    let first = next.unwrap();
    let reply = first
        .count(())
        .timeout(Duration::from_secs(2))
        .metadata("x-request-id", "req-42")
        .metadata("x-private", "not passed on")
        .await
        .unwrap();
    assert_eq!(reply.stored, 1);
    let seen = seen.lock().unwrap().clone();
    let left: u64 = seen["remaining_ms"].parse().unwrap();
    // Two hops waited 150 ms each before calling on: C has at most 2000 - 300 left.
    assert!((1000..=1700).contains(&left), "C saw {left} ms left");
    assert_eq!(seen["x-request-id"], "req-42");
    assert_eq!(seen["micro-from-service"], "hop-b");
    assert_eq!(
        seen["x-private"], "",
        "only allow-listed metadata is passed on"
    );

    // A deadline shorter than the first hop's wait ends the chain there.
    let status = first
        .count(())
        .timeout(Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let counts: Vec<usize> = calls.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(
        counts,
        [1, 1, 2],
        "C, B, A calls: B was not called after A's deadline passed"
    );
}

/// A port that never completes a connection: a listener that accepts nothing, its backlog
/// filled, so the kernel drops further SYNs and `connect` hangs. The listener and the filling
/// connections are returned to keep them open.
async fn unanswering_port() -> (
    std::net::SocketAddr,
    tokio::net::TcpListener,
    Vec<tokio::net::TcpStream>,
) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut filling = Vec::new();
    for _ in 0..8 {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(200), connect).await {
            Ok(Ok(stream)) => filling.push(stream),
            _ => break,
        }
    }
    (addr, listener, filling)
}

#[tokio::test]
async fn the_connect_timeout_bounds_a_node_that_does_not_answer() {
    let (addr, _listener, _filling) = unanswering_port().await;
    let client = Client::builder()
        .address(addr.to_string())
        .connect_timeout(Duration::from_millis(300))
        .retries(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = KitchenClient::new(client)
        .get(GetRequest { id: "fig".into() })
        .timeout(Duration::from_secs(20))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("no answer within 300ms"), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let zero = Client::builder()
        .address(addr.to_string())
        .connect_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(
        zero.to_string().contains("--client-connect-timeout"),
        "{zero}"
    );
}
