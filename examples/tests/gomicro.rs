//! Real go-micro processes, both directions: the programs in peers/gomicro-v4 (go-micro
//! v4.11.0 with its v4 plugins) and peers/gomicro-v5 (v5.30.0, the newest release line the Go
//! module proxy serves), built by `scripts/build-peers.sh` into `MICRO_TEST_GO_PEERS`, against
//! micro-rs services, clients, brokers, streams, stores and JWTs in this process.
//! docs/interop.md tables what each test proves.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use clap::Parser as _;
use examples::helloworld::{
    HelloworldClient, HelloworldHandler, HelloworldServer, Request, Response,
};
use micro::broker::{self, Broker, HttpBroker, HttpOptions, Message, SubscribeOptions};
use micro::registry::Registry;
use micro::service::RunningService;
use micro::{Context, Service, Status};
use micro_test_support::{in_network_namespace, require_or_skip, run_in_network_namespace};
use serde_json::{Value, json};

/// go-micro's two release lines the peers are built on.
#[derive(Clone, Copy, Debug)]
enum Go {
    V4,
    V5,
}

impl Go {
    /// The peer program `name` of this version, or `None` (skipped) without the peers.
    fn program(self, name: &str) -> Option<PathBuf> {
        let Some(dir) = std::env::var_os("MICRO_TEST_GO_PEERS") else {
            require_or_skip(
                "MICRO_TEST_GO_PEERS not set; run scripts/test.sh (it builds the Go peers)",
            );
            return None;
        };
        let prefix = match self {
            Go::V4 => "gomicro4",
            Go::V5 => "gomicro5",
        };
        Some(PathBuf::from(dir).join(format!("{prefix}-{name}")))
    }
}

/// A Go program that runs until killed; its stdout lines (JSON) arrive on `lines`.
struct GoProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl GoProcess {
    /// Starts `program` and waits for its first stdout line that has `key` (`listening`,
    /// `ready`); that line is returned too.
    fn start(program: &PathBuf, args: &[&str], key: &str) -> (GoProcess, Value) {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", program.display()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let lines = BufReader::new(stdout).lines().map_while(Result::ok);
            // go-micro v4 logs to stdout too; its log lines are not JSON objects.
            for line in lines.filter(|line| line.starts_with('{')) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let process = GoProcess { child, lines };
        let first = process
            .next_json(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("{} printed no `{key}` line", program.display()));
        assert!(first.get(key).is_some(), "{first}");
        (process, first)
    }

    /// The next stdout line, as JSON, within `wait`.
    fn next_json(&self, wait: Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(wait).ok()?;
        Some(serde_json::from_str(&line).unwrap_or_else(|err| panic!("`{line}`: {err}")))
    }

    /// Every line until the process exits (waiting at most `wait`), as JSON.
    fn rest(self, wait: Duration) -> Vec<Value> {
        let mut values = Vec::new();
        let deadline = std::time::Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => values.push(serde_json::from_str(&line).unwrap_or(Value::Null)),
                Err(_) => break,
            }
        }
        values
    }
}

impl Drop for GoProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a Go program to its end (off the async runtime); its stdout lines as JSON and whether
/// it exited 0.
async fn run_go(program: PathBuf, args: Vec<String>) -> (Vec<Value>, bool) {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(&program)
            .args(&args)
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", program.display()));
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            eprintln!("{} {args:?} failed: {stderr}", program.display());
        }
        let values = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.starts_with('{'))
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|err| {
                    panic!(
                        "{} printed `{line}` ({err}); stderr: {stderr}",
                        program.display()
                    )
                })
            })
            .collect();
        (values, output.status.success())
    })
    .await
    .expect("the Go program ran")
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(ToString::to_string).collect()
}

/// The registry flags of the Go programs and the matching micro-rs registry.
struct Discovery {
    go_flags: Vec<String>,
    registry: Arc<dyn Registry>,
}

impl Discovery {
    /// mDNS inside this test's network namespace. go-micro's mDNS sends its queries without
    /// naming an interface, so the namespace needs a multicast route (micro-rs names the
    /// interface and needs none).
    fn mdns() -> Discovery {
        let status = Command::new("ip")
            .args(["route", "add", "224.0.0.0/4", "dev", "lo"])
            .status()
            .expect("ip runs");
        assert!(
            status.success(),
            "cannot add a multicast route in the namespace"
        );
        Discovery {
            go_flags: strings(&["--registry", "mdns"]),
            registry: Arc::new(micro::registry::MdnsRegistry::new()),
        }
    }

    #[cfg(feature = "full")]
    fn etcd(address: &str) -> Discovery {
        Discovery {
            go_flags: strings(&["--registry", "etcd", "--registry_address", address]),
            registry: micro::registry::from_uri(&format!("etcd://{address}")).expect("etcd"),
        }
    }

    fn flags(&self) -> Vec<&str> {
        self.go_flags.iter().map(String::as_str).collect()
    }
}

/// micro-rs's helloworld as the Go peers' is: "error" fails with a go-micro error, "metadata"
/// echoes `x-request-id`, "whoami" names the caller's account.
struct Greeter;

impl HelloworldHandler for Greeter {
    async fn greeting(&self, ctx: Context, request: Request) -> Result<Response, Status> {
        let message = match request.name.as_str() {
            "error" => {
                return Err(
                    micro::errors::Error::new("helloworld", "no greeting for error", 409).into(),
                );
            }
            "metadata" => format!("x-request-id={}", ctx.get("x-request-id").unwrap_or("")),
            "whoami" => match ctx.account() {
                Some(account) => format!("account={}", account.id),
                None => {
                    return Err(
                        micro::errors::Error::unauthorized("helloworld", "no account").into(),
                    );
                }
            },
            name => format!("Hello {name}"),
        };
        Ok(Response { message })
    }
}

async fn rust_helloworld(registry: &Arc<dyn Registry>) -> RunningService {
    Service::new("helloworld")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .handle(HelloworldServer::new(Greeter))
        .start()
        .await
        .expect("micro-rs helloworld starts")
}

/// `gomicroN-call` with `extra` flags, through `discovery`; its one output line.
async fn go_call(go: Go, discovery: &Discovery, extra: &[&str]) -> Value {
    let Some(call) = go.program("call") else {
        return Value::Null;
    };
    let mut args = discovery.go_flags.clone();
    args.extend(strings(extra));
    let (mut lines, _) = run_go(call, args).await;
    assert_eq!(lines.len(), 1, "{go:?} call {extra:?}: {lines:?}");
    lines.remove(0)
}

/// A Go client (rpc and gRPC) finds micro-rs helloworld through `discovery` and calls it:
/// a greeting, a go-micro error with its id, code and detail, and metadata passed through.
async fn go_client_calls_micro_rs(go: Go, discovery: Discovery) {
    if go.program("call").is_none() {
        return;
    }
    let service = rust_helloworld(&discovery.registry).await;
    for client in ["mucp", "grpc"] {
        let call = |extra: &[&str]| {
            let mut args = vec!["--client", client];
            args.extend(extra);
            args.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        let greet = call(&["--name", "alice"]);
        let greet: Vec<&str> = greet.iter().map(String::as_str).collect();
        assert_eq!(
            go_call(go, &discovery, &greet).await,
            json!({"message": "Hello alice"}),
            "{go:?} {client}"
        );
        let fail = call(&["--name", "error"]);
        let fail: Vec<&str> = fail.iter().map(String::as_str).collect();
        let error = go_call(go, &discovery, &fail).await;
        assert_eq!(
            (&error["id"], &error["code"], &error["detail"]),
            (
                &json!("helloworld"),
                &json!(409),
                &json!("no greeting for error")
            ),
            "{go:?} {client}: {error}"
        );
        let echo = call(&["--name", "metadata", "--metadata", "X-Request-Id=42"]);
        let echo: Vec<&str> = echo.iter().map(String::as_str).collect();
        assert_eq!(
            go_call(go, &discovery, &echo).await,
            json!({"message": "x-request-id=42"}),
            "{go:?} {client}"
        );
    }
    // go-micro's rpc client sends JSON by default; protobuf works too.
    let protobuf = ["--name", "bob", "--content_type", "application/protobuf"];
    assert_eq!(
        go_call(go, &discovery, &protobuf).await,
        json!({"message": "Hello bob"}),
        "{go:?} mucp with protobuf"
    );
    service.stop().await.expect("stops");
}

#[cfg(feature = "full")]
async fn with_etcd<F, Fut>(test: F)
where
    F: FnOnce(Discovery) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(etcd) = micro_test_support::EtcdServer::start() else {
        return;
    };
    test(Discovery::etcd(&etcd.address())).await;
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_v4_client_calls_micro_rs_over_etcd() {
    with_etcd(|discovery| go_client_calls_micro_rs(Go::V4, discovery)).await;
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_v5_client_calls_micro_rs_over_etcd() {
    with_etcd(|discovery| go_client_calls_micro_rs(Go::V5, discovery)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_v4_client_calls_micro_rs_over_mdns() {
    if !in_network_namespace() {
        return run_in_network_namespace("go_v4_client_calls_micro_rs_over_mdns");
    }
    go_client_calls_micro_rs(Go::V4, Discovery::mdns()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_v5_client_calls_micro_rs_over_mdns() {
    if !in_network_namespace() {
        return run_in_network_namespace("go_v5_client_calls_micro_rs_over_mdns");
    }
    go_client_calls_micro_rs(Go::V5, Discovery::mdns()).await;
}

/// A Go helloworld on `server` (mucp or grpc), registered as `name`.
fn go_helloworld(
    go: Go,
    discovery: &Discovery,
    server: &str,
    name: &str,
    extra: &[&str],
) -> GoProcess {
    let program = go.program("helloworld").expect("checked by the caller");
    let mut args = discovery.flags();
    args.extend(["--server", server, "--name", name]);
    args.extend(extra);
    GoProcess::start(&program, &args, "listening").0
}

/// micro-rs's client finds Go helloworlds through `discovery` and calls them over go-micro's
/// RPC protocol (the node says `protocol=mucp`) and over gRPC: a greeting, an error with its
/// id, code and detail, metadata passed through.
async fn micro_rs_calls_go(go: Go, discovery: Discovery) {
    if go.program("helloworld").is_none() {
        return;
    }
    let _mucp = go_helloworld(go, &discovery, "mucp", "go-helloworld-mucp", &[]);
    let _grpc = go_helloworld(go, &discovery, "grpc", "go-helloworld-grpc", &[]);
    let client = micro::Client::builder()
        .registry(discovery.registry.clone())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    for name in ["go-helloworld-mucp", "go-helloworld-grpc"] {
        let helloworld = HelloworldClient::new(client.clone()).with_service(name);
        let greet = |who: &str| helloworld.greeting(Request { name: who.into() });
        assert_eq!(
            greet("alice").await.expect(name).message,
            "Hello alice",
            "{go:?} {name}"
        );
        let status = greet("error").await.expect_err("fails");
        let error = micro::errors::Error::from_status(&status, "client");
        assert_eq!(
            (error.id.as_str(), error.code, error.detail.as_str()),
            ("helloworld", 409, "no greeting for error"),
            "{go:?} {name}: {status:?}"
        );
        let echoed = greet("metadata")
            .metadata("x-request-id", "42")
            .await
            .expect(name);
        assert_eq!(echoed.message, "x-request-id=42", "{go:?} {name}");
    }
    // JSON messages (application/json over mucp, application/grpc+json over gRPC).
    let json_client = micro::Client::builder()
        .registry(discovery.registry.clone())
        .codec(micro::codec::Format::Json)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    for name in ["go-helloworld-mucp", "go-helloworld-grpc"] {
        let helloworld = HelloworldClient::new(json_client.clone()).with_service(name);
        let reply = helloworld
            .greeting(Request {
                name: "json".into(),
            })
            .await;
        assert_eq!(reply.expect(name).message, "Hello json", "{go:?} {name}");
    }
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn micro_rs_calls_go_v4_over_mucp_and_grpc() {
    with_etcd(|discovery| micro_rs_calls_go(Go::V4, discovery)).await;
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn micro_rs_calls_go_v5_over_mucp_and_grpc() {
    with_etcd(|discovery| micro_rs_calls_go(Go::V5, discovery)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn micro_rs_calls_go_v4_over_mdns() {
    if !in_network_namespace() {
        return run_in_network_namespace("micro_rs_calls_go_v4_over_mdns");
    }
    micro_rs_calls_go(Go::V4, Discovery::mdns()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn micro_rs_calls_go_v5_over_mdns() {
    if !in_network_namespace() {
        return run_in_network_namespace("micro_rs_calls_go_v5_over_mdns");
    }
    micro_rs_calls_go(Go::V5, Discovery::mdns()).await;
}

/// micro-rs's HTTP broker on `registry`, listening on loopback.
fn rust_broker(registry: &Arc<dyn Registry>) -> HttpBroker {
    HttpBroker::new(
        registry.clone(),
        HttpOptions {
            address: "127.0.0.1:0".into(),
            ..HttpOptions::default()
        },
    )
}

/// Bodies a micro-rs subscriber received, shared with its handler.
type Received = Arc<Mutex<Vec<(String, Option<String>)>>>;

async fn rust_subscriber(
    broker: &HttpBroker,
    topic: &str,
    options: SubscribeOptions,
) -> (broker::Subscriber, Received) {
    let received = Received::default();
    let sink = received.clone();
    let handler = broker::handler(move |event: broker::Event| {
        let sink = sink.clone();
        async move {
            let message = event.message();
            let body = String::from_utf8_lossy(&message.body).into_owned();
            let source = message.header.get("source").cloned();
            sink.lock().unwrap().push((body, source));
            Ok(())
        }
    });
    let subscriber = broker
        .subscribe(topic, handler, options)
        .await
        .expect("subscribes");
    (subscriber, received)
}

/// go-micro's HTTP broker and micro-rs's deliver to each other: Go publishes, Rust gets it;
/// Rust publishes, Go gets it; a queue group of one Go and one Rust member splits messages.
async fn http_broker_both_ways(go: Go, discovery: Discovery) {
    let Some(go_broker) = go.program("broker") else {
        return;
    };
    let broker = rust_broker(&discovery.registry);
    let flags = discovery.flags();

    // Go → Rust.
    let (subscriber, received) =
        rust_subscriber(&broker, "go-to-rust", SubscribeOptions::default()).await;
    let mut args = discovery.go_flags.clone();
    args.extend(strings(&[
        "--topic",
        "go-to-rust",
        "--count",
        "3",
        "--header",
        "source=go",
    ]));
    let (out, ok) = run_go(
        go_broker.clone(),
        [vec!["publish".to_owned()], args].concat(),
    )
    .await;
    assert!(ok, "{go:?} publish: {out:?}");
    // go-micro's HTTP broker posts each message from a goroutine of its own: they may
    // arrive in any order.
    let mut got = received.lock().unwrap().clone();
    got.sort();
    let expected: Vec<(String, Option<String>)> = (0..3)
        .map(|n| (format!("hello-{n}"), Some("go".to_owned())))
        .collect();
    assert_eq!(got, expected, "{go:?}: what the Rust subscriber got");
    subscriber.unsubscribe().await.expect("unsubscribes");

    // Rust → Go.
    let mut args = vec!["subscribe"];
    args.extend(&flags);
    args.extend(["--topic", "rust-to-go", "--count", "3"]);
    let (go_subscriber, _) = GoProcess::start(&go_broker, &args, "ready");
    wait_for_nodes(&discovery.registry, "rust-to-go", 1).await;
    // A new broker: its registry cache has not yet seen the topic without subscribers.
    let broker = rust_broker(&discovery.registry);
    for n in 0..3 {
        let message = Message::new(format!("from-rust-{n}")).header("source", "rust");
        broker
            .publish("rust-to-go", &message)
            .await
            .expect("published");
    }
    let lines = go_subscriber.rest(Duration::from_secs(10));
    let bodies: Vec<&str> = lines.iter().filter_map(|l| l["body"].as_str()).collect();
    assert_eq!(
        bodies,
        ["from-rust-0", "from-rust-1", "from-rust-2"],
        "{go:?}: {lines:?}"
    );
    assert!(
        lines.iter().all(|l| l["header"]["source"] == "rust"),
        "{lines:?}"
    );

    // A queue group of a Go and a Rust member.
    let (rust_member, rust_got) =
        rust_subscriber(&broker, "mixed", SubscribeOptions::default().queue("mixed")).await;
    let mut args = vec!["subscribe"];
    args.extend(&flags);
    args.extend([
        "--topic",
        "mixed",
        "--queue",
        "mixed",
        "--count",
        "0",
        "--timeout",
        "4s",
    ]);
    let (go_member, _) = GoProcess::start(&go_broker, &args, "ready");
    wait_for_nodes(&discovery.registry, "mixed", 2).await;
    let publisher = rust_broker(&discovery.registry);
    for n in 0..20 {
        publisher
            .publish("mixed", &Message::new(format!("m-{n}")))
            .await
            .expect("published");
    }
    let go_got: BTreeSet<String> = go_member
        .rest(Duration::from_secs(10))
        .iter()
        .filter_map(|l| l["body"].as_str().map(str::to_owned))
        .collect();
    let rust_got: BTreeSet<String> = rust_got
        .lock()
        .unwrap()
        .iter()
        .map(|(b, _)| b.clone())
        .collect();
    assert!(
        go_got.is_disjoint(&rust_got),
        "{go:?}: a message reached both members"
    );
    let all: BTreeSet<String> = go_got.union(&rust_got).cloned().collect();
    assert_eq!(all, (0..20).map(|n| format!("m-{n}")).collect(), "{go:?}");
    assert!(
        !go_got.is_empty() && !rust_got.is_empty(),
        "{go:?}: go {go_got:?} rust {rust_got:?}"
    );
    rust_member.unsubscribe().await.expect("unsubscribes");
}

/// Waits until `count` broker nodes serve `topic` (queue members registered).
async fn wait_for_nodes(registry: &Arc<dyn Registry>, topic: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let nodes = registry
            .get_service(broker::HTTP_SERVICE)
            .await
            .map(|services| {
                services
                    .iter()
                    .flat_map(|s| &s.nodes)
                    .filter(|n| n.metadata.get("topic").map(String::as_str) == Some(topic))
                    .count()
            })
            .unwrap_or(0);
        if nodes >= count {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{topic}: {nodes} of {count} nodes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_broker_with_go_v4_both_ways() {
    with_etcd(|discovery| http_broker_both_ways(Go::V4, discovery)).await;
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_broker_with_go_v5_both_ways() {
    with_etcd(|discovery| http_broker_both_ways(Go::V5, discovery)).await;
}

/// go-micro's NATS JetStream events and micro-rs's read each other's: Go publishes, a micro-rs
/// group consumes from the start; micro-rs publishes, a Go group consumes from the start.
#[cfg(feature = "full")]
async fn jetstream_both_ways(go: Go) {
    use micro::events::{ConsumeOptions, EventStream, JetStream, Offset, PublishOptions};
    let Some(go_events) = go.program("events") else {
        return;
    };
    let Some(nats) = micro_test_support::NatsServer::start() else {
        return;
    };
    let address = nats.address();
    let url = format!("nats://{address}");
    let stream = JetStream::new(std::slice::from_ref(&address));

    // Go → Rust. go-micro publishes only to an existing stream (its consumers create them),
    // so the micro-rs consumer comes first.
    let options = ConsumeOptions::default()
        .group("rust")
        .offset(Offset::Start);
    let mut consumer = stream
        .consume("go-orders", options)
        .await
        .expect("consumes");
    let args = strings(&[
        "publish",
        "--address",
        &url,
        "--topic",
        "go-orders",
        "--count",
        "3",
        "--metadata",
        "source=go",
    ]);
    let (out, ok) = run_go(go_events.clone(), args).await;
    assert!(ok, "{go:?} publish: {out:?}");
    for n in 0..3 {
        let event = tokio::time::timeout(Duration::from_secs(10), consumer.next())
            .await
            .expect("an event within 10 s")
            .expect("an event");
        assert_eq!(
            event.payload.as_ref(),
            format!("order-{n}").as_bytes(),
            "{go:?}"
        );
        assert_eq!(event.topic, "go-orders");
        assert_eq!(event.metadata.get("source").map(String::as_str), Some("go"));
        event.ack().await.expect("acks");
    }

    // Rust → Go.
    for n in 0..3 {
        let options = PublishOptions::default().metadata("source", "rust");
        stream
            .publish("rust-orders", format!("rust-{n}").into(), options)
            .await
            .expect("published");
    }
    let args = strings(&[
        "consume",
        "--address",
        &url,
        "--topic",
        "rust-orders",
        "--group",
        "go",
        "--count",
        "3",
        "--from_start",
    ]);
    let (lines, ok) = run_go(go_events, args).await;
    assert!(ok, "{go:?} consume: {lines:?}");
    let events: Vec<&Value> = lines.iter().filter(|l| l.get("id").is_some()).collect();
    let payloads: Vec<&str> = events
        .iter()
        .filter_map(|e| e["payload"].as_str())
        .collect();
    assert_eq!(
        payloads,
        ["rust-0", "rust-1", "rust-2"],
        "{go:?}: {lines:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["metadata"]["source"] == "rust" && e["topic"] == "rust-orders")
    );
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_events_with_go_v4_both_ways() {
    jetstream_both_ways(Go::V4).await;
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_events_with_go_v5_both_ways() {
    jetstream_both_ways(Go::V5).await;
}

/// go-micro v5's PostgreSQL store and micro-rs's share records: each reads what the other
/// wrote, value and metadata, in go-micro's schema (`<database>.<table>`).
#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_with_go_v5_both_ways() {
    use micro::store::{
        PostgresOptions, PostgresStore, ReadOptions, Record, Scope, Store, WriteOptions,
    };
    let Some(go_store) = Go::V5.program("store") else {
        return;
    };
    let Some(postgres) = micro_test_support::PostgresServer::start() else {
        return;
    };
    let url = postgres.url();
    // lib/pq, go-micro's driver, asks for TLS unless told not to; the test server has none.
    let go_url = format!("{url}?sslmode=disable");
    let scope = Scope::new("shop", "orders");
    let store = PostgresStore::new(PostgresOptions::new(&url)).expect("store");
    let go = |args: &[&str]| {
        let mut all = strings(args);
        all.extend(strings(&[
            "--url",
            &go_url,
            "--database",
            "shop",
            "--table",
            "orders",
        ]));
        run_go(go_store.clone(), all)
    };

    // Go writes first (it creates the schema and table), Rust reads.
    let (out, ok) = go(&[
        "write",
        "--key",
        "go-1",
        "--value",
        "from go",
        "--metadata",
        "source=go",
    ])
    .await;
    assert!(ok, "{out:?}");
    let read = ReadOptions::default().scope(scope.clone());
    let records = store
        .read("go-1", read.clone())
        .await
        .expect("Rust reads Go's record");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value.as_ref(), b"from go");
    assert_eq!(records[0].metadata.get("source"), Some(&json!("go")));

    // Rust writes, Go reads.
    let record = Record::new("rust-1", "from rust").metadata("source", json!("rust"));
    let write = WriteOptions {
        scope: scope.clone(),
    };
    store.write(&record, write).await.expect("Rust writes");
    let (lines, ok) = go(&["read", "--key", "rust-1"]).await;
    assert!(ok, "{lines:?}");
    assert_eq!(
        lines,
        [json!({"key": "rust-1", "value": "from rust", "metadata": {"source": "rust"}})]
    );
}

/// A go-micro JWT and a micro-rs one, made with the same RSA keys, are each accepted by the
/// other side: inspected by the other's auth, and as the bearer token of a call.
#[cfg(feature = "full")]
async fn jwt_both_ways(go: Go) {
    use micro::auth::{
        Auth, GenerateOptions, JwtAuth, MemoryRules, Resource, Rule, SCOPE_ACCOUNT, ServerAuth,
        TokenRequest,
    };
    let Some(go_jwt) = go.program("jwt") else {
        return;
    };
    let Some(etcd) = micro_test_support::EtcdServer::start() else {
        return;
    };
    let keys = tempfile::tempdir().expect("a temporary directory");
    let (public, private) = micro_test_support::rsa_key_pair(keys.path());
    let auth = JwtAuth::new("go.micro", &public, Some(&private)).expect("keys");

    // Go issues, micro-rs inspects.
    let (lines, ok) = run_go(
        go_jwt.clone(),
        strings(&[
            "issue",
            "--public_key",
            &public,
            "--private_key",
            &private,
            "--id",
            "gopher",
            "--scopes",
            "admin",
        ]),
    )
    .await;
    assert!(ok, "{lines:?}");
    let token = lines[0]["token"].as_str().expect("a token").to_owned();
    let account = auth
        .inspect(&token)
        .await
        .expect("micro-rs accepts go-micro's JWT");
    assert_eq!(
        (account.id.as_str(), account.scopes.as_slice()),
        ("gopher", &["admin".to_owned()][..])
    );

    // The go-micro token opens a micro-rs service that checks tokens (Go's rpc client).
    let discovery = Discovery::etcd(&etcd.address());
    let auth = Arc::new(auth);
    let rules = MemoryRules::from_rules(vec![Rule::grant(
        "accounts",
        SCOPE_ACCOUNT,
        Resource::service("rust-guarded", "*"),
    )]);
    let rust_guarded = Service::new("rust-guarded")
        .address("127.0.0.1:0")
        .registry(discovery.registry.clone())
        .handle(HelloworldServer::new(Greeter))
        .auth(ServerAuth::new(auth.clone(), Arc::new(rules)))
        .start()
        .await
        .expect("starts");
    let call = |extra: &[&str]| {
        let mut args = vec!["--service", "rust-guarded", "--name", "whoami"];
        args.extend(extra);
        let args: Vec<String> = strings(&args);
        let discovery = &discovery;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            go_call(go, discovery, &args).await
        }
    };
    assert_eq!(call(&[]).await["code"], 401, "no token, no greeting");
    assert_eq!(
        call(&["--token", &token]).await,
        json!({"message": "account=gopher"}),
        "micro-rs accepts go-micro's token on a call"
    );
    rust_guarded.stop().await.expect("stops");

    // micro-rs issues, Go inspects.
    let generated = auth
        .generate("crab", GenerateOptions::default().scopes(["admin"]))
        .await
        .expect("generates");
    let rust_token = auth
        .token(TokenRequest::credentials("crab", &generated.secret))
        .await
        .expect("a token")
        .access_token;
    let (lines, ok) = run_go(
        go_jwt,
        strings(&["inspect", "--public_key", &public, "--token", &rust_token]),
    )
    .await;
    assert!(ok, "{lines:?}");
    assert_eq!(
        (&lines[0]["id"], &lines[0]["scopes"]),
        (&json!("crab"), &json!(["admin"]))
    );

    // The micro-rs token opens a Go service that checks tokens (over mucp).
    let _guarded = go_helloworld(
        go,
        &discovery,
        "mucp",
        "go-guarded",
        &["--auth_public_key", &public],
    );
    let client = micro::Client::builder()
        .registry(discovery.registry.clone())
        .build()
        .expect("client");
    let guarded = HelloworldClient::new(client).with_service("go-guarded");
    let whoami = || {
        guarded.greeting(Request {
            name: "whoami".into(),
        })
    };
    let status = whoami().await.expect_err("no token, no greeting");
    assert_eq!(
        micro::errors::Error::from_status(&status, "x").code,
        401,
        "{status:?}"
    );
    let reply = whoami()
        .metadata("authorization", &format!("Bearer {rust_token}"))
        .await
        .expect("the Go service accepts micro-rs's token");
    assert_eq!(reply.message, "account=crab");
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_with_go_v4_both_ways() {
    jwt_both_ways(Go::V4).await;
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_with_go_v5_both_ways() {
    jwt_both_ways(Go::V5).await;
}

/// go-micro v5's own CLI (`micro`) lists micro-rs helloworld, describes its endpoints from the
/// registry and calls it (over mDNS: v5's `micro services` reads only the default registry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_micro_v5_cli_lists_describes_and_calls_micro_rs_over_mdns() {
    if !in_network_namespace() {
        return run_in_network_namespace(
            "go_micro_v5_cli_lists_describes_and_calls_micro_rs_over_mdns",
        );
    }
    let Some(micro_cli) = Go::V5.program("micro") else {
        return;
    };
    let discovery = Discovery::mdns();
    let service = rust_helloworld(&discovery.registry).await;
    let cli = |args: &[&str]| {
        let (program, args) = (micro_cli.clone(), strings(args));
        async move {
            tokio::task::spawn_blocking(move || Command::new(program).args(args).output())
                .await
                .expect("ran")
                .expect("micro runs")
        }
    };
    let listed = cli(&["services"]).await;
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.lines().any(|line| line == "helloworld"), "{listed}");
    let described = cli(&["describe", "helloworld"]).await;
    let described: Value = serde_json::from_slice(&described.stdout).expect("describe prints JSON");
    assert_eq!(
        described["endpoints"][0]["name"], "Helloworld.Greeting",
        "{described}"
    );
    let called = cli(&[
        "call",
        "helloworld",
        "Helloworld.Greeting",
        r#"{"name":"alice"}"#,
    ])
    .await;
    let called: Value = serde_json::from_slice(&called.stdout).expect("call prints JSON");
    assert_eq!(called, json!({"message": "Hello alice"}));
    service.stop().await.expect("stops");
}

/// `micro gateway` in front of Go helloworlds, which serve no gRPC reflection: curl's JSON
/// reaches them as is (over mucp and over gRPC), go-micro's errors come back with their HTTP
/// status, and what the registry does not list is refused by the gateway itself; the
/// dashboard's call form reaches them too.
async fn gateway_calls_go(go: Go, discovery: Discovery) {
    let Some(curl) = micro_test_support::tool("MICRO_TEST_CURL", "curl") else {
        return;
    };
    if go.program("helloworld").is_none() {
        return;
    }
    let _mucp = go_helloworld(go, &discovery, "mucp", "go-helloworld-mucp", &[]);
    let _grpc = go_helloworld(go, &discovery, "grpc", "go-helloworld-grpc", &[]);
    let cli = micro_cli::Cli::parse_from(["micro", "--timeout", "10s", "gateway"]);
    let env = micro_cli::Env::with_registry(&cli.global, discovery.registry.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", listener.local_addr().unwrap());
    let gateway_down = micro_cli::gateway::Gateway::new(env).run(listener, std::future::pending());
    tokio::spawn(gateway_down);
    let post = |path: String, body: &str| {
        let (curl, body) = (curl.clone(), body.to_owned());
        let url = format!("{gateway}{path}");
        tokio::task::spawn_blocking(move || {
            let output = Command::new(curl)
                .args([
                    "-sS",
                    "-w",
                    "\n%{http_code}",
                    "-H",
                    "Content-Type: application/json",
                ])
                .args(["-d", &body, &url])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            let (body, code) = text.rsplit_once('\n').unwrap();
            let body: Value = serde_json::from_str(body).unwrap_or(Value::String(body.into()));
            (body, code.parse::<u16>().unwrap())
        })
    };
    for name in ["go-helloworld-mucp", "go-helloworld-grpc"] {
        let path = |endpoint: &str| format!("/{name}/{endpoint}");
        let (body, code) = post(path("Helloworld.Greeting"), r#"{"name":"alice"}"#)
            .await
            .unwrap();
        assert_eq!(
            (code, &body),
            (200, &json!({"message": "Hello alice"})),
            "{go:?} {name}"
        );
        // go-micro's v6 gateway path, and its classic API's (the method alone, any case).
        for path in [format!("/api/{name}/Helloworld/Greeting"), path("greeting")] {
            let (body, code) = post(path.clone(), r#"{"name":"bob"}"#).await.unwrap();
            assert_eq!(
                (code, &body["message"]),
                (200, &json!("Hello bob")),
                "{go:?} {name} {path}"
            );
        }
        let (body, code) = post(path("Helloworld.Greeting"), r#"{"name":"error"}"#)
            .await
            .unwrap();
        assert_eq!(code, 409, "{go:?} {name}: {body}");
        assert_eq!(
            (&body["id"], &body["detail"]),
            (&json!("helloworld"), &json!("no greeting for error")),
            "{go:?} {name}"
        );
        let (body, code) = post(path("Helloworld.Greeting"), "{not json")
            .await
            .unwrap();
        assert_eq!(code, 400, "{go:?} {name}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("not valid JSON"),
            "{body}"
        );
        let (body, code) = post(path("Helloworld.Nothing"), "{}").await.unwrap();
        assert!(code == 404 || code == 501, "{go:?} {name}: {code} {body}");
        // The dashboard's call form (mounted on the gateway) reaches it the same way.
        let call = format!(
            r#"{{"service":"{name}","endpoint":"Helloworld.Greeting","request":{{"name":"carol"}}}}"#
        );
        let (body, code) = post("/dashboard/api/call".into(), &call).await.unwrap();
        assert_eq!(
            (code, &body),
            (200, &json!({"message": "Hello carol"})),
            "{go:?} {name}"
        );
    }
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_calls_go_v4_without_reflection() {
    with_etcd(|discovery| gateway_calls_go(Go::V4, discovery)).await;
}

#[cfg(feature = "full")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_calls_go_v5_without_reflection() {
    with_etcd(|discovery| gateway_calls_go(Go::V5, discovery)).await;
}
