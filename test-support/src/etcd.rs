//! A real etcd on loopback, with a temporary data directory, that a test can kill and restart;
//! optionally serving TLS only and requiring client certificates.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::process::Process;
use crate::{Issued, Pki, free_port, on_free_ports, tool};

/// An etcd server this test owns. Killed when dropped.
pub struct EtcdServer {
    binary: PathBuf,
    ports: Ports,
    tls: Option<Tls>,
    process: Process,
    _data: TempDir,
}

/// The ports etcd listens on: clients, peers, and plain-HTTP health (`/health`).
#[derive(Clone, Copy)]
struct Ports {
    client: u16,
    peer: u16,
    health: u16,
}

/// A TLS etcd's CA and its own certificate, in a directory that outlives restarts.
struct Tls {
    pki: Pki,
    server: Issued,
    _dir: TempDir,
}

impl EtcdServer {
    /// Starts etcd (`MICRO_TEST_ETCD_BIN`, or `etcd` on PATH); `None` when it is not installed
    /// and tools are not required.
    pub fn start() -> Option<EtcdServer> {
        EtcdServer::start_with(None)
    }

    /// As [`start`](Self::start), but clients must speak TLS (`https://`) and present a
    /// certificate signed by [`ca`](Self::ca) (`--client-cert-auth`); etcd's own certificate,
    /// from the same CA, is valid for `localhost` and `127.0.0.1`.
    pub fn start_tls() -> Option<EtcdServer> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pki = Pki::new(dir.path(), "etcd test CA");
        let server = pki.issue("etcd", &["DNS:localhost", "IP:127.0.0.1"], 2);
        EtcdServer::start_with(Some(Tls {
            pki,
            server,
            _dir: dir,
        }))
    }

    fn start_with(tls: Option<Tls>) -> Option<EtcdServer> {
        let binary = tool("MICRO_TEST_ETCD_BIN", "etcd")?;
        let (ports, (data, process)) = on_free_ports("etcd", || {
            let ports = Ports {
                client: free_port(),
                peer: free_port(),
                health: free_port(),
            };
            launch(&binary, ports, tls.as_ref()).map(|up| (ports, up))
        });
        Some(EtcdServer {
            binary,
            ports,
            tls,
            process,
            _data: data,
        })
    }

    /// The CA (PEM) that signed a TLS etcd's certificate and the client certificates it trusts.
    pub fn ca(&self) -> PathBuf {
        self.pki().ca_cert()
    }

    /// A client certificate for `name`, signed by [`ca`](Self::ca), which a TLS etcd accepts.
    pub fn issue_client(&self, name: &str) -> Issued {
        self.pki()
            .issue(name, &["DNS:localhost", "IP:127.0.0.1"], 2)
    }

    fn pki(&self) -> &Pki {
        &self
            .tls
            .as_ref()
            .expect("a server started with start_tls")
            .pki
    }

    /// `127.0.0.1:PORT`, for `--registry-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.ports.client)
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
        let (data, process) = launch(&self.binary, self.ports, self.tls.as_ref())
            .expect("etcd restarts on its ports");
        (self._data, self.process) = (data, process);
    }
}

/// Starts etcd on the ports with a new data directory, serving TLS with client certificates
/// if `tls` is given; `None` if it exited first.
fn launch(binary: &Path, ports: Ports, tls: Option<&Tls>) -> Option<(TempDir, Process)> {
    let data = tempfile::tempdir().expect("a temporary directory");
    let data_dir = data.path().join("etcd");
    let binary = binary.to_owned();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let client = format!("{scheme}://127.0.0.1:{}", ports.client);
    let peer = format!("http://127.0.0.1:{}", ports.peer);
    let health = format!("http://127.0.0.1:{}", ports.health);
    let tls_args: Vec<String> = tls.map_or_else(Vec::new, |tls| {
        vec![
            format!("--cert-file={}", tls.server.cert.display()),
            format!("--key-file={}", tls.server.key.display()),
            format!("--trusted-ca-file={}", tls.pki.ca_cert().display()),
            "--client-cert-auth".to_owned(),
        ]
    });
    let command = move || {
        let mut command = Command::new(&binary);
        command
            .arg("--name=test")
            .arg(format!("--data-dir={}", data_dir.display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            .arg(format!("--listen-metrics-urls={health}"))
            .args(&tls_args);
        command
    };
    let ready = move || is_healthy(ports.health);
    Process::try_start("etcd", command, ready).map(|process| (data, process))
}

/// Whether etcd's plain-HTTP metrics listener on `port` reports it healthy (`GET /health`),
/// which it does only once it serves with a leader. An open client port is not enough: etcd
/// opens it before its peer port, and exits if that one is taken.
pub(crate) fn is_healthy(port: u16) -> bool {
    crate::http_get(port, "/health").is_some_and(|body| body.contains("\"health\":\"true\""))
}
