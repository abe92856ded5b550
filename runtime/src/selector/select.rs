//! Choosing one node for an attempt: the filter narrows the candidates, nodes this call has
//! tried and ejected outliers are avoided while others remain, and the strategy picks one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{Filter, Outliers, Strategy};
use crate::registry::{Node, Service};

/// A client's node choice: its filter, default strategy, outlier ejection and round-robin
/// positions.
#[derive(Debug)]
pub(crate) struct Selector {
    strategy: Strategy,
    filter: Filter,
    outliers: Arc<Outliers>,
    picker: Picker,
}

impl Selector {
    pub(crate) fn new(strategy: Strategy, filter: Filter, outliers: Outliers) -> Selector {
        Selector {
            strategy,
            filter,
            outliers: Arc::new(outliers),
            picker: Picker::default(),
        }
    }

    /// The strategy calls use unless they name their own.
    pub(crate) fn strategy(&self) -> Strategy {
        self.strategy
    }

    pub(crate) fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Where attempts' outcomes are reported, so nodes that keep failing are ejected.
    pub(crate) fn outliers(&self) -> &Arc<Outliers> {
        &self.outliers
    }

    /// One node of `services` (the nodes the registry lists for `service`) by `strategy`, or
    /// `None` if the filter leaves none. `tried` says whether this call already tried an
    /// address (`None` on its first attempt); `load` counts the calls in flight to one.
    pub(crate) fn select<'a>(
        &self,
        services: &'a [Service],
        service: &str,
        strategy: Strategy,
        tried: Option<&dyn Fn(&str) -> bool>,
        load: &dyn Fn(&str) -> usize,
    ) -> Option<&'a Node> {
        let first_try = tried.is_none() && !self.outliers.any_ejected();
        if first_try
            && strategy == Strategy::Random
            && self.filter.is_empty()
            && let Some(node) = random_node(services)
        {
            return Some(node);
        }
        let candidates = self.filter.nodes(services);
        if candidates.is_empty() {
            return None;
        }
        let choose =
            |candidates: &[&'a Node]| self.picker.pick(strategy, service, candidates, load);
        if first_try {
            return Some(choose(&candidates));
        }
        let tried = tried.unwrap_or(&untried_yet);
        // Not tried and not ejected if there is one, else not tried, else any.
        let preferred: Vec<&Node> = candidates
            .iter()
            .copied()
            .filter(|node| !tried(&node.address) && !self.outliers.is_ejected(&node.address))
            .collect();
        if !preferred.is_empty() {
            return Some(choose(&preferred));
        }
        let untried: Vec<&Node> = candidates
            .iter()
            .copied()
            .filter(|node| !tried(&node.address))
            .collect();
        match untried.is_empty() {
            false => Some(choose(&untried)),
            true => Some(choose(&candidates)),
        }
    }
}

/// What a call that tried no node says of every address.
fn untried_yet(_: &str) -> bool {
    false
}

/// Any node of `services`, uniformly at random (what the random strategy picks when nothing is
/// filtered out), without collecting them first.
fn random_node(services: &[Service]) -> Option<&Node> {
    let count: usize = services.iter().map(|service| service.nodes.len()).sum();
    if count == 0 {
        return None;
    }
    let mut index = fastrand::usize(..count);
    for service in services {
        match service.nodes.get(index) {
            Some(node) => return Some(node),
            None => index -= service.nodes.len(),
        }
    }
    None
}

/// What the strategies remember: round-robin positions per service.
#[derive(Debug, Default)]
struct Picker {
    positions: Mutex<HashMap<String, Arc<AtomicUsize>>>,
}

impl Picker {
    /// Picks one of `candidates` (not empty) for a call to `service`; `load` says how many
    /// calls are in flight to a node address (for least-loaded).
    fn pick<'a>(
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
    use crate::selector::tests::nodes;

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
    fn a_retry_avoids_the_nodes_its_call_tried() {
        let selector = Selector::new(
            Strategy::Random,
            Filter::default(),
            Outliers::new(Default::default()),
        );
        let services = vec![Service {
            name: "s".into(),
            nodes: nodes(3),
            ..Service::default()
        }];
        let tried = |address: &str| address != "10.0.0.2:1";
        for _ in 0..50 {
            let node = selector.select(&services, "s", Strategy::Random, Some(&tried), &|_| 0);
            assert_eq!(node.unwrap().id, "n2");
        }
        let all_tried = |_: &str| true;
        let node = selector.select(&services, "s", Strategy::Random, Some(&all_tried), &|_| 0);
        assert!(node.is_some(), "with every node tried, any will do");
        let filtered = Selector::new(
            Strategy::Random,
            Filter::default().version("9"),
            Outliers::new(Default::default()),
        );
        assert!(
            filtered
                .select(&services, "s", Strategy::Random, None, &|_| 0)
                .is_none()
        );
    }
}
