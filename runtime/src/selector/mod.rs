//! Choosing a node for each call: filters narrow the candidates, a strategy picks one.
//!
//! Unlike go-micro's selector, round robin keeps its position across calls (go-micro restarts it
//! for every call, #2799), and the least-loaded strategy compares real in-flight call counts
//! (tonic's p2c compares loads that are always zero). Nodes that keep refusing connections are
//! ejected for a while (outlier detection).

mod outliers;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) use outliers::{Ejection, Outliers};

use crate::registry::{Node, Service};

/// How a node is picked among the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Uniformly at random, as go-micro does (the default).
    #[default]
    Random,
    /// In turn, continuing across calls, per service.
    RoundRobin,
    /// The less busy of two random nodes (power of two choices), by calls in flight.
    LeastLoaded,
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Strategy, String> {
        match text {
            "random" => Ok(Strategy::Random),
            "roundrobin" | "round_robin" | "round-robin" => Ok(Strategy::RoundRobin),
            "p2c" | "leastloaded" | "least-loaded" => Ok(Strategy::LeastLoaded),
            other => Err(format!(
                "unknown selector `{other}`; use random, roundrobin or p2c"
            )),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Random => "random",
            Strategy::RoundRobin => "roundrobin",
            Strategy::LeastLoaded => "p2c",
        })
    }
}

/// Which nodes may be called: a version and metadata every node must carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filter {
    /// Only nodes of this version.
    pub version: Option<String>,
    /// Only nodes whose metadata has all of these entries.
    pub metadata: BTreeMap<String, String>,
}

impl Filter {
    /// Only nodes of `version`.
    pub fn version(mut self, version: impl Into<String>) -> Filter {
        self.version = Some(version.into());
        self
    }

    /// Only nodes with metadata `key=value`.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Filter {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Whether the filter lets every node through.
    pub(crate) fn is_empty(&self) -> bool {
        self.version.is_none() && self.metadata.is_empty()
    }

    /// The nodes of `services` this filter lets through.
    pub(crate) fn nodes<'a>(&self, services: &'a [Service]) -> Vec<&'a Node> {
        services
            .iter()
            .filter(|service| {
                self.version
                    .as_ref()
                    .is_none_or(|version| *version == service.version)
            })
            .flat_map(|service| service.nodes.iter())
            .filter(|node| {
                self.metadata
                    .iter()
                    .all(|(k, v)| node.metadata.get(k) == Some(v))
            })
            .collect()
    }
}

/// Calls in flight on a connection; a guard holds one until the call ends.
#[derive(Debug, Default)]
pub(crate) struct Load(AtomicUsize);

impl Load {
    pub(crate) fn start(self: &Arc<Self>) -> LoadGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        LoadGuard(self.clone())
    }

    pub(crate) fn current(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// One call in flight; dropping it ends the call.
#[derive(Debug)]
pub(crate) struct LoadGuard(Arc<Load>);

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the strategies remember: round-robin positions per service.
#[derive(Debug, Default)]
pub(crate) struct Picker {
    positions: Mutex<HashMap<String, Arc<AtomicUsize>>>,
}

impl Picker {
    /// Picks one of `candidates` (not empty) for a call to `service`; `load` says how many
    /// calls are in flight to a node address (for least-loaded).
    pub(crate) fn pick<'a>(
        &self,
        strategy: Strategy,
        service: &str,
        candidates: &[&'a Node],
        load: &dyn Fn(&str) -> usize,
    ) -> &'a Node {
        match candidates {
            [only] => only,
            _ => match strategy {
                Strategy::Random => candidates[fastrand::usize(..candidates.len())],
                Strategy::RoundRobin => {
                    let mut sorted = candidates.to_vec();
                    sorted.sort_by(|a, b| a.address.cmp(&b.address));
                    let position = self.position(service).fetch_add(1, Ordering::Relaxed);
                    sorted[position % sorted.len()]
                }
                Strategy::LeastLoaded => {
                    let first = fastrand::usize(..candidates.len());
                    let mut second = fastrand::usize(..candidates.len() - 1);
                    if second >= first {
                        second += 1;
                    }
                    let (a, b) = (candidates[first], candidates[second]);
                    if load(&b.address) < load(&a.address) {
                        b
                    } else {
                        a
                    }
                }
            },
        }
    }

    fn position(&self, service: &str) -> Arc<AtomicUsize> {
        let mut positions = self
            .positions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        positions.entry(service.to_owned()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(count: usize) -> Vec<Node> {
        (0..count)
            .map(|n| Node {
                id: format!("n{n}"),
                address: format!("10.0.0.{n}:1"),
                ..Node::default()
            })
            .collect()
    }

    #[test]
    fn round_robin_is_exactly_even_and_continues_across_calls() {
        let picker = Picker::default();
        let nodes = nodes(3);
        let candidates: Vec<&Node> = nodes.iter().collect();
        let mut counts = HashMap::new();
        for _ in 0..300 {
            *counts
                .entry(
                    picker
                        .pick(Strategy::RoundRobin, "svc", &candidates, &|_| 0)
                        .id
                        .clone(),
                )
                .or_insert(0) += 1;
        }
        assert!(counts.values().all(|&count| count == 100), "{counts:?}");
    }

    #[test]
    fn least_loaded_prefers_the_idle_node() {
        let picker = Picker::default();
        let nodes = nodes(2);
        let candidates: Vec<&Node> = nodes.iter().collect();
        // Five calls in flight to n0, none to n1.
        let load = |address: &str| if address == "10.0.0.0:1" { 5 } else { 0 };
        for _ in 0..50 {
            assert_eq!(
                picker
                    .pick(Strategy::LeastLoaded, "svc", &candidates, &load)
                    .id,
                "n1"
            );
        }
    }

    #[test]
    fn filters_by_version_and_metadata() {
        let mut node = nodes(1).remove(0);
        node.metadata.insert("zone".into(), "eu".into());
        let services = vec![
            Service {
                name: "s".into(),
                version: "1".into(),
                nodes: vec![node],
                ..Service::default()
            },
            Service {
                name: "s".into(),
                version: "2".into(),
                nodes: nodes(2),
                ..Service::default()
            },
        ];
        assert_eq!(Filter::default().nodes(&services).len(), 3);
        assert_eq!(Filter::default().version("2").nodes(&services).len(), 2);
        assert_eq!(
            Filter::default().metadata("zone", "eu").nodes(&services)[0].id,
            "n0"
        );
    }

    #[test]
    fn strategies_parse_from_flag_values() {
        assert_eq!("p2c".parse::<Strategy>(), Ok(Strategy::LeastLoaded));
        assert_eq!("roundrobin".parse::<Strategy>(), Ok(Strategy::RoundRobin));
        assert!(
            "fastest"
                .parse::<Strategy>()
                .unwrap_err()
                .contains("random, roundrobin or p2c")
        );
    }
}
