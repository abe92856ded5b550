//! The graceful-shutdown drill: three kitchen nodes (real processes: this test binary re-run as
//! `drill_node`) registered in a real etcd, a client calling them through discovery at
//! moderate concurrency, and SIGTERM to one node mid-load while slow calls are in flight on
//! it. No call may fail, the node must exit 0 within its shutdown timeout, and it must stop
//! in order: deregister, readiness false, GOAWAY and drain, exit.

#![cfg(feature = "registry-etcd")]

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use micro::registry::{self, Registry};
use micro::{Client, Service};
use micro_test_support::EtcdServer;
use support::kitchen::{GetRequest, KitchenClient, KitchenServer};

/// Set (to etcd's address) when this binary runs as a drill node.
const NODE_ENV: &str = "MICRO_DRILL_NODE_ETCD";
/// The nodes' `--server-shutdown-timeout`.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long each slow call takes.
const SLOW: Duration = Duration::from_millis(1500);
/// Calls kept in flight by the load.
const CONCURRENCY: usize = 16;
/// Calls made before the SIGTERM, and at least as many after the node exited.
const CALLS_AROUND: u64 = 400;

/// Not a test of its own: the drill runs this binary with `drill_node --exact` and
/// [`NODE_ENV`] set, and this serves one kitchen node until SIGTERM. Otherwise it does nothing.
#[test]
fn drill_node() {
    let Ok(etcd) = std::env::var(NODE_ENV) else {
        return;
    };
    #[derive(Parser)]
    struct Node {
        #[command(flatten)]
        micro: micro::Flags,
    }
    let timeout = format!("{}s", SHUTDOWN_TIMEOUT.as_secs());
    let flags = Node::parse_from([
        "drill-node",
        "--registry",
        "etcd",
        "--registry-address",
        &etcd,
        "--server-address",
        "127.0.0.1:0",
        "--server-shutdown-timeout",
        &timeout,
    ])
    .micro;
    let service = Service::new("kitchen")
        .handle(KitchenServer::new(support::TestKitchen::default()))
        .flags(flags);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(service.run())
        .expect("the node runs and stops cleanly");
}

/// A drill node: the child process and the log lines it wrote, with when they were read.
struct Node {
    child: Child,
    addr: SocketAddr,
    logs: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Node {
    fn start(etcd: &str) -> Node {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["drill_node", "--exact", "--nocapture", "--test-threads=1"])
            .env(NODE_ENV, etcd)
            .env("MICRO_LOG_LEVEL", "info")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let lines = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push((Instant::now(), line));
            }
        });
        let mut node = Node {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            logs,
        };
        let listening = node.wait_for("listening on ", Duration::from_secs(20));
        let rest = listening.split("listening on ").nth(1).unwrap();
        node.addr = rest.split_whitespace().next().unwrap().parse().unwrap();
        node.wait_for(" registered", Duration::from_secs(20));
        node
    }

    /// The first log line containing `text`, polled for up to `limit`.
    fn wait_for(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((_, line)) = self.line(text) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no `{text}` within {limit:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn line(&self, text: &str) -> Option<(usize, String)> {
        let logs = self.logs.lock().unwrap();
        (logs.iter().enumerate())
            .find(|(_, (_, line))| line.contains(text))
            .map(|(at, (_, line))| (at, line.clone()))
    }

    fn log_text(&self) -> String {
        let logs = self.logs.lock().unwrap();
        logs.iter().map(|(_, line)| format!("{line}\n")).collect()
    }

    fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit, up to `limit`.
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the load went.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, result: Result<(), micro::Status>) {
        match result {
            Ok(()) => self.ok.fetch_add(1, Ordering::SeqCst),
            Err(status) => {
                self.errors.lock().unwrap().push(status.to_string());
                self.failed.fetch_add(1, Ordering::SeqCst)
            }
        };
    }

    fn done(&self) -> u64 {
        self.ok.load(Ordering::SeqCst) + self.failed.load(Ordering::SeqCst)
    }
}

async fn get(kitchen: &KitchenClient, id: &str) -> Result<(), micro::Status> {
    let item = kitchen.get(GetRequest { id: id.into() }).await?;
    assert_eq!(item.id, id);
    Ok(())
}

/// `micro_requests_in_flight` of `Kitchen.Get` on the node at `addr`.
async fn in_flight(addr: SocketAddr) -> u64 {
    let request = http::Request::get(format!("http://{addr}/metrics"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let page = support::send_raw(request, false).await.body;
    String::from_utf8_lossy(&page)
        .lines()
        .filter(|line| line.starts_with("micro_requests_in_flight") && line.contains("Kitchen.Get"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

async fn node_count(registry: &Arc<dyn Registry>) -> usize {
    let services = registry.get_service("kitchen").await.unwrap_or_default();
    services.iter().map(|service| service.nodes.len()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_mid_load_drains_without_failing_a_call() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let address = etcd.address();
    let mut nodes: Vec<Node> =
        tokio::task::spawn_blocking(move || (0..3).map(|_| Node::start(&address)).collect())
            .await
            .unwrap();
    let registry: Arc<dyn Registry> = registry::build("etcd", &[etcd.address()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while node_count(&registry).await < 3 {
        assert!(
            Instant::now() < deadline,
            "the three nodes never all registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = Client::builder()
        .registry(registry.clone())
        .build()
        .unwrap();
    let kitchen = KitchenClient::new(client).with_service("kitchen");

    // The load: CONCURRENCY workers calling through discovery until told to stop.
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|worker| {
            let (kitchen, tally, stop) = (kitchen.clone(), tally.clone(), stop.clone());
            tokio::spawn(async move {
                let mut call = 0;
                while !stop.load(Ordering::SeqCst) {
                    tally.record(get(&kitchen, &format!("w{worker}-{call}")).await);
                    call += 1;
                }
            })
        })
        .collect();
    let wait_for_calls = |at_least: u64| {
        let tally = tally.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while tally.done() < at_least {
                assert!(
                    Instant::now() < deadline,
                    "the load stalled at {}",
                    tally.done()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    wait_for_calls(CALLS_AROUND).await;

    // Slow calls: three straight to the victim, six more through discovery.
    let victim = nodes[0].addr;
    let direct = KitchenClient::new(Client::connect(&victim.to_string()).unwrap());
    let slow_id = format!("sleep:{}", SLOW.as_millis());
    let slow: Vec<_> = (0..9)
        .map(|n| {
            let client = if n < 3 {
                direct.clone()
            } else {
                kitchen.clone()
            };
            let id = slow_id.clone();
            tokio::spawn(async move { get(&client, &id).await })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while in_flight(victim).await < 3 {
        assert!(
            Instant::now() < deadline,
            "the slow calls never reached the victim"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let before_sigterm = tally.done();
    let sent = Instant::now();
    nodes[0].terminate();
    let mut victim_node = nodes.remove(0);
    let (status, victim_node) = tokio::task::spawn_blocking(move || {
        let status = victim_node.wait(SHUTDOWN_TIMEOUT + Duration::from_secs(2));
        (status, victim_node)
    })
    .await
    .unwrap();
    let shutdown_took = sent.elapsed();
    let exited_at = tally.done();
    wait_for_calls(exited_at + CALLS_AROUND).await;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    let mut slow_failures = Vec::new();
    for call in slow {
        if let Err(status) = call.await.unwrap() {
            slow_failures.push(status.to_string());
        }
    }

    let (ok, failed) = (
        tally.ok.load(Ordering::SeqCst),
        tally.failed.load(Ordering::SeqCst),
    );
    eprintln!(
        "drill: {} calls ({ok} ok, {failed} failed; {before_sigterm} before SIGTERM, {} \
         until the node exited) + 9 slow calls ({} failed); exit {status:?} after \
         {shutdown_took:?}",
        ok + failed,
        exited_at - before_sigterm,
        slow_failures.len()
    );
    let logs = victim_node.log_text();
    let stopping = logs
        .lines()
        .skip_while(|line| !line.contains("shutting down"));
    eprintln!(
        "the node's log from SIGTERM on:\n{}",
        stopping.collect::<Vec<_>>().join("\n")
    );
    let status = status.unwrap_or_else(|| panic!("no exit within the shutdown timeout:\n{logs}"));
    assert_eq!(status.code(), Some(0), "{logs}");
    assert!(
        shutdown_took < SHUTDOWN_TIMEOUT,
        "took {shutdown_took:?}:\n{logs}"
    );
    // The slow calls in flight were drained, not cut off.
    assert!(
        shutdown_took >= Duration::from_millis(500),
        "{shutdown_took:?}"
    );
    assert_eq!(failed, 0, "{:?}", tally.errors.lock().unwrap());
    assert!(slow_failures.is_empty(), "{slow_failures:?}");

    // The order, from the node's own log.
    let at = |text: &str| {
        victim_node
            .line(text)
            .unwrap_or_else(|| panic!("no `{text}` in:\n{logs}"))
            .0
    };
    let order = [
        at("shutting down"),
        at("deregistered"),
        at("not ready: draining"),
        at("stopped accepting"),
        at("cut_off=0"),
    ];
    assert!(order.is_sorted(), "out of order {order:?}:\n{logs}");
    assert_eq!(node_count(&registry).await, 2);
}
