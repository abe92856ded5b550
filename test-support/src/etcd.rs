//! A real etcd on loopback, with a temporary data directory, that a test can kill and restart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Process;
use crate::{free_port, on_free_ports, tool};

/// An etcd server this test owns. Killed when dropped.
pub struct EtcdServer {
    binary: PathBuf,
    client_port: u16,
    peer_port: u16,
    process: Process,
    _data: TempDir,
}

impl EtcdServer {
    /// Starts etcd (`MICRO_TEST_ETCD_BIN`, or `etcd` on PATH); `None` when it is not installed
    /// and tools are not required.
    pub fn start() -> Option<EtcdServer> {
        let binary = tool("MICRO_TEST_ETCD_BIN", "etcd")?;
        let (client_port, peer_port, (data, process)) = on_free_ports("etcd", || {
            let (client_port, peer_port) = (free_port(), free_port());
            launch(&binary, client_port, peer_port).map(|up| (client_port, peer_port, up))
        });
        Some(EtcdServer {
            binary,
            client_port,
            peer_port,
            process,
            _data: data,
        })
    }

    /// `127.0.0.1:PORT`, for `--registry-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// Kills etcd abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts etcd again on the same port; with `wipe`, from an empty data directory (every
    /// registration and lease lost).
    pub fn restart(&mut self, wipe: bool) {
        if !wipe {
            return self.process.restart();
        }
        self.process.kill();
        let (data, process) = launch(&self.binary, self.client_port, self.peer_port)
            .expect("etcd restarts on its ports");
        (self._data, self.process) = (data, process);
    }
}

/// Starts etcd on the ports with a new data directory; `None` if it exited first.
fn launch(binary: &Path, client_port: u16, peer_port: u16) -> Option<(TempDir, Process)> {
    let data = tempfile::tempdir().expect("a temporary directory");
    let data_dir = data.path().join("etcd");
    let binary = binary.to_owned();
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    let command = move || {
        let mut command = Command::new(&binary);
        command
            .arg("--name=test")
            .arg(format!("--data-dir={}", data_dir.display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"));
        command
    };
    let address = format!("127.0.0.1:{client_port}");
    let ready = move || is_healthy(&address);
    Process::try_start("etcd", command, ready).map(|process| (data, process))
}

/// Whether etcd at `address` reports itself healthy (`GET /health`), which it does only once
/// it serves with a leader. An open client port is not enough: etcd opens it before its peer
/// port, and exits if that one is taken.
fn is_healthy(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET /health HTTP/1.0\r\nHost: {address}\r\n\r\n");
    let mut response = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response.starts_with("HTTP/1.0 200")
        && response.contains("\"health\":\"true\"")
}
