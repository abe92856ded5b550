//! The load generator both benchmarks share: concurrent callers, latency histogram, medians.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// One round's outcome.
pub(crate) struct Round {
    pub(crate) requests_per_second: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
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
    let histogram = histogram.lock().expect("histogram lock");
    Round {
        requests_per_second: (per_task * concurrency) as f64 / elapsed.as_secs_f64(),
        p50: Duration::from_nanos(histogram.value_at_quantile(0.50)),
        p99: Duration::from_nanos(histogram.value_at_quantile(0.99)),
    }
}

/// The round with the median throughput.
pub(crate) fn median(mut rounds: Vec<Round>) -> Round {
    rounds.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
    rounds.swap_remove(rounds.len() / 2)
}

/// Prints one stack's median round, and its ratio to the baseline's.
pub(crate) fn print_row(name: &str, round: &Round, baseline: Option<&Round>) {
    let ratio = baseline
        .map(|base| {
            format!(
                "{:.3}x",
                round.requests_per_second / base.requests_per_second
            )
        })
        .unwrap_or_else(|| "baseline".into());
    println!(
        "{name:<28} {:>10.0} {:>8.0}µs {:>8.0}µs  {ratio}",
        round.requests_per_second,
        round.p50.as_secs_f64() * 1e6,
        round.p99.as_secs_f64() * 1e6
    );
}

/// Runs a warm-up round of each target, then `rounds` rounds of each in turn (so drift on a
/// shared machine hits them alike), and prints each target's median round with its ratio to
/// the first target's.
#[allow(dead_code)] // not every bench binary compares HTTP targets
pub(crate) async fn compare<T, F, Fut>(
    targets: &[(&str, T)],
    rounds: usize,
    requests: u64,
    mut one_round: F,
) where
    T: Clone,
    F: FnMut(T, u64) -> Fut,
    Fut: Future<Output = Round>,
{
    let mut measured: Vec<Vec<Round>> = targets.iter().map(|_| Vec::new()).collect();
    for (_, target) in targets {
        one_round(target.clone(), requests / 10).await;
    }
    for _ in 0..rounds {
        for (index, (_, target)) in targets.iter().enumerate() {
            measured[index].push(one_round(target.clone(), requests).await);
        }
    }
    println!(
        "{:<28} {:>10} {:>10} {:>10}  ratio",
        "target", "req/s", "p50", "p99"
    );
    let medians: Vec<Round> = measured.into_iter().map(median).collect();
    for ((name, _), round) in targets.iter().zip(&medians) {
        let baseline = (!std::ptr::eq(round, &medians[0])).then_some(&medians[0]);
        print_row(name, round, baseline);
    }
}
