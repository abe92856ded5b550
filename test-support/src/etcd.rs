//! A real etcd on loopback, with a temporary data directory, that a test can kill and restart.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::{free_port, tool, wait_until};

/// An etcd server this test owns. Killed when dropped.
pub struct EtcdServer {
    binary: PathBuf,
    data: TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

impl EtcdServer {
    /// Starts etcd (`MICRO_TEST_ETCD_BIN`, or `etcd` on PATH); `None` when it is not installed
    /// and tools are not required.
    pub fn start() -> Option<EtcdServer> {
        let binary = tool("MICRO_TEST_ETCD_BIN", "etcd")?;
        let data = tempfile::tempdir().expect("a temporary directory");
        let mut server = EtcdServer {
            binary,
            data,
            client_port: free_port(),
            peer_port: free_port(),
            child: None,
        };
        server.launch();
        Some(server)
    }

    /// `127.0.0.1:PORT`, for `--registry-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// Kills etcd abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same port; with `wipe`, from an empty data directory (every
    /// registration and lease lost).
    pub fn restart(&mut self, wipe: bool) {
        self.kill();
        if wipe {
            self.data = tempfile::tempdir().expect("a temporary directory");
        }
        self.launch();
    }

    fn launch(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(&self.binary)
            .arg("--name=test")
            .arg(format!(
                "--data-dir={}",
                self.data.path().join("etcd").display()
            ))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd starts");
        self.child = Some(child);
        let address = self.address();
        wait_until(
            "etcd to accept connections",
            Duration::from_secs(20),
            || TcpStream::connect(&address).is_ok(),
        );
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill();
    }
}
