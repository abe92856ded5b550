//! A real redis-server on loopback, persisting to a temporary directory, that a test can kill
//! and restart; optionally serving TLS only and requiring client certificates.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Process;
use crate::{Issued, Pki, free_port, on_free_ports, tool};

/// A redis-server this test owns. Killed when dropped.
pub struct RedisServer {
    port: u16,
    process: Process,
    pki: Option<Pki>,
    _data: TempDir,
}

impl RedisServer {
    /// Starts redis-server (`MICRO_TEST_REDIS_BIN`, or `redis-server` on PATH) with an
    /// append-only file synced on every write; `None` when it is not installed and tools are
    /// not required.
    pub fn start() -> Option<RedisServer> {
        RedisServer::start_with(false)
    }

    /// As [`start`](Self::start), but the port speaks TLS only (`--port 0 --tls-port`) and
    /// clients must present a certificate signed by [`ca`](Self::ca)
    /// (`--tls-auth-clients yes`); the server's own certificate, from the same CA, is valid for
    /// `localhost` and `127.0.0.1`. Needs a redis-server built with TLS (Debian's is).
    pub fn start_tls() -> Option<RedisServer> {
        RedisServer::start_with(true)
    }

    fn start_with(tls: bool) -> Option<RedisServer> {
        let binary = tool("MICRO_TEST_REDIS_BIN", "redis-server")?;
        let data = tempfile::tempdir().expect("a temporary directory");
        let data_path = data.path().to_owned();
        let pki = tls.then(|| Pki::new(&data.path().join("pki"), "redis test CA"));
        let mut tls_args: Vec<OsString> = Vec::new();
        if let Some(pki) = &pki {
            let server = pki.issue("redis", &["DNS:localhost", "IP:127.0.0.1"], 2);
            for (flag, path) in [
                ("--tls-cert-file", server.cert),
                ("--tls-key-file", server.key),
                ("--tls-ca-cert-file", pki.ca_cert()),
            ] {
                tls_args.extend([flag.into(), path.into_os_string()]);
            }
            tls_args.extend(["--tls-auth-clients".into(), "yes".into()]);
        }
        // Asked whether it is ready on a Unix socket, in plain text (a TLS port is not); redis
        // binds it after its TCP ports, and exits if one of those is taken.
        let socket = data.path().join("redis.sock");
        let (port, process) = on_free_ports("redis-server", || {
            let port = free_port();
            let (binary, data_path) = (binary.clone(), data_path.clone());
            let (tls_args, socket, ready_socket) =
                (tls_args.clone(), socket.clone(), socket.clone());
            let ports: Vec<OsString> = if tls {
                ["--port", "0", "--tls-port", &port.to_string()]
                    .map(OsString::from)
                    .into()
            } else {
                ["--port", &port.to_string()].map(OsString::from).into()
            };
            let command = move || {
                let mut command = Command::new(&binary);
                command
                    .args(&ports)
                    .args(["--bind", "127.0.0.1"])
                    .args(&tls_args)
                    .arg("--unixsocket")
                    .arg(&socket)
                    .args([
                        "--save",
                        "",
                        "--appendonly",
                        "yes",
                        "--appendfsync",
                        "always",
                    ])
                    .arg("--dir")
                    .arg(&data_path);
                command
            };
            let ready = move || answers_ping(&ready_socket);
            Process::try_start("redis-server", command, ready).map(|process| (port, process))
        });
        Some(RedisServer {
            port,
            process,
            pki,
            _data: data,
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

    /// `127.0.0.1:PORT`, for `--events-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills redis-server abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts redis-server again on the same port and directory; what was synced survives.
    pub fn restart(&mut self) {
        self.process.restart();
    }
}

/// Whether the server on the Unix socket `socket` answers `PING` with `+PONG` (not `-LOADING`).
fn answers_ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}
