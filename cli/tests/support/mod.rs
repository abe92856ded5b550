//! Live services for the CLI's tests: helloworld (twice) and the streaming example, served
//! in this process and registered in a real etcd, and a way to run the `micro` binary.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use examples::helloworld::{HelloworldHandler, HelloworldServer, Request, Response};
use examples::streaming::{
    CountReply, CountRequest, Number, PingReply, PingRequest, StreamerHandler, StreamerServer,
    SumReply, Words,
};
use micro::registry::Registry;
use micro::{Context, RunningService, Sender, Service, Status, Streaming};
use micro_test_support::{EtcdServer, require_or_skip};

pub const MICRO: &str = env!("CARGO_BIN_EXE_micro");

/// Greets; with `x-team` metadata, greets on the team's behalf.
pub struct Greeter;

impl HelloworldHandler for Greeter {
    async fn greeting(&self, ctx: Context, request: Request) -> Result<Response, Status> {
        if request.name == "nobody" {
            return Err(Status::not_found("nobody is not here"));
        }
        let team = ctx
            .get("x-team")
            .map(|team| format!(" from {team}"))
            .unwrap_or_default();
        Ok(Response {
            message: format!("Hello {}{team}", request.name),
        })
    }
}

/// The streaming example's service: ping, count, sum, shout.
pub struct Streamer;

impl StreamerHandler for Streamer {
    async fn ping(&self, _ctx: Context, request: PingRequest) -> Result<PingReply, Status> {
        Ok(PingReply { text: request.text })
    }

    async fn count(
        &self,
        _ctx: Context,
        request: CountRequest,
        out: Sender<CountReply>,
    ) -> Result<(), Status> {
        for number in 1..=request.to {
            out.send(CountReply { number }).await?;
        }
        Ok(())
    }

    async fn sum(&self, _ctx: Context, mut numbers: Streaming<Number>) -> Result<SumReply, Status> {
        let (mut total, mut count) = (0, 0);
        while let Some(number) = numbers.recv().await? {
            total += number.value;
            count += 1;
        }
        Ok(SumReply { total, count })
    }

    async fn shout(
        &self,
        _ctx: Context,
        mut words: Streaming<Words>,
        out: Sender<Words>,
    ) -> Result<(), Status> {
        while let Some(words) = words.recv().await? {
            out.send(Words {
                text: words.text.to_uppercase(),
            })
            .await?;
        }
        Ok(())
    }
}

/// etcd with two helloworld nodes and one streaming node registered in it.
pub struct Fleet {
    pub etcd: EtcdServer,
    pub registry: Arc<dyn Registry>,
    pub helloworld: Vec<RunningService>,
    pub streaming: RunningService,
}

impl Fleet {
    /// Starts the fleet, or `None` (test skipped, unless tools are required) without etcd.
    pub async fn start() -> Option<Fleet> {
        let etcd = EtcdServer::start()?;
        let registry = micro::registry::build("etcd", &[etcd.address()]).unwrap();
        let mut helloworld = Vec::new();
        for _ in 0..2 {
            helloworld.push(
                serve(
                    Service::new("helloworld").handle(HelloworldServer::new(Greeter)),
                    &registry,
                )
                .await,
            );
        }
        let streaming = serve(
            Service::new("streaming").handle(StreamerServer::new(Streamer)),
            &registry,
        )
        .await;
        Some(Fleet {
            etcd,
            registry,
            helloworld,
            streaming,
        })
    }

    /// The registry options for `micro`.
    pub fn registry_args(&self) -> Vec<String> {
        vec![
            "--registry".into(),
            "etcd".into(),
            "--registry-address".into(),
            self.etcd.address(),
        ]
    }

    /// Runs `micro <registry options> <args>`.
    pub async fn micro(&self, args: &[&str]) -> Output {
        let mut all = self.registry_args();
        all.extend(args.iter().map(|arg| arg.to_string()));
        micro(all, None).await
    }

    /// Runs `micro <registry options> <args>` with `stdin` as its input.
    pub async fn micro_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut all = self.registry_args();
        all.extend(args.iter().map(|arg| arg.to_string()));
        micro(all, Some(stdin.to_owned())).await
    }

    pub async fn stop(self) {
        for service in self.helloworld {
            service.stop().await.unwrap();
        }
        self.streaming.stop().await.unwrap();
    }
}

/// Starts `service` on a free loopback port, registered in `registry`.
pub async fn serve(service: Service, registry: &Arc<dyn Registry>) -> RunningService {
    service
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .start()
        .await
        .expect("the service starts")
}

/// Runs the `micro` binary (off the test's runtime threads) and returns what it printed.
pub async fn micro(args: Vec<String>, stdin: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || run(Command::new(MICRO).args(&args), stdin))
        .await
        .unwrap()
}

/// Runs `command` with `stdin` (or none), bounded to a minute.
pub fn run(command: &mut Command, stdin: Option<String>) -> Output {
    command
        .env_remove("MICRO_REGISTRY")
        .env_remove("MICRO_REGISTRY_ADDRESS")
        .env_remove("MICRO_OUTPUT")
        .env("MICRO_CLIENT_REQUEST_TIMEOUT", "20s")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("micro runs");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "micro did not finish within a minute: {:?}",
                child.wait_with_output().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the command succeeded and returns its stdout.
pub fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "micro failed: {}\n{}",
        stderr(output),
        stdout(output)
    );
    stdout(output)
}

/// Asserts the command failed and returns its stderr.
pub fn failed(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "micro should have failed: {}",
        stdout(output)
    );
    stderr(output)
}

/// Compares `actual` with `tests/golden/<name>`; `MICRO_UPDATE_GOLDEN=1` rewrites the file.
pub fn assert_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("MICRO_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err} (MICRO_UPDATE_GOLDEN=1 writes it)",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// A Go helloworld (rpc server, etcd), killed when dropped.
pub struct GoHelloworld(Child);

impl GoHelloworld {
    /// Starts `program` registered in the etcd at `etcd` as `name`, once it has registered.
    pub fn start(program: PathBuf, etcd: &str, name: &str) -> GoHelloworld {
        let mut child = Command::new(&program)
            .args([
                "--registry",
                "etcd",
                "--registry_address",
                etcd,
                "--name",
                name,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", program.display()));
        let stdout = child.stdout.take().expect("piped");
        // It prints {"listening":…} once registered (go-micro v4 also logs to stdout, so the
        // rest is drained: a closed pipe would kill it on its next log line).
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let registered = lines.any(|line| line.starts_with("{\"listening\""));
        assert!(registered, "{} never registered", program.display());
        std::thread::spawn(move || lines.for_each(drop));
        GoHelloworld(child)
    }
}

impl Drop for GoHelloworld {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Go peer program `name` (scripts/build-peers.sh builds them), or `None` (skipped, unless
/// tools are required) without them.
pub fn go_peer(name: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("MICRO_TEST_GO_PEERS") else {
        require_or_skip(
            "MICRO_TEST_GO_PEERS not set; run scripts/test.sh (it builds the Go peers)",
        );
        return None;
    };
    Some(PathBuf::from(dir).join(name))
}
