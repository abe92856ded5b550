//! A real etcd cluster on loopback (three members, say), each with its own temporary data
//! directory, whose members a test can kill, restart, pause and resume, and whose leader it
//! can find.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::etcd::is_healthy;
use crate::process::Process;
use crate::{free_port, tool};

/// An etcd cluster this test owns. Every member is killed when dropped.
pub struct EtcdCluster {
    members: Vec<Member>,
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
        let binary = tool("MICRO_TEST_ETCD_BIN", "etcd")?;
        for _ in 0..3 {
            if let Some(cluster) = launch(&binary, size) {
                return Some(cluster);
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
        (0..self.members.len()).find(|&index| {
            crate::http_get(self.members[index].metrics, "/metrics").is_some_and(|metrics| {
                metrics
                    .lines()
                    .any(|line| line == "etcd_server_is_leader 1")
            })
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
}

/// Starts the members and waits for them; `None` if one exited first.
fn launch(binary: &Path, size: usize) -> Option<EtcdCluster> {
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
            let command = move || {
                let mut command = Command::new(&binary);
                command.args(&args);
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
    Some(EtcdCluster {
        members,
        _data: data,
    })
}
