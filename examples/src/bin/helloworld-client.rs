//! Calls the helloworld service, found through the registry like any service, and doubles
//! as a small load tool for demos and failover drills.
//!
//! Run it (with `cargo run -p examples --bin helloworld` running):
//!
//! ```sh
//! cargo run -p examples --bin helloworld-client -- alice                  # one call, via mDNS
//! cargo run -p examples --bin helloworld-client -- --address 127.0.0.1:8080 bob
//! cargo run -p examples --bin helloworld-client -- --registry etcd \
//!     --registry-address 127.0.0.1:2379 --requests 10000 --concurrency 16
//! ```
//!
//! With `--requests` above one it prints a summary; its last line reads
//! `ok=N failed=M p50=…ms p99=…ms`, and the exit status is 1 if any call failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use examples::helloworld::{HelloworldClient, Request};
use micro::{Client, Flags, Service};
use tokio::task::JoinSet;

/// Greets someone through the helloworld service.
#[derive(Parser)]
struct Args {
    /// Who to greet.
    #[arg(default_value = "world")]
    name: String,
    /// Call this address instead of resolving `helloworld` through the registry.
    #[arg(long, env = "MICRO_CLIENT_ADDRESS")]
    address: Option<String>,
    /// How many calls to make.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    requests: u64,
    /// How many calls to keep in flight.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    #[command(flatten)]
    micro: Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = match &args.address {
        Some(address) => Client::builder()
            .address(address)
            .flags(&args.micro)
            .build()?,
        None => Service::new("helloworld-client")
            .flags(args.micro.clone())
            .client()?,
    };
    let helloworld = HelloworldClient::new(client);
    if args.requests == 1 {
        let reply = helloworld.greeting(Request { name: args.name }).await?;
        println!("{}", reply.message);
        return Ok(());
    }
    let report = load(helloworld, &args).await;
    println!("{report}");
    if report.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// What a load run measured.
struct Report {
    ok: usize,
    failed: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Makes `args.requests` calls, `args.concurrency` at a time.
async fn load(helloworld: HelloworldClient, args: &Args) -> Report {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..args.concurrency.min(args.requests) {
        let (helloworld, next, name) = (helloworld.clone(), next.clone(), args.name.clone());
        let requests = args.requests;
        workers.spawn(async move {
            let mut results = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let call = Instant::now();
                let result = helloworld.greeting(Request { name: name.clone() }).await;
                if let Err(status) = &result {
                    eprintln!("call failed: {status}");
                }
                results.push((result.is_ok(), call.elapsed()));
            }
            results
        });
    }
    let mut report = Report {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for (ok, latency) in workers.join_all().await.into_iter().flatten() {
        match ok {
            true => report.ok += 1,
            false => report.failed += 1,
        }
        report.latencies.push(latency);
    }
    report.elapsed = started.elapsed();
    report.latencies.sort_unstable();
    report
}

impl Report {
    fn percentile(&self, share: f64) -> Duration {
        let last = self.latencies.len().saturating_sub(1);
        let index = ((last as f64) * share).round() as usize;
        self.latencies.get(index).copied().unwrap_or_default()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = (self.ok + self.failed) as f64 / self.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "{} calls in {:.2?} ({rate:.0} calls/s)",
            self.ok + self.failed,
            self.elapsed
        )?;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "ok={} failed={} p50={:.3}ms p99={:.3}ms",
            self.ok,
            self.failed,
            ms(self.percentile(0.50)),
            ms(self.percentile(0.99))
        )
    }
}
