//! The load generator both benchmarks share: concurrent callers, latency histogram, medians.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// One round's outcome.
#[derive(Clone)]
pub(crate) struct Round {
    pub(crate) requests_per_second: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    /// CPU time this process (and the processes [`count_process`] names) spent per request
    /// (client and server alike, when both run here): steadier than throughput on a shared machine, whose neighbours steal time.
    pub(crate) cpu_per_request: Duration,
}

/// Processes besides this one whose CPU time counts (a peer in front of this process's
/// server, say), by pid; see [`count_process`].
static COUNTED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Counts the CPU time of process `pid` in every round from now on, with this process's.
#[allow(dead_code)] // not every bench binary runs a peer process
pub(crate) fn count_process(pid: u32) {
    COUNTED.lock().expect("counted pids").push(pid);
}

/// CPU time this process and the counted ones have used (user and system).
fn cpu_time() -> Duration {
    let pids = COUNTED.lock().expect("counted pids").clone();
    let others: Duration = pids
        .iter()
        .map(|pid| process_cpu_time(&format!("/proc/{pid}/stat")))
        .sum();
    process_cpu_time("/proc/self/stat") + others
}

/// A process's CPU time from its `stat` file at `path` (10 ms ticks).
pub(crate) fn process_cpu_time(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split(' ').collect())
        .unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok());
    // Fields 14 and 15 of the file: utime and stime, in clock ticks (100 per second).
    let total = ticks(11).unwrap_or(0) + ticks(12).unwrap_or(0);
    Duration::from_millis(total * 10)
}

/// Runs `requests` calls from `concurrency` callers. Each caller owns some state (a connection,
/// a client) made by `new_caller`; `call` takes it, makes one request, awaits the reply and
/// hands the state back for the next one.
pub(crate) async fn round<C, N, NFut, F, Fut>(
    requests: u64,
    concurrency: u64,
    new_caller: N,
    call: F,
) -> Round
where
    N: Fn() -> NFut,
    NFut: Future<Output = C>,
    C: Send + 'static,
    F: Fn(C) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = C> + Send,
{
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new(3).expect("histogram")));
    let per_task = requests / concurrency;
    let mut callers = Vec::new();
    for _ in 0..concurrency {
        callers.push(new_caller().await);
    }
    let started = Instant::now();
    let cpu_started = cpu_time();
    let tasks: Vec<_> = callers
        .into_iter()
        .map(|mut caller| {
            let call = call.clone();
            let histogram = histogram.clone();
            tokio::spawn(async move {
                let mut local = Histogram::<u64>::new(3).expect("histogram");
                for _ in 0..per_task {
                    let sent = Instant::now();
                    caller = call(caller).await;
                    local
                        .record(sent.elapsed().as_nanos() as u64)
                        .expect("record");
                }
                histogram
                    .lock()
                    .expect("histogram lock")
                    .add(local)
                    .expect("merge");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("caller task");
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_started);
    let histogram = histogram.lock().expect("histogram lock");
    Round {
        requests_per_second: (per_task * concurrency) as f64 / elapsed.as_secs_f64(),
        p50: Duration::from_nanos(histogram.value_at_quantile(0.50)),
        p99: Duration::from_nanos(histogram.value_at_quantile(0.99)),
        cpu_per_request: cpu / (per_task * concurrency).max(1) as u32,
    }
}

/// The round with the median throughput, reporting the median CPU time per request of all
/// rounds.
pub(crate) fn median(mut rounds: Vec<Round>) -> Round {
    let mut cpu: Vec<Duration> = rounds.iter().map(|round| round.cpu_per_request).collect();
    cpu.sort();
    rounds.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
    let mut median = rounds.swap_remove(rounds.len() / 2);
    median.cpu_per_request = cpu[cpu.len() / 2];
    median
}

/// Runs `rounds` rounds of each of `stacks` stacks (`run(index)` runs one round of one), each
/// round starting with the next stack so that none always runs right after the same other, and
/// returns every stack's rounds in order.
pub(crate) async fn rotate<'a>(
    stacks: usize,
    rounds: usize,
    mut run: impl FnMut(usize) -> futures::future::LocalBoxFuture<'a, Round>,
) -> Vec<Vec<Round>> {
    let mut measured: Vec<Vec<Round>> = (0..stacks).map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for turn in 0..stacks {
            let stack = (round + turn) % stacks;
            measured[stack].push(run(stack).await);
        }
    }
    measured
}

/// Prints each stack's median round, and its ratios to the first stack's (the baseline's):
/// the median of the ratios of rounds run side by side, in throughput and in CPU per request,
/// so that the machine's drift between rounds cancels out.
pub(crate) fn print_table(first_column: &str, stacks: &[(&str, Vec<Round>)]) {
    println!(
        "{first_column:<28} {:>10} {:>10} {:>10} {:>10}  ratio (paired rounds)",
        "req/s", "p50", "p99", "CPU/req"
    );
    let baseline = &stacks[0].1;
    for (index, (name, rounds)) in stacks.iter().enumerate() {
        let ratio = if index == 0 {
            "baseline".to_owned()
        } else {
            let throughput = paired(rounds, baseline, |r| r.requests_per_second);
            let cpu = paired(rounds, baseline, |r| r.cpu_per_request.as_secs_f64());
            format!("{throughput:.3}x (CPU {cpu:.3}x)")
        };
        let round = median(rounds.clone());
        println!(
            "{name:<28} {:>10.0} {:>8.0}µs {:>8.0}µs {:>8.1}µs  {ratio}",
            round.requests_per_second,
            round.p50.as_secs_f64() * 1e6,
            round.p99.as_secs_f64() * 1e6,
            round.cpu_per_request.as_secs_f64() * 1e6,
        );
    }
}

/// The median of `measure(round) / measure(baseline round)` over rounds run side by side.
fn paired(rounds: &[Round], baseline: &[Round], measure: impl Fn(&Round) -> f64) -> f64 {
    let mut ratios: Vec<f64> = rounds
        .iter()
        .zip(baseline)
        .map(|(round, base)| measure(round) / measure(base))
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

/// Runs a warm-up round of each target, then `rounds` rounds of each in turn (so drift on a
/// shared machine hits them alike), and prints `title` and each target's median round with its
/// ratio to the first target's. With `only`, runs one round of that target alone (to profile
/// it) and prints its throughput.
#[allow(dead_code)] // not every bench binary compares HTTP targets
pub(crate) async fn compare<T, F, Fut>(
    targets: &[(&str, T)],
    only: Option<usize>,
    title: &str,
    rounds: usize,
    requests: u64,
    mut one_round: F,
) where
    T: Clone,
    F: FnMut(T, u64) -> Fut,
    Fut: Future<Output = Round> + 'static,
{
    if let Some((name, target)) = only.and_then(|index| targets.get(index)) {
        let round = one_round(target.clone(), requests).await;
        println!("{name}: {:.0} req/s", round.requests_per_second);
        return;
    }
    println!("{title}");
    for (_, target) in targets {
        one_round(target.clone(), requests / 10).await;
    }
    let measured = rotate(targets.len(), rounds, |index| {
        Box::pin(one_round(targets[index].1.clone(), requests))
    })
    .await;
    let table: Vec<(&str, Vec<Round>)> = targets
        .iter()
        .map(|(name, _)| *name)
        .zip(measured)
        .collect();
    print_table("target", &table);
}
