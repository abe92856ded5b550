//! A real nats-server with JetStream on loopback, storing in a temporary directory, that a test
//! can kill and restart; optionally requiring TLS and client certificates.

use std::io::Read;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Process;
use crate::{Issued, Pki, free_port, on_free_ports, tool};

/// A nats-server (JetStream enabled) this test owns. Killed when dropped.
pub struct NatsServer {
    port: u16,
    process: Process,
    pki: Option<Pki>,
    _store: TempDir,
}

impl NatsServer {
    /// Starts nats-server (`MICRO_TEST_NATS_BIN`, or `nats-server` on PATH); `None` when it is not
    /// installed and tools are not required.
    pub fn start() -> Option<NatsServer> {
        NatsServer::start_with(false)
    }

    /// As [`start`](Self::start), but clients must speak TLS and present a certificate signed
    /// by [`ca`](Self::ca) (`--tlsverify`); the server's own certificate, from the same CA, is
    /// valid for `localhost` and `127.0.0.1`.
    pub fn start_tls() -> Option<NatsServer> {
        NatsServer::start_with(true)
    }

    fn start_with(tls: bool) -> Option<NatsServer> {
        let binary = tool("MICRO_TEST_NATS_BIN", "nats-server")?;
        let store = tempfile::tempdir().expect("a temporary directory");
        let store_path = store.path().to_owned();
        let pki = tls.then(|| Pki::new(&store.path().join("pki"), "nats test CA"));
        let mut tls_args: Vec<std::ffi::OsString> = Vec::new();
        if let Some(pki) = &pki {
            let server = pki.issue("nats", &["DNS:localhost", "IP:127.0.0.1"], 2);
            tls_args.extend(["--tls".into(), "--tlsverify".into()]);
            for (flag, path) in [
                ("--tlscert", server.cert),
                ("--tlskey", server.key),
                ("--tlscacert", pki.ca_cert()),
            ] {
                tls_args.extend([flag.into(), path.into_os_string()]);
            }
        }
        let (port, process) = on_free_ports("nats-server", || {
            let port = free_port();
            let (binary, store_path) = (binary.clone(), store_path.clone());
            let tls_args = tls_args.clone();
            let command = move || {
                let mut command = Command::new(&binary);
                command
                    .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
                    .arg(&store_path)
                    .args(&tls_args);
                command
            };
            let ready = move || greets_as_nats(port);
            Process::try_start("nats-server", command, ready).map(|process| (port, process))
        });
        Some(NatsServer {
            port,
            process,
            pki,
            _store: store,
        })
    }

    /// The CA (PEM) that signed a TLS server's certificate and the client certificates it
    /// trusts.
    pub fn ca(&self) -> std::path::PathBuf {
        self.pki().ca_cert()
    }

    /// A client certificate for `name`, signed by [`ca`](Self::ca), which a TLS server accepts.
    pub fn issue_client(&self, name: &str) -> Issued {
        self.pki()
            .issue(name, &["DNS:localhost", "IP:127.0.0.1"], 2)
    }

    fn pki(&self) -> &Pki {
        self.pki.as_ref().expect("a server started with start_tls")
    }

    /// `127.0.0.1:PORT`, for `--broker-address` and `--events-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills nats-server abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts nats-server again on the same port with the same store directory, so JetStream
    /// streams, consumers and messages survive.
    pub fn restart(&mut self) {
        self.process.restart();
    }
}

/// Whether a NATS server answers on `port`: it greets every connection with `INFO {…}` (in
/// plain text, TLS servers too).
fn greets_as_nats(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut greeting = [0; 5];
    stream.read_exact(&mut greeting).is_ok() && &greeting == b"INFO "
}
