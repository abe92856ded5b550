//! A real etcd cluster on loopback (three members, say), each with its own temporary data
//! directory, whose members a test can kill, restart, pause, resume and cut off by a network
//! partition, and whose leader it can find.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::etcd::is_healthy;
use crate::partition::{self, Firewall};
use crate::process::Process;
use crate::{free_port, tool};

/// An etcd cluster this test owns. Every member is killed when dropped.
pub struct EtcdCluster {
    members: Vec<Member>,
    /// Set when members can be partitioned ([`start_partitionable`](Self::start_partitionable)).
    firewall: Option<Firewall>,
    _data: TempDir,
}

struct Member {
    client: u16,
    metrics: u16,
    process: Process,
}

impl EtcdCluster {
    /// Starts `size` members (`MICRO_TEST_ETCD_BIN`, or `etcd` on PATH) and waits until each
    /// serves with a leader; `None` when etcd is not installed and tools are not required.
    pub fn start(size: usize) -> Option<EtcdCluster> {
        EtcdCluster::start_with(size, None)
    }

    /// As [`start`](Self::start), but each member runs under a group id of its own, which the
    /// packet filter tells apart, so that [`partition`](Self::partition) can cut it off. Only
    /// in a test run by [`run_in_privileged_network_namespace`]; `None` when etcd or iptables
    /// is not installed and tools are not required.
    ///
    /// [`run_in_privileged_network_namespace`]: crate::run_in_privileged_network_namespace
    pub fn start_partitionable(size: usize) -> Option<EtcdCluster> {
        EtcdCluster::start_with(size, Some(Firewall::new()?))
    }

    fn start_with(size: usize, firewall: Option<Firewall>) -> Option<EtcdCluster> {
        let binary = tool("MICRO_TEST_ETCD_BIN", "etcd")?;
        for _ in 0..3 {
            if let Some((members, data)) = launch(&binary, size, firewall.as_ref()) {
                return Some(EtcdCluster {
                    members,
                    firewall,
                    _data: data,
                });
            }
        }
        panic!("an etcd member exited before the cluster was ready, three times (port races?)")
    }

    /// Every member's `127.0.0.1:PORT`, for `--registry-address` (comma-joined).
    pub fn addresses(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|member| format!("127.0.0.1:{}", member.client))
            .collect()
    }

    /// The index of the member that is leader now, if one is (asked of each live member).
    pub fn leader(&self) -> Option<usize> {
        (0..self.members.len()).find(|&index| self.is_leader(index))
    }

    /// Whether member `index` believes it is leader (a partitioned leader does, until it
    /// notices that it lost its quorum and steps down).
    pub fn is_leader(&self, index: usize) -> bool {
        self.metric(index, "etcd_server_is_leader") == Some(1.0)
    }

    /// The value of member `index`'s metric `name` (one without labels, such as
    /// `etcd_debugging_mvcc_watcher_total`: the watches it serves), if it answers.
    pub fn metric(&self, index: usize, name: &str) -> Option<f64> {
        let metrics = crate::http_get(self.members[index].metrics, "/metrics")?;
        metrics.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix(' ')?;
            value.parse().ok()
        })
    }

    /// Whether member `index` serves with a leader (its `/health`).
    pub fn is_healthy(&self, index: usize) -> bool {
        is_healthy(self.members[index].metrics)
    }

    /// Kills member `index` abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self, index: usize) {
        self.members[index].process.kill();
    }

    /// Starts member `index` again, with its data, and waits until it has rejoined.
    pub fn restart(&mut self, index: usize) {
        self.members[index].process.restart();
    }

    /// Freezes member `index` (SIGSTOP): it keeps its ports and connections but answers
    /// nothing, as a member cut off by a partition or stalled by its disk does.
    pub fn pause(&self, index: usize) {
        self.members[index].process.signal("STOP");
    }

    /// Thaws a member frozen by [`pause`](Self::pause).
    pub fn resume(&self, index: usize) {
        self.members[index].process.signal("CONT");
    }

    /// Cuts member `index` off the network: every packet to or from its peer and client ports,
    /// and of the connections it dialed, is dropped (it hangs; nothing is refused). Its
    /// metrics port stays reachable, so a test can still ask it whether it is leader or
    /// healthy. Needs [`start_partitionable`](Self::start_partitionable).
    pub fn partition(&self, index: usize) {
        self.firewall().cut_off(partition::group(index));
    }

    /// Ends the partition of member `index`: its packets flow again.
    pub fn heal(&self, index: usize) {
        self.firewall().heal(partition::group(index));
    }

    fn firewall(&self) -> &Firewall {
        self.firewall
            .as_ref()
            .expect("a cluster started with EtcdCluster::start_partitionable")
    }
}

/// Starts the members (each in a group of its own, tracked by `firewall`, if given) and waits
/// for them; `None` if one exited first.
fn launch(
    binary: &Path,
    size: usize,
    firewall: Option<&Firewall>,
) -> Option<(Vec<Member>, TempDir)> {
    let data = tempfile::tempdir().expect("a temporary directory");
    let ports: Vec<(u16, u16, u16)> = (0..size)
        .map(|_| (free_port(), free_port(), free_port()))
        .collect();
    let initial_cluster = ports
        .iter()
        .enumerate()
        .map(|(index, (_, peer, _))| format!("m{index}=http://127.0.0.1:{peer}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut members: Vec<Member> = ports
        .iter()
        .enumerate()
        .map(|(index, &(client, peer, metrics))| {
            let args = vec![
                format!("--name=m{index}"),
                format!(
                    "--data-dir={}",
                    data.path().join(format!("m{index}")).display()
                ),
                format!("--listen-client-urls=http://127.0.0.1:{client}"),
                format!("--advertise-client-urls=http://127.0.0.1:{client}"),
                format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
                format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
                format!("--initial-cluster={initial_cluster}"),
                "--initial-cluster-token=micro-test".to_owned(),
                format!("--listen-metrics-urls=http://127.0.0.1:{metrics}"),
            ];
            let binary = binary.to_owned();
            let group = firewall.map(|firewall| {
                let group = partition::group(index);
                firewall.track(group, metrics);
                group
            });
            let command = move || {
                let mut command = Command::new(&binary);
                command.args(&args);
                if let Some(group) = group {
                    command.gid(group);
                }
                command
            };
            let process =
                Process::start_unready("etcd member", command, move || is_healthy(metrics));
            Member {
                client,
                metrics,
                process,
            }
        })
        .collect();
    if !members.iter_mut().all(|member| member.process.wait_ready()) {
        return None;
    }
    Some((members, data))
}
