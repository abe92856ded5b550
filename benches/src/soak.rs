//! The processes of a soak run (`scripts/soak.sh`): a private etcd, the helloworld nodes the
//! script restarts, and a driver that calls them through the registry at a steady rate for a
//! bounded time and counts every failure.
//!
//! ```sh
//! scripts/soak.sh --minutes 3                  # builds this, runs everything, judges the run
//! target/release/soak etcd                     # prints `etcd 127.0.0.1:PORT`; stops on SIGTERM
//! target/release/soak node --registry etcd --registry-address 127.0.0.1:PORT
//! target/release/soak drive --seconds 180 --rate 200 --concurrency 16 \
//!     --registry etcd --registry-address 127.0.0.1:PORT
//! ```
//!
//! The driver prints a status line every `--status-every` seconds and, at the end, a line
//! `summary: calls=N ok=N failed=N …` followed by each distinct error with its count; it exits
//! 1 if any call failed or it was interrupted.

mod greeter;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use greeter::{Greeter, pb};
use hdrhistogram::Histogram;
use micro::{Flags, Service};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;

/// At most this many failures are printed as they happen; all are counted.
const PRINTED_FAILURES: u64 = 50;

/// A soak run's processes.
#[derive(Parser)]
enum Command {
    /// Starts etcd on loopback (temporary data, free ports), prints `etcd ADDRESS`, and stops
    /// it on SIGTERM or SIGINT.
    Etcd,
    /// Serves `helloworld` (`Helloworld.Greeting`) until SIGTERM, then drains and exits.
    Node {
        #[command(flatten)]
        micro: Flags,
    },
    /// Calls `helloworld` through the registry at a steady rate until the time is up.
    Drive(Drive),
}

/// The driver's options.
#[derive(clap::Args)]
struct Drive {
    /// How long to call for.
    #[arg(long, default_value_t = 1800)]
    seconds: u64,
    /// Calls started per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Most calls in flight; a tick that finds them all busy is counted as skipped.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    concurrency: u32,
    /// Seconds between status lines.
    #[arg(long, default_value_t = 10)]
    status_every: u64,
    #[command(flatten)]
    micro: Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Command::parse() {
        Command::Etcd => {
            let etcd = micro_test_support::EtcdServer::start().ok_or_else(|| {
                anyhow::anyhow!(
                    "etcd is not installed: install etcd-server or set MICRO_TEST_ETCD_BIN"
                )
            })?;
            println!("etcd {}", etcd.address());
            stopped().await?;
            Ok(())
        }
        Command::Node { micro } => Ok(Service::new("helloworld")
            .handle(pb::HelloworldServer::new(Greeter))
            .flags(micro)
            .run()
            .await?),
        Command::Drive(drive) => {
            let clean = drive.run().await?;
            std::process::exit(if clean { 0 } else { 1 });
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT.
async fn stopped() -> std::io::Result<()> {
    let (mut term, mut int) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    );
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

impl Drive {
    /// Runs the load; `true` if every call succeeded and the run was not interrupted.
    async fn run(self) -> anyhow::Result<bool> {
        anyhow::ensure!(self.rate > 0.0, "--rate must be above 0");
        let client = Service::new("soak-driver").flags(self.micro).client()?;
        let helloworld = pb::HelloworldClient::new(client);
        let tally = Arc::new(Mutex::new(Tally::new()));
        let permits = Arc::new(Semaphore::new(self.concurrency as usize));
        // Late ticks fire at once (tokio's `Burst`), so the rate holds on average.
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / self.rate));
        let every = Duration::from_secs(self.status_every.max(1));
        let mut status = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let started = Instant::now();
        let end = tokio::time::sleep(Duration::from_secs(self.seconds));
        let stop = stopped();
        tokio::pin!(end, stop);
        let mut interrupted = false;
        let mut sequence = 0u64;
        loop {
            tokio::select! {
                _ = &mut end => break,
                _ = &mut stop => {
                    interrupted = true;
                    break;
                }
                _ = status.tick() => {
                    let mut tally = tally.lock().expect("tally lock");
                    println!("{}", tally.status_line(started.elapsed()));
                }
                _ = ticks.tick() => {
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        tally.lock().expect("tally lock").skipped += 1;
                        continue;
                    };
                    let (helloworld, tally) = (helloworld.clone(), tally.clone());
                    sequence += 1;
                    let at = started;
                    tokio::spawn(async move {
                        let (outcome, took) = call(&helloworld, sequence).await;
                        tally.lock().expect("tally lock").record(outcome, took, at.elapsed());
                        drop(permit);
                    });
                }
            }
        }
        // The calls still in flight finish (or time out on the client's deadline).
        let all = self.concurrency;
        let drained = tokio::time::timeout(Duration::from_secs(60), permits.acquire_many(all));
        let drained = matches!(drained.await, Ok(Ok(_)));
        let tally = tally.lock().expect("tally lock");
        println!("{}", tally.summary(started.elapsed(), interrupted, drained));
        for (error, count) in &tally.errors {
            println!("error: {count} x {error}");
        }
        Ok(tally.failed == 0 && !interrupted && drained)
    }
}

/// One greeting, checked: its outcome and how long it took.
async fn call(helloworld: &pb::HelloworldClient, sequence: u64) -> (Result<(), String>, Duration) {
    let name = format!("soak-{sequence}");
    let sent = Instant::now();
    let reply = helloworld
        .greeting(pb::Request { name: name.clone() })
        .await;
    let took = sent.elapsed();
    let outcome = match reply {
        Ok(reply) if reply.message == format!("Hello {name}") => Ok(()),
        Ok(reply) => Err(format!("wrong reply {:?} to {name:?}", reply.message)),
        Err(status) => Err(status.to_string()),
    };
    (outcome, took)
}

/// What the driver counted: in all, and latencies since the last status line.
struct Tally {
    ok: u64,
    failed: u64,
    skipped: u64,
    errors: BTreeMap<String, u64>,
    all: Histogram<u64>,
    window: Histogram<u64>,
    window_calls: u64,
    window_started: Duration,
}

impl Tally {
    fn new() -> Tally {
        // Microseconds, 3 significant digits, up to an hour.
        let histogram = || Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram");
        Tally {
            ok: 0,
            failed: 0,
            skipped: 0,
            errors: BTreeMap::new(),
            all: histogram(),
            window: histogram(),
            window_calls: 0,
            window_started: Duration::ZERO,
        }
    }

    fn record(&mut self, outcome: Result<(), String>, took: Duration, at: Duration) {
        let micros = (took.as_micros() as u64).clamp(1, 3_600_000_000);
        self.all.saturating_record(micros);
        self.window.saturating_record(micros);
        self.window_calls += 1;
        match outcome {
            Ok(()) => self.ok += 1,
            Err(error) => {
                self.failed += 1;
                if self.failed <= PRINTED_FAILURES {
                    eprintln!("soak: t={:.1}s call failed: {error}", at.as_secs_f64());
                }
                *self.errors.entry(error).or_default() += 1;
            }
        }
    }

    /// `t=… calls=… ok=… failed=… skipped=… rate=…/s p50=… p99=… max=…` since the last one
    /// (rate and latencies) or in all (counts); starts a new window.
    fn status_line(&mut self, now: Duration) -> String {
        let seconds = (now - self.window_started).as_secs_f64().max(1e-9);
        let line = format!(
            "t={:.0}s calls={} ok={} failed={} skipped={} rate={:.1}/s {}",
            now.as_secs_f64(),
            self.ok + self.failed,
            self.ok,
            self.failed,
            self.skipped,
            self.window_calls as f64 / seconds,
            latencies(&self.window),
        );
        self.window.reset();
        self.window_calls = 0;
        self.window_started = now;
        line
    }

    fn summary(&self, elapsed: Duration, interrupted: bool, drained: bool) -> String {
        let calls = self.ok + self.failed;
        format!(
            "summary: calls={calls} ok={} failed={} skipped={} seconds={:.0} rate={:.1}/s {} \
             interrupted={interrupted} drained={drained}",
            self.ok,
            self.failed,
            self.skipped,
            elapsed.as_secs_f64(),
            calls as f64 / elapsed.as_secs_f64().max(1e-9),
            latencies(&self.all),
        )
    }
}

/// `p50=…ms p99=…ms max=…ms` of a histogram of microseconds.
fn latencies(histogram: &Histogram<u64>) -> String {
    let ms = |micros: u64| micros as f64 / 1000.0;
    format!(
        "p50={:.2}ms p99={:.2}ms max={:.2}ms",
        ms(histogram.value_at_quantile(0.50)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.max()),
    )
}
