//! A real NATS cluster with JetStream on loopback (three servers, say), each storing in its own
//! temporary directory, whose servers a test can kill and restart.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::process::Process;
use crate::{free_port, http_get, tool};

/// A NATS cluster this test owns. Every server is killed when dropped.
pub struct NatsCluster {
    servers: Vec<Server>,
    _store: TempDir,
}

struct Server {
    client: u16,
    process: Process,
}

impl NatsCluster {
    /// Starts `size` clustered JetStream servers (`MICRO_TEST_NATS_BIN`, or `nats-server` on
    /// PATH) and waits until JetStream is ready on each; `None` when nats-server is not
    /// installed and tools are not required.
    pub fn start(size: usize) -> Option<NatsCluster> {
        let binary = tool("MICRO_TEST_NATS_BIN", "nats-server")?;
        for _ in 0..3 {
            if let Some(cluster) = launch(&binary, size) {
                return Some(cluster);
            }
        }
        panic!("a nats-server exited before the cluster was ready, three times (port races?)")
    }

    /// Every server's `127.0.0.1:PORT`, for `--events-address` (comma-joined).
    pub fn addresses(&self) -> Vec<String> {
        self.servers
            .iter()
            .map(|server| format!("127.0.0.1:{}", server.client))
            .collect()
    }

    /// Kills server `index` abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self, index: usize) {
        self.servers[index].process.kill();
    }

    /// Starts server `index` again with its store, and waits until JetStream is ready on it.
    pub fn restart(&mut self, index: usize) {
        self.servers[index].process.restart();
    }
}

fn launch(binary: &Path, size: usize) -> Option<NatsCluster> {
    let store = tempfile::tempdir().expect("a temporary directory");
    let ports: Vec<(u16, u16, u16)> = (0..size)
        .map(|_| (free_port(), free_port(), free_port()))
        .collect();
    let routes = ports
        .iter()
        .map(|(_, cluster, _)| format!("nats://127.0.0.1:{cluster}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut servers: Vec<Server> = ports
        .iter()
        .enumerate()
        .map(|(index, &(client, cluster, monitor))| {
            let args = vec![
                "-a".to_owned(),
                "127.0.0.1".to_owned(),
                "-p".to_owned(),
                client.to_string(),
                "-m".to_owned(),
                monitor.to_string(),
                "-js".to_owned(),
                "-sd".to_owned(),
                store.path().join(format!("n{index}")).display().to_string(),
                format!("--server_name=n{index}"),
                "--cluster_name=micro-test".to_owned(),
                format!("--cluster=nats://127.0.0.1:{cluster}"),
                format!("--routes={routes}"),
            ];
            let binary = binary.to_owned();
            let command = move || {
                let mut command = Command::new(&binary);
                command.args(&args);
                command
            };
            // `/healthz` answers 200 once JetStream is up with a meta leader.
            let ready = move || http_get(monitor, "/healthz").is_some();
            let process = Process::start_unready("nats-server", command, ready);
            Server { client, process }
        })
        .collect();
    if !servers.iter_mut().all(|server| server.process.wait_ready()) {
        return None;
    }
    Some(NatsCluster {
        servers,
        _store: store,
    })
}
