//! Outlier ejection, as gRPC's outlier detection (gRFC A50): every interval, nodes whose
//! success rate is far below the others' or whose failure share is above a threshold are left
//! out for a time that grows each time they are ejected again. A node whose connections keep
//! failing is ejected at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use super::detection::{FailurePercentageEjection, OutlierDetection, SuccessRateEjection};

/// One node's calls this interval and its ejection state.
#[derive(Debug, Default)]
pub(crate) struct NodeHealth {
    succeeded: AtomicU64,
    failed: AtomicU64,
    /// Connection failures in a row: outside `state`, so a connection that got through (every
    /// call) costs no lock.
    consecutive_failures: AtomicU32,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    ejected_until: Option<Instant>,
    /// Times ejected, less one per interval spent not ejected (gRPC's multiplier).
    multiplier: u32,
    /// Intervals in a row without calls: a node that left is forgotten after a few.
    idle: u32,
}

impl NodeHealth {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Intervals without calls after which a node's record is dropped.
const FORGET_AFTER: u32 = 6;

/// The health of every node called, by address.
#[derive(Debug)]
pub(crate) struct Outliers {
    rules: OutlierDetection,
    failure_codes: super::Codes,
    nodes: RwLock<HashMap<String, Arc<NodeHealth>>>,
    /// Whether any node may be ejected: lets the common case skip the per-node checks.
    any_ejected: AtomicBool,
    /// When the clock started, and when the next evaluation is due (ms since then).
    started: Instant,
    next_evaluation: AtomicU64,
}

impl Outliers {
    pub(crate) fn new(rules: OutlierDetection) -> Outliers {
        Outliers {
            failure_codes: super::Codes::of(rules.failure_codes.iter().copied()),
            next_evaluation: AtomicU64::new(millis(rules.interval)),
            rules,
            nodes: RwLock::new(HashMap::new()),
            any_ejected: AtomicBool::new(false),
            started: Instant::now(),
        }
    }

    /// The record of the node at `address`, to report its calls' outcomes to.
    pub(crate) fn node(&self, address: &str) -> Arc<NodeHealth> {
        let known = self
            .nodes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(address)
            .cloned();
        known.unwrap_or_else(|| {
            let mut nodes = self
                .nodes
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            nodes.entry(address.to_owned()).or_default().clone()
        })
    }

    /// Whether the node at `address` is ejected now.
    pub(crate) fn is_ejected(&self, address: &str) -> bool {
        if !self.any_ejected.load(Ordering::Relaxed) {
            return false;
        }
        let nodes = self
            .nodes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        nodes
            .get(address)
            .is_some_and(|node| node.state().ejected_until.is_some_and(|until| until > now))
    }

    /// Whether any node might be ejected: lets callers skip the per-node checks.
    pub(crate) fn any_ejected(&self) -> bool {
        self.any_ejected.load(Ordering::Relaxed)
    }

    /// Whether a node's answer with gRPC status `code` counts as a failure.
    pub(crate) fn is_failure(&self, code: &[u8]) -> bool {
        self.failure_codes.contains_header(code)
    }

    /// A call to `node` ended: it succeeded, or failed (by status or connection).
    pub(crate) fn record(&self, node: &NodeHealth, succeeded: bool) {
        match succeeded {
            true => node.succeeded.fetch_add(1, Ordering::Relaxed),
            false => node.failed.fetch_add(1, Ordering::Relaxed),
        };
        self.evaluate_if_due();
    }

    /// The connection to `node` (at `address`) failed, or got through.
    pub(crate) fn connection(&self, address: &str, node: &NodeHealth, ok: bool) {
        let failures = &node.consecutive_failures;
        if ok {
            if failures.load(Ordering::Relaxed) > 0 {
                failures.store(0, Ordering::Relaxed);
            }
            return;
        }
        self.record(node, false);
        let mut state = node.state();
        let rule = self.rules.consecutive_failures;
        if rule > 0 && failures.fetch_add(1, Ordering::Relaxed) + 1 >= rule {
            failures.store(0, Ordering::Relaxed);
            let time = self.eject(&mut state, Instant::now());
            tracing::info!(node = address, ejected_for = ?time, "ejecting a node whose connections keep failing");
        }
    }

    fn eject(&self, state: &mut State, now: Instant) -> Duration {
        state.multiplier += 1;
        let time = self.rules.ejection_time(state.multiplier);
        state.ejected_until = Some(now + time);
        self.any_ejected.store(true, Ordering::Relaxed);
        time
    }

    /// Runs the evaluation if its interval has passed (one caller does).
    fn evaluate_if_due(&self) {
        let now = millis(self.started.elapsed());
        let due = self.next_evaluation.load(Ordering::Relaxed);
        if now < due {
            return;
        }
        let next = now + millis(self.rules.interval);
        if self
            .next_evaluation
            .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.evaluate();
        }
    }

    /// gRPC's interval evaluation: unejects nodes whose time is up, judges the others on the
    /// last interval's calls, and forgets nodes no longer called.
    fn evaluate(&self) {
        let now = Instant::now();
        let mut nodes = self
            .nodes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut counts = Vec::with_capacity(nodes.len());
        let mut ejected = 0;
        nodes.retain(|address, node| {
            let (succeeded, failed) = (
                node.succeeded.swap(0, Ordering::Relaxed),
                node.failed.swap(0, Ordering::Relaxed),
            );
            let mut state = node.state();
            match state.ejected_until {
                Some(until) if until <= now => state.ejected_until = None,
                Some(_) => {}
                None => state.multiplier = state.multiplier.saturating_sub(1),
            }
            state.idle = if succeeded + failed == 0 {
                state.idle + 1
            } else {
                0
            };
            let keep = state.idle < FORGET_AFTER || state.ejected_until.is_some();
            if state.ejected_until.is_some() {
                ejected += 1;
            } else if keep {
                counts.push((address.clone(), node.clone(), succeeded, failed));
            }
            keep || state.multiplier > 0
        });
        let hosts = nodes.len();
        drop(nodes);
        let mut judge = Judge {
            outliers: self,
            hosts,
            ejected,
            now,
        };
        if let Some(rule) = &self.rules.success_rate {
            judge.success_rate(rule, &counts);
        }
        if let Some(rule) = &self.rules.failure_percentage {
            judge.failure_percentage(rule, &counts);
        }
        if judge.ejected == 0 {
            self.any_ejected.store(false, Ordering::Relaxed);
        }
    }
}

/// One evaluation's ejections, within the maximum share.
struct Judge<'a> {
    outliers: &'a Outliers,
    hosts: usize,
    ejected: usize,
    now: Instant,
}

/// A node's address, record, successes and failures in the last interval.
type Counts = (String, Arc<NodeHealth>, u64, u64);

impl Judge<'_> {
    fn success_rate(&mut self, rule: &SuccessRateEjection, counts: &[Counts]) {
        let judged: Vec<(&Counts, f64)> = counts
            .iter()
            .filter(|(_, _, s, f)| s + f >= rule.request_volume.max(1))
            .map(|c| (c, c.2 as f64 / (c.2 + c.3) as f64))
            .collect();
        if judged.len() < rule.minimum_hosts.max(1) {
            return;
        }
        let n = judged.len() as f64;
        let mean = judged.iter().map(|(_, rate)| rate).sum::<f64>() / n;
        let variance = judged
            .iter()
            .map(|(_, rate)| (rate - mean).powi(2))
            .sum::<f64>()
            / n;
        let threshold = mean - rule.stdev_factor * variance.sqrt();
        for (counts, rate) in judged {
            if rate < threshold {
                self.eject(
                    counts,
                    rule.enforcement_percentage,
                    "its success rate is low",
                );
            }
        }
    }

    fn failure_percentage(&mut self, rule: &FailurePercentageEjection, counts: &[Counts]) {
        let judged: Vec<&Counts> = counts
            .iter()
            .filter(|(_, _, s, f)| s + f >= rule.request_volume.max(1))
            .collect();
        if judged.len() < rule.minimum_hosts.max(1) {
            return;
        }
        for counts in judged {
            let (_, _, succeeded, failed) = counts;
            if failed * 100 > u64::from(rule.threshold) * (succeeded + failed) {
                self.eject(
                    counts,
                    rule.enforcement_percentage,
                    "too many of its calls fail",
                );
            }
        }
    }

    fn eject(&mut self, (address, node, ..): &Counts, enforcement: u32, why: &str) {
        let max = self.outliers.rules.max_ejection_percent as usize;
        if self.ejected > 0 && self.ejected * 100 >= max * self.hosts.max(1) {
            return;
        }
        if fastrand::u32(..100) >= enforcement {
            return;
        }
        let mut state = node.state();
        if state.ejected_until.is_some() {
            return;
        }
        let time = self.outliers.eject(&mut state, self.now);
        self.ejected += 1;
        tracing::info!(node = address.as_str(), ejected_for = ?time, "ejecting a node: {why}");
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records `succeeded` and `failed` calls for `address`.
    fn calls(outliers: &Outliers, address: &str, succeeded: u32, failed: u32) {
        let node = outliers.node(address);
        for _ in 0..succeeded {
            node.succeeded.fetch_add(1, Ordering::Relaxed);
        }
        for _ in 0..failed {
            node.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn by_failure_percentage(hosts: usize) -> OutlierDetection {
        OutlierDetection::default()
            .interval(Duration::from_secs(1))
            .base_ejection_time(Duration::from_secs(10))
            .success_rate(None)
            .failure_percentage(Some(
                FailurePercentageEjection::default()
                    .minimum_hosts(hosts)
                    .request_volume(10),
            ))
    }

    #[tokio::test(start_paused = true)]
    async fn consecutive_connection_failures_eject_for_a_growing_time() {
        let outliers = Outliers::new(
            OutlierDetection::default()
                .consecutive_failures(2)
                .base_ejection_time(Duration::from_secs(30)),
        );
        let node = outliers.node("a");
        outliers.connection("a", &node, false);
        outliers.connection("a", &node, true);
        outliers.connection("a", &node, false);
        assert!(
            !outliers.is_ejected("a"),
            "a success in between resets the count"
        );
        outliers.connection("a", &node, false);
        assert!(outliers.is_ejected("a"));
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(!outliers.is_ejected("a"));
        outliers.connection("a", &node, false);
        outliers.connection("a", &node, false);
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(outliers.is_ejected("a"), "ejected again: for twice as long");
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(!outliers.is_ejected("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn failure_percentage_ejects_the_failing_node_at_the_interval() {
        let outliers = Outliers::new(by_failure_percentage(3));
        calls(&outliers, "a", 20, 0);
        calls(&outliers, "b", 20, 0);
        calls(&outliers, "c", 1, 19);
        assert!(!outliers.is_ejected("c"), "not before the interval ends");
        tokio::time::advance(Duration::from_secs(1)).await;
        outliers.record(&outliers.node("a"), true);
        assert!(outliers.is_ejected("c"));
        assert!(!outliers.is_ejected("a") && !outliers.is_ejected("b"));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(!outliers.is_ejected("c"), "the base ejection time is over");
    }

    #[tokio::test(start_paused = true)]
    async fn too_few_hosts_or_calls_eject_nobody() {
        let outliers = Outliers::new(by_failure_percentage(4));
        calls(&outliers, "a", 20, 0);
        calls(&outliers, "b", 20, 0);
        calls(&outliers, "c", 0, 20);
        calls(&outliers, "d", 0, 5);
        tokio::time::advance(Duration::from_secs(1)).await;
        outliers.record(&outliers.node("a"), true);
        assert!(
            !outliers.is_ejected("c"),
            "three hosts have enough calls, four needed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn success_rate_ejects_a_node_far_below_the_mean() {
        let outliers = Outliers::new(
            OutlierDetection::default()
                .interval(Duration::from_secs(1))
                .success_rate(Some(SuccessRateEjection::default().request_volume(10))),
        );
        for address in ["a", "b", "c", "d"] {
            calls(&outliers, address, 100, 0);
        }
        calls(&outliers, "e", 50, 50);
        tokio::time::advance(Duration::from_secs(1)).await;
        outliers.record(&outliers.node("a"), true);
        // Rates 1, 1, 1, 1, 0.5: mean 0.9, stdev 0.2, threshold 0.9 − 1.9 × 0.2 = 0.52.
        assert!(outliers.is_ejected("e"));
        assert!(!outliers.is_ejected("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_the_maximum_share_is_ejected_but_always_one() {
        let outliers = Outliers::new(by_failure_percentage(5).max_ejection_percent(10));
        let addresses: Vec<String> = (0..10).map(|n| n.to_string()).collect();
        for (n, address) in addresses.iter().enumerate() {
            match n < 3 {
                true => calls(&outliers, address, 0, 20),
                false => calls(&outliers, address, 20, 0),
            }
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        outliers.record(&outliers.node("9"), true);
        let ejected = addresses.iter().filter(|a| outliers.is_ejected(a)).count();
        assert_eq!(ejected, 1, "10 % of 10 nodes");
    }
}
