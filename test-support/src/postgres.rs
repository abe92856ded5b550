//! A real PostgreSQL on loopback, in a temporary cluster made by initdb, that a test can kill
//! and restart.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Process;
use crate::{Issued, Pki, free_port, on_free_ports, tool};

/// A PostgreSQL server this test owns, user `postgres` with trust auth. Killed when dropped.
pub struct PostgresServer {
    port: u16,
    process: Process,
    pki: Option<Pki>,
    _data: TempDir,
}

/// What a server asks of its clients.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    /// TLS only.
    Tls,
    /// TLS only, and a client certificate signed by the CA whose CN is the user (`cert` auth).
    ClientCertificates,
}

impl PostgresServer {
    /// Makes a cluster with initdb and starts `postgres` (`MICRO_TEST_POSTGRES_BIN`, or
    /// `postgres` on PATH; initdb is beside it) with fsync off; `None` when it is not installed
    /// and tools are not required. As root, both run as the `postgres` user (they refuse root).
    pub fn start() -> Option<PostgresServer> {
        PostgresServer::start_with(Security::Plain)
    }

    /// As [`start`](Self::start), but the server accepts only TLS connections, with a
    /// certificate for `localhost` and `127.0.0.1` signed by [`ca`](Self::ca).
    pub fn start_tls() -> Option<PostgresServer> {
        PostgresServer::start_with(Security::Tls)
    }

    /// As [`start_tls`](Self::start_tls), but clients must also present a certificate signed
    /// by [`ca`](Self::ca) whose common name is the user (`hostssl … cert` in pg_hba.conf):
    /// [`issue_client`](Self::issue_client)`("postgres")`.
    pub fn start_client_certs() -> Option<PostgresServer> {
        PostgresServer::start_with(Security::ClientCertificates)
    }

    fn start_with(security: Security) -> Option<PostgresServer> {
        let binary = tool("MICRO_TEST_POSTGRES_BIN", "postgres")?;
        let data = tempfile::tempdir().expect("a temporary directory");
        let cluster = data.path().join("cluster");
        init_cluster(&binary, data.path(), &cluster);
        let pki =
            (security != Security::Plain).then(|| require_tls(data.path(), &cluster, security));
        let (port, process) = on_free_ports("postgres", || {
            let port = free_port();
            let (binary, cluster) = (binary.clone(), cluster.clone());
            let socket_dir = cluster.clone();
            let command = move || {
                let mut command = as_postgres_user(&binary);
                command
                    .arg("-D")
                    .arg(&cluster)
                    .arg("-k")
                    .arg(&cluster)
                    .args(["-p", &port.to_string()])
                    .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
                command
            };
            let ready = move || accepts_logins(&socket_dir, port);
            Process::try_start("postgres", command, ready).map(|process| (port, process))
        });
        Some(PostgresServer {
            port,
            process,
            pki,
            _data: data,
        })
    }

    /// The PEM certificate of the CA that signed a TLS server's certificate (and the client
    /// certificates it trusts).
    pub fn ca(&self) -> PathBuf {
        self.pki().ca_cert()
    }

    /// A client certificate with common name `user`, signed by [`ca`](Self::ca); its key is
    /// readable by its owner only, as libpq requires.
    pub fn issue_client(&self, user: &str) -> Issued {
        let issued = self.pki().issue(user, &["DNS:localhost"], 2);
        std::fs::set_permissions(
            &issued.key,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .expect("chmod the key");
        issued
    }

    fn pki(&self) -> &Pki {
        self.pki
            .as_ref()
            .expect("a server started with start_tls or start_client_certs")
    }

    /// `postgresql://postgres@127.0.0.1:PORT/postgres`, for `--store-address`.
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills postgres abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts postgres again on the same port and cluster; committed data survives.
    pub fn restart(&mut self) {
        self.process.restart();
    }
}

/// Runs initdb (beside `postgres`) into `cluster`, in `data` (given to the user that will run
/// the server).
fn init_cluster(postgres: &Path, data: &Path, cluster: &Path) {
    give_to_postgres(data);
    // Debian links `postgres` onto PATH but keeps initdb beside the real binary.
    let postgres = std::fs::canonicalize(postgres).unwrap_or_else(|_| postgres.to_owned());
    let initdb = postgres.with_file_name("initdb");
    let output = as_postgres_user(&initdb)
        .arg("-D")
        .arg(cluster)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("{} does not start: {err}", initdb.display()));
    assert!(
        output.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `program`, run as the `postgres` user when we are root (setpriv execs it, so killing the
/// process kills the server itself).
fn as_postgres_user(program: &Path) -> Command {
    if !is_root() {
        return Command::new(program);
    }
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
    command
}

/// Makes `path` the `postgres` user's when we are root.
fn give_to_postgres(path: &Path) {
    if !is_root() {
        return;
    }
    let status = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(path)
        .status()
        .expect("chown runs");
    assert!(status.success(), "chown of {} failed", path.display());
}

/// A CA (`data/ca.crt`) and a server certificate it signed, `ssl = on`, and a pg_hba.conf that
/// refuses connections without TLS (and, for `ClientCertificates`, without a client
/// certificate from the CA naming the user).
fn require_tls(data: &Path, cluster: &Path, security: Security) -> Pki {
    let pki = Pki::new(data, "micro test CA");
    let server = pki.issue("server", &["DNS:localhost", "IP:127.0.0.1"], 2);
    for (from, file) in [(&server.cert, "server.crt"), (&server.key, "server.key")] {
        let target = cluster.join(file);
        std::fs::copy(from, &target).expect("copy a certificate file");
        give_to_postgres(&target);
    }
    std::fs::set_permissions(
        cluster.join("server.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod the key");
    let append = |file: &str, text: &str| {
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .append(true)
            .open(cluster.join(file))
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("append to the cluster's configuration");
    };
    append("postgresql.conf", "\nssl = on\n");
    let method = if security == Security::ClientCertificates {
        let target = cluster.join("ca.crt");
        std::fs::copy(pki.ca_cert(), &target).expect("copy the CA certificate");
        give_to_postgres(&target);
        append("postgresql.conf", "ssl_ca_file = 'ca.crt'\n");
        "cert"
    } else {
        "trust"
    };
    std::fs::write(
        cluster.join("pg_hba.conf"),
        format!("local all all trust\nhostssl all all 127.0.0.1/32 {method}\n"),
    )
    .expect("write pg_hba.conf");
    pki
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// Whether the server lets `postgres` log in (not "the database system is starting up"): a
/// protocol 3.0 startup message on its Unix socket in `cluster`, answered by an authentication
/// message. (The socket works for TLS-only servers too.)
fn accepts_logins(cluster: &Path, port: u16) -> bool {
    let socket = cluster.join(format!(".s.PGSQL.{port}"));
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let body = b"\x00\x03\x00\x00user\0postgres\0database\0postgres\0\0";
    let length = u32::try_from(body.len() + 4).expect("a short message");
    let mut reply = [0; 1];
    stream.write_all(&length.to_be_bytes()).is_ok()
        && stream.write_all(body).is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && reply[0] == b'R'
}
