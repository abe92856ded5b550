//! How long until a registration is visible to another process: one registry client registers
//! a node, another (its own etcd client, or its own mDNS socket) watches for it.
//!
//! ```sh
//! cargo run --release -p micro-benches --bin discovery -- --registry etcd      # starts etcd
//! unshare --net --map-root-user sh -c 'ip link set lo up && ip link set lo multicast on && \
//!     exec target/release/discovery --registry mdns'                          # or scripts/bench.sh
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use micro::registry::{self, Action, Node, Registry, Service};

/// Register → visible latency.
#[derive(Parser)]
struct Args {
    /// `etcd` (a private etcd is started) or `mdns` (run inside a network namespace).
    #[arg(long, default_value = "etcd")]
    registry: String,
    /// Registrations to time.
    #[arg(long, default_value_t = 50)]
    samples: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let etcd = match args.registry.as_str() {
        "etcd" => Some(
            micro_test_support::EtcdServer::start()
                .ok_or_else(|| anyhow::anyhow!("etcd is not installed"))?,
        ),
        _ => None,
    };
    let addresses: Vec<String> = etcd.iter().map(|server| server.address()).collect();
    let publisher = registry::build(&args.registry, &addresses)?;
    let observer = registry::build(&args.registry, &addresses)?;

    let mut samples = Vec::with_capacity(args.samples);
    for sample in 0..args.samples {
        samples.push(time_one(&publisher, &observer, sample).await?);
    }
    samples.sort();
    let percentile = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!(
        "{}: register -> seen by another client's watch, {} samples: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        args.registry,
        samples.len(),
        percentile(0.5).as_secs_f64() * 1e3,
        percentile(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
    Ok(())
}

/// Registers a fresh node and measures until the observer's watch reports it.
async fn time_one(
    publisher: &Arc<dyn Registry>,
    observer: &Arc<dyn Registry>,
    sample: usize,
) -> anyhow::Result<Duration> {
    let name = format!("bench-{sample}");
    let id = format!("{name}-{}", uuid_like(sample));
    let service = Service {
        name: name.clone(),
        version: "1".into(),
        nodes: vec![Node {
            id: id.clone(),
            address: format!("127.0.0.1:{}", 10000 + sample),
            ..Node::default()
        }],
        ..Service::default()
    };
    let mut watcher = observer.watch(Some(&name)).await?;
    let started = Instant::now();
    publisher
        .register(&service, Some(Duration::from_secs(60)))
        .await?;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), watcher.next())
            .await
            .map_err(|_| anyhow::anyhow!("{name} was not seen within 10 s"))?
            .ok_or_else(|| anyhow::anyhow!("the watch ended"))??;
        if event.action == Action::Create && event.service.nodes.iter().any(|node| node.id == id) {
            break;
        }
    }
    let elapsed = started.elapsed();
    publisher.deregister(&service).await?;
    Ok(elapsed)
}

fn uuid_like(sample: usize) -> String {
    format!("{sample:08x}-0000-4000-8000-{:012x}", std::process::id())
}
