//! Runs example binaries as real processes and finds the tools interop tests drive.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use micro::registry::{EtcdOptions, EtcdRegistry, Registry};
use micro_test_support::EtcdServer;

/// A running example binary, killed when dropped.
pub struct Example {
    child: Child,
    pub addr: SocketAddr,
    /// The log line that announced the address.
    pub announcement: String,
    /// Every log line the process writes after the one that announced the address.
    pub logs: mpsc::Receiver<String>,
}

impl Example {
    /// Starts `binary` (a `CARGO_BIN_EXE_*` path) on a free loopback port and waits for it to
    /// log the address it listens on.
    pub fn start(binary: &str, args: &[&str]) -> Example {
        let mut command = Command::new(binary);
        command
            .args(["--server-address", "127.0.0.1:0"])
            .args(args)
            // mDNS stays off the network in tests; tests that want a registry pass one.
            .env("MICRO_REGISTRY", "memory");
        Example::spawn(command)
    }

    /// Runs `command` as it is (its address and registry are the caller's) and waits for it to
    /// log the address it listens on.
    pub fn spawn(mut command: Command) -> Example {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .env("MICRO_LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {program}: {err}"));
        let (lines, logs) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let (addr, announcement) = wait_for_address(&logs);
        Example {
            child,
            addr,
            announcement,
            logs,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to 10 s for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM failed");
        for _ in 0..1000 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the example did not exit within 10 s of SIGTERM");
    }

    /// Log lines written so far.
    pub fn drain_logs(&self) -> Vec<String> {
        self.logs.try_iter().collect()
    }

    /// Waits up to `limit` for the example to log that it registered in its registry.
    pub fn wait_registered(&self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.logs.recv_timeout(left) {
                Ok(line) if line.contains(" registered ") => return,
                Ok(_) => continue,
                Err(_) => panic!("the example did not log `registered` within {limit:?}"),
            }
        }
    }
}

impl Example {
    /// Waits up to `limit` for `GET /health/ready` to answer 200: the example is registered and
    /// its checks pass, so `grpc.health.v1` says `SERVING` too. (`start` returns once the port
    /// is open, which is before the example registers.)
    pub fn wait_ready(&self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        while !ready(self.addr) {
            assert!(
                std::time::Instant::now() < deadline,
                "the example was not ready within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether `GET /health/ready` at `addr` answers 200.
fn ready(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let request = "GET /health/ready HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n";
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_address(logs: &mpsc::Receiver<String>) -> (SocketAddr, String) {
    loop {
        let line = logs
            .recv_timeout(Duration::from_secs(30))
            .expect("the example logs `listening on <address>` within 30 s");
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split_whitespace().next().expect("an address follows");
            let addr = addr
                .parse()
                .unwrap_or_else(|err| panic!("bad address in `{line}`: {err}"));
            return (addr, line);
        }
    }
}

/// A tool from `env` (set by scripts/test.sh) or PATH; `None`, with a note, when absent and
/// `MICRO_TEST_REQUIRE_TOOLS` is unset.
pub fn tool(env: &str, name: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env).map(PathBuf::from).or_else(|| {
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {name}"))
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
    });
    if path.is_none() {
        assert!(
            std::env::var_os("MICRO_TEST_REQUIRE_TOOLS").is_none(),
            "{name} is required (MICRO_TEST_REQUIRE_TOOLS is set) but neither {env} nor PATH has it"
        );
        eprintln!("SKIPPED: {name} not found; set {env} or run scripts/test.sh");
    }
    path
}

/// A Python with grpcio, grpcio-tools, -health-checking and -reflection: `MICRO_TEST_PYTHON`,
/// or `python3` from PATH if it has them.
pub fn python_with_grpc() -> Option<PathBuf> {
    micro_test_support::python_with("grpc, grpc_tools, grpc_health, grpc_reflection")
}

/// The repository's `proto/` directory.
pub fn proto_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto")
}

/// Runs the helloworld-client load tool (`binary`) against `address`: `requests` calls, four at
/// a time, with `extra` flags; its output.
pub fn load(binary: &str, address: &str, requests: u64, extra: &[&str]) -> std::process::Output {
    Command::new(binary)
        .args(["--address", address, "--concurrency", "4"])
        .args(["--requests", &requests.to_string()])
        .args(extra)
        .env("MICRO_REGISTRY", "memory")
        .output()
        .unwrap_or_else(|err| panic!("cannot run {binary}: {err}"))
}

/// The load tool made every call and failed none.
pub fn assert_all_ok(output: &std::process::Output, requests: u64) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("ok={requests} failed=0")),
        "{stdout}"
    );
}

/// The load tool failed every call.
pub fn assert_all_failed(output: &std::process::Output, requests: u64) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("ok=0 failed={requests}")),
        "{stdout}"
    );
}

/// The `node_modules` scripts/test.sh fills, if it holds playwright-core.
pub fn playwright() -> Option<PathBuf> {
    let dir = std::env::var_os("MICRO_TEST_NODE_MODULES").map(PathBuf::from);
    let dir = dir.filter(|dir| dir.join("playwright-core/package.json").is_file());
    if dir.is_none() {
        micro_test_support::require_or_skip(
            "MICRO_TEST_NODE_MODULES must hold playwright-core (scripts/test.sh)",
        );
    }
    dir
}

/// The `micro` environment that `micro --registry etcd --registry-address <etcd> <flags>
/// gateway` builds.
pub fn gateway_env(etcd: &str, flags: &[&str]) -> micro_cli::Env {
    let mut args = vec!["micro", "--registry", "etcd", "--registry-address", etcd];
    args.extend(flags);
    args.push("gateway");
    let cli = <micro_cli::Cli as clap::Parser>::parse_from(args);
    micro_cli::Env::new(&cli.global).unwrap()
}

/// The API gateway on the etcd at `etcd`, with the global `flags` (`--timeout 5s`…), serving
/// on a free loopback port; its URL.
pub async fn start_gateway(etcd: &str, flags: &[&str]) -> String {
    serve_gateway(micro_cli::gateway::Gateway::new(gateway_env(etcd, flags))).await
}

/// Serves `gateway` on a free loopback port; its URL.
pub async fn serve_gateway(gateway: micro_cli::gateway::Gateway) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(gateway.run(listener, std::future::pending()));
    url
}

/// What a Node driver script printed: its last JSON line, which must say `"ok": true`.
pub fn driver_result(output: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stdout.lines().rev().find(|line| line.starts_with('{'));
    let result: serde_json::Value = line
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("the driver printed no JSON result:\n{stdout}\n{stderr}"));
    assert!(
        output.status.success() && result["ok"] == true,
        "the driver failed: {result:#}\n{stderr}"
    );
    result
}

/// The screenshot is a real picture: a PNG of the 1280×800 viewport, sizeable, with many
/// colours.
pub fn assert_screenshot(path: &std::path::Path) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 10_000,
        "a {} byte screenshot is blank",
        bytes.len()
    );
    let mut reader = png::Decoder::new(std::io::Cursor::new(&bytes))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1280, 800));
    let channels = frame.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> =
        pixels[..frame.buffer_size()].chunks(channels).collect();
    assert!(colours.len() > 50, "only {} colours", colours.len());
}

/// etcd, services registered in it, and the API gateway in front of them (the gateway tests'
/// common ground).
pub struct GatewayFleet {
    pub etcd: EtcdServer,
    /// The gateway's URL.
    pub gateway: String,
}

impl GatewayFleet {
    /// etcd and a gateway on it with the global `flags` (`--timeout 10s`…); `None` (the test
    /// skips) without etcd.
    pub async fn start(flags: &[&str]) -> Option<GatewayFleet> {
        let etcd = EtcdServer::start()?;
        let gateway = start_gateway(&etcd.address(), flags).await;
        Some(GatewayFleet { etcd, gateway })
    }

    /// `--registry etcd --registry-address <etcd>`.
    pub fn registry_flags(&self) -> [String; 4] {
        [
            "--registry".into(),
            "etcd".into(),
            "--registry-address".into(),
            self.etcd.address(),
        ]
    }

    /// Starts `binary` registered in etcd and waits until etcd lists `nodes` nodes of
    /// `service`.
    pub async fn service(&self, binary: &str, service: &str, nodes: usize) -> Example {
        let flags = self.registry_flags();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let example = Example::start(binary, &flags);
        self.wait_for_nodes(service, nodes).await;
        example
    }

    /// Waits until etcd lists `nodes` nodes of `service`.
    pub async fn wait_for_nodes(&self, service: &str, nodes: usize) {
        let registry = self.registry();
        let started = tokio::time::Instant::now();
        loop {
            let registered = registry.get_service(service).await.map_or(0, |versions| {
                versions.iter().map(|v| v.nodes.len()).sum::<usize>()
            });
            if registered >= nodes {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{service} never had {nodes} nodes in etcd"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The gateway's URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    /// The registry the services are in.
    pub fn registry(&self) -> EtcdRegistry {
        EtcdRegistry::new(EtcdOptions::from_addresses(&[self.etcd.address()]))
    }
}
