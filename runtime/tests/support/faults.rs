//! Fault injection: a handler wrapper that delays or fails a share of calls, drawn from a
//! seeded generator so a run is repeatable, and a pantry node that counts what it was sent.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use micro::middleware::{Next, from_fn};
use micro::server::{HandlerRequest, HandlerResponse};
use micro::{Code, Service, Status};

/// Which calls a node delays or fails: each call draws once per fault, in arrival order.
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Inner>,
}

struct Inner {
    delay: Option<(u32, Duration)>,
    fail: Option<(u32, Code)>,
    rng: Mutex<fastrand::Rng>,
    /// Calls seen, delayed, failed, and dropped before they finished (cancelled by the client).
    calls: AtomicUsize,
    delayed: AtomicUsize,
    failed: AtomicUsize,
    cancelled: AtomicUsize,
}

impl Faults {
    /// No faults yet; draws from `seed`.
    pub fn seeded(seed: u64) -> FaultsBuilder {
        FaultsBuilder {
            seed,
            delay: None,
            fail: None,
        }
    }

    /// Wraps every handler of `service` with these faults.
    pub fn wrap(&self, service: Service) -> Service {
        let faults = self.inner.clone();
        service.wrap_handler(from_fn(
            move |request: HandlerRequest, next: Next<HandlerRequest, HandlerResponse, Status>| {
                let faults = faults.clone();
                async move { faults.run(request, next).await }
            },
        ))
    }

    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }

    pub fn delayed(&self) -> usize {
        self.inner.delayed.load(Ordering::SeqCst)
    }

    pub fn failed(&self) -> usize {
        self.inner.failed.load(Ordering::SeqCst)
    }

    pub fn cancelled(&self) -> usize {
        self.inner.cancelled.load(Ordering::SeqCst)
    }
}

/// Builds [`Faults`].
pub struct FaultsBuilder {
    seed: u64,
    delay: Option<(u32, Duration)>,
    fail: Option<(u32, Code)>,
}

impl FaultsBuilder {
    /// Delays `percent` of calls by `delay`.
    pub fn delay(mut self, percent: u32, delay: Duration) -> Self {
        self.delay = Some((percent, delay));
        self
    }

    /// Fails `percent` of calls with `code`.
    pub fn fail(mut self, percent: u32, code: Code) -> Self {
        self.fail = Some((percent, code));
        self
    }

    pub fn build(self) -> Faults {
        Faults {
            inner: Arc::new(Inner {
                delay: self.delay,
                fail: self.fail,
                rng: Mutex::new(fastrand::Rng::with_seed(self.seed)),
                calls: AtomicUsize::new(0),
                delayed: AtomicUsize::new(0),
                failed: AtomicUsize::new(0),
                cancelled: AtomicUsize::new(0),
            }),
        }
    }
}

/// Counts a call as cancelled if it is dropped before it finishes.
struct Unfinished<'a>(&'a AtomicUsize, bool);

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Inner {
    async fn run(
        &self,
        request: HandlerRequest,
        next: Next<HandlerRequest, HandlerResponse, Status>,
    ) -> Result<HandlerResponse, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let (delay, fail) = {
            let mut rng = self.rng.lock().unwrap();
            let delay = self.delay.filter(|(percent, _)| rng.u32(..100) < *percent);
            let fail = self.fail.filter(|(percent, _)| rng.u32(..100) < *percent);
            (delay.map(|(_, delay)| delay), fail.map(|(_, code)| code))
        };
        let mut unfinished = Unfinished(&self.cancelled, false);
        if let Some(delay) = delay {
            self.delayed.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
        }
        let result = match fail {
            Some(code) => {
                self.failed.fetch_add(1, Ordering::SeqCst);
                Err(Status::new(code, "injected fault"))
            }
            None => next.run(request).await,
        };
        unfinished.1 = true;
        result
    }
}

/// Starts `count` nodes of a service named `pantry` in `registry`, serving the pantry and the
/// test kitchen (for streams); node `n` is wrapped with `faults(n)`.
pub async fn pantry_fleet(
    registry: &Arc<dyn micro::registry::Registry>,
    count: usize,
    faults: impl Fn(usize) -> Faults,
) -> (Vec<micro::RunningService>, Vec<Faults>) {
    let mut nodes = Vec::new();
    let mut all = Vec::new();
    for n in 0..count {
        let faults = faults(n);
        let service = Service::new("pantry")
            .address("127.0.0.1:0")
            .registry(registry.clone())
            .handle(crate::support::kitchen::PantryServer::new(
                crate::support::TestPantry,
            ))
            .handle(crate::support::kitchen::KitchenServer::new(
                crate::support::TestKitchen::default(),
            ));
        nodes.push(faults.wrap(service).start().await.expect("node starts"));
        all.push(faults);
    }
    (nodes, all)
}

/// The `p`-th percentile (0–100) of `samples`, which it sorts.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}
