//! Choosing a node for each call: filters narrow the candidates, a strategy picks one.
//!
//! Unlike go-micro's selector, round robin keeps its position across calls (go-micro restarts it
//! for every call, #2799), and the least-loaded strategy compares real in-flight call counts
//! (tonic's p2c compares loads that are always zero). Nodes that fail far more than the others,
//! or keep refusing connections, are ejected for a while (outlier detection, as gRPC's).

mod codes;
mod detection;
mod outliers;
mod select;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) use codes::Codes;
pub use detection::{FailurePercentageEjection, OutlierDetection, SuccessRateEjection};
pub(crate) use outliers::{NodeHealth, Outliers};
pub(crate) use select::Selector;

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

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn nodes(count: usize) -> Vec<Node> {
        (0..count)
            .map(|n| Node {
                id: format!("n{n}"),
                address: format!("10.0.0.{n}:1"),
                ..Node::default()
            })
            .collect()
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
