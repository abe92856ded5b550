//! OpenTelemetry export to a real receiver (Jaeger v2, built by scripts/build-peers.sh): three
//! services A → B → C, each its own process configured only by `OTEL_*` variables, send their
//! spans over OTLP/gRPC or OTLP/HTTP; Jaeger's query API must hold one trace per call with the
//! client → server links across the hops (each attempt naming the node it called), the retry
//! attempt, error status where C failed, C's broker publish → delivery and its event publish →
//! consume. The same services' RPC metrics must arrive over OTLP too, as Jaeger's `debug`
//! exporter prints them: every `OTEL_METRIC_EXPORT_INTERVAL`, and when a service stops.
//!
//! The services run as child processes of this test binary (the `hop` test, in the mode
//! `MICRO_OTEL_HOP` asks for), since the exporter reads the process environment.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use micro::broker::MemoryBroker;
use micro::events::{ConsumeOptions, EventStream, Offset, PublishOptions};
use micro::registry::MemoryRegistry;
use micro::{Client, Context, Service, Status};
use micro_test_support::JaegerServer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Request {
    fail: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reply {
    path: String,
}

/// A hop: relays to the next service if there is one, else answers (failing if asked, and
/// publishing a message its own subscriber gets and an event its own consumer gets).
struct Hop {
    name: String,
    /// The next service's name and address.
    next: Option<(String, String)>,
    client: Client,
    stream: Arc<dyn EventStream>,
    /// Told when the consumer acked an event.
    consumed: Arc<tokio::sync::Notify>,
}

#[micro::handler]
impl Hop {
    async fn relay(&self, _ctx: Context, request: Request) -> Result<Reply, Status> {
        let Some((next, address)) = &self.next else {
            if request.fail {
                return Err(Status::internal("c was asked to fail"));
            }
            let note = serde_json::json!({ "from": self.name });
            self.client
                .publish("hops", &micro::codec::Json(note.clone()))
                .await
                .map_err(|err| Status::internal(err.to_string()))?;
            // The event's consumer span ends when it is acked: before the call returns, so
            // that stopping flushes it.
            let consumed = self.consumed.notified();
            self.stream
                .publish(
                    "hop-events",
                    note.to_string().into(),
                    PublishOptions::default(),
                )
                .await
                .map_err(|err| Status::internal(err.to_string()))?;
            tokio::time::timeout(Duration::from_secs(10), consumed)
                .await
                .map_err(|_| Status::internal("the event was not consumed"))?;
            return Ok(Reply {
                path: self.name.clone(),
            });
        };
        let reply: Reply = self
            .client
            .call(next, "Hop.Relay", request)
            .address(address)
            .await?;
        Ok(Reply {
            path: format!("{} {}", self.name, reply.path),
        })
    }
}

/// Runs a hop service when a parent test started this binary for one; else does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop() {
    let Ok(name) = std::env::var("MICRO_OTEL_HOP") else {
        return;
    };
    let next = std::env::var("MICRO_OTEL_HOP_NEXT").ok().and_then(|next| {
        let (name, address) = next.split_once('@')?;
        Some((name.to_owned(), address.to_owned()))
    });
    let service = Service::new(name.clone())
        .address("127.0.0.1:0")
        .registry(Arc::new(MemoryRegistry::new()))
        .broker(Arc::new(MemoryBroker::new()))
        .subscribe(
            "hops",
            |_ctx: Context, _note: micro::codec::Json<Value>| async { Ok::<_, Status>(()) },
        );
    let client = service.client().unwrap();
    let stream = service.stream().unwrap();
    let consumed = Arc::new(tokio::sync::Notify::new());
    let options = ConsumeOptions::default()
        .group(name.clone())
        .offset(Offset::Start);
    let mut consumer = stream.consume("hop-events", options).await.unwrap();
    let notify = consumed.clone();
    tokio::spawn(async move {
        while let Some(event) = consumer.next().await {
            event.ack().await.unwrap();
            notify.notify_one();
        }
    });
    let hop = Hop {
        name,
        next,
        client,
        stream,
        consumed,
    };
    let running = service.handle(hop).start().await.unwrap();
    println!("HOP-LISTENING {}", running.local_addr());
    // Until the parent closes stdin; then stop, which sends the queued spans.
    tokio::task::spawn_blocking(|| std::io::stdin().lines().count())
        .await
        .unwrap();
    running.stop().await.unwrap();
}

/// A hop process, stopped (spans flushed) when its stdin closes.
struct HopProcess {
    child: Child,
    stdout: BufReader<ChildStdout>,
    address: String,
}

impl HopProcess {
    fn start(name: &str, next: Option<&str>, otel: &[(&str, String)]) -> HopProcess {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["hop", "--exact", "--nocapture", "--test-threads=1"])
            .env("MICRO_OTEL_HOP", name)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .envs(otel.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some(next) = next {
            command.env("MICRO_OTEL_HOP_NEXT", next);
        }
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // libtest may print `test hop ... ` before it on the same line.
        let address = loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                panic!("hop {name} exited before listening");
            }
            if let Some((_, address)) = line.split_once("HOP-LISTENING ") {
                break address.trim().to_owned();
            }
        };
        HopProcess {
            child,
            stdout,
            address,
        }
    }

    /// Closes stdin and waits for the hop to stop.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the hop exited with {status}: {rest}");
    }
}

impl Drop for HopProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One span, as Jaeger's query API returns it.
#[derive(Debug)]
struct Span {
    id: String,
    parent: Option<String>,
    service: String,
    name: String,
    tags: HashMap<String, Value>,
}

impl Span {
    fn tag(&self, key: &str) -> Option<&Value> {
        self.tags.get(key)
    }

    fn kind(&self) -> &str {
        self.tag("span.kind").and_then(Value::as_str).unwrap_or("")
    }

    fn failed(&self) -> bool {
        self.tag("error") == Some(&Value::Bool(true))
    }
}

/// The traces Jaeger holds for `service`, each as its spans.
fn traces(jaeger: &JaegerServer, service: &str) -> Vec<Vec<Span>> {
    let body = jaeger.query(&format!("/api/traces?service={service}&limit=50"));
    let json: Value = serde_json::from_str(&body).unwrap();
    let mut traces = Vec::new();
    for trace in json["data"].as_array().into_iter().flatten() {
        let processes = &trace["processes"];
        let spans = trace["spans"].as_array().into_iter().flatten().map(|span| {
            let process = span["processID"].as_str().unwrap_or_default();
            let parent = span["references"].as_array().and_then(|refs| {
                refs.iter()
                    .find(|r| r["refType"] == "CHILD_OF")
                    .and_then(|r| r["spanID"].as_str().map(str::to_owned))
            });
            let tags = span["tags"].as_array().into_iter().flatten().map(|tag| {
                let key = tag["key"].as_str().unwrap_or_default().to_owned();
                (key, tag["value"].clone())
            });
            Span {
                id: span["spanID"].as_str().unwrap_or_default().to_owned(),
                parent,
                service: processes[process]["serviceName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                name: span["operationName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                tags: tags.collect(),
            }
        });
        traces.push(spans.collect());
    }
    traces
}

/// Polls Jaeger until it holds `spans` spans in the traces of `service`.
fn wait_for_traces(jaeger: &JaegerServer, service: &str, spans: usize) -> Vec<Vec<Span>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = traces(jaeger, service);
        if found.iter().map(Vec::len).sum::<usize>() >= spans {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "jaeger holds {:?} spans in the traces of {service}, not {spans}",
            found.iter().map(Vec::len).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The one span of `service` of `kind` in `trace` named `name`.
fn find<'a>(trace: &'a [Span], service: &str, kind: &str, name: &str) -> &'a Span {
    let mut matching = trace
        .iter()
        .filter(|span| span.service == service && span.kind() == kind && span.name == name);
    let span = matching
        .next()
        .unwrap_or_else(|| panic!("no {kind} span {name} of {service} in {trace:#?}"));
    assert!(
        matching.next().is_none(),
        "two {kind} spans {name} of {service}"
    );
    span
}

/// Runs A → B → C with `protocol`, a call that succeeds and one that C fails, and checks the
/// traces Jaeger received.
async fn three_hops(protocol: &str) {
    let Some(jaeger) = JaegerServer::start() else {
        return;
    };
    let endpoint = match protocol {
        "grpc" => jaeger.otlp_grpc(),
        _ => jaeger.otlp_http(),
    };
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
    ];
    let c = HopProcess::start("c", None, &otel);
    let b = HopProcess::start("b", Some(&format!("c@{}", c.address)), &otel);
    let a = HopProcess::start("a", Some(&format!("b@{}", b.address)), &otel);
    let (b_address, c_address) = (b.address.clone(), c.address.clone());

    let client = Client::connect(&a.address).unwrap();
    let reply: Reply = client
        .call("a", "Hop.Relay", Request { fail: false })
        .await
        .unwrap();
    assert_eq!(reply.path, "a b c");
    let failed = client
        .call::<_, Reply>("a", "Hop.Relay", Request { fail: true })
        .await
        .unwrap_err();
    assert!(
        failed.message().contains("c was asked to fail"),
        "{failed:?}"
    );
    for hop in [a, b, c] {
        hop.stop();
    }

    // The call that succeeded: A's server span → A's attempt → B's server span → B's attempt
    // → C's server span → C's publish → C's delivery, and C's event publish → its consumer;
    // the failed one publishes nothing.
    let traces = wait_for_traces(&jaeger, "a", 9 + 5);
    assert_eq!(traces.len(), 2, "one trace per call");
    let (ok, failed): (Vec<_>, Vec<_>) = traces.into_iter().partition(|trace| trace.len() == 9);
    let (ok, failed) = (&ok[0], &failed[0]);
    assert_eq!(failed.len(), 5, "{failed:#?}");
    for trace in [ok, failed] {
        // Servers name the method as they serve it (a proto-less handler's package is its
        // type's name); clients as they called it (the package is the service's name).
        let a_server = find(trace, "a", "server", "hop.Hop/Relay");
        let a_client = find(trace, "a", "client", "b.Hop/Relay");
        let b_server = find(trace, "b", "server", "hop.Hop/Relay");
        let b_client = find(trace, "b", "client", "c.Hop/Relay");
        let c_server = find(trace, "c", "server", "hop.Hop/Relay");
        assert_eq!(a_server.parent, None, "the test's call started the trace");
        assert_eq!(a_client.parent.as_ref(), Some(&a_server.id));
        assert_eq!(b_server.parent.as_ref(), Some(&a_client.id));
        assert_eq!(b_client.parent.as_ref(), Some(&b_server.id));
        assert_eq!(c_server.parent.as_ref(), Some(&b_client.id));
        for (span, service) in [(a_server, "a"), (b_server, "b"), (c_server, "c")] {
            assert_eq!(span.tag("rpc.system"), Some(&Value::from("grpc")));
            assert_eq!(span.tag("rpc.service"), Some(&Value::from("hop.Hop")));
            assert_eq!(span.tag("micro.service"), Some(&Value::from(service)));
            assert_eq!(span.tag("rpc.method"), Some(&Value::from("Relay")));
            assert!(span.tag("server.port").is_some(), "{span:?}");
        }
        for (span, service, address) in [(a_client, "b", &b_address), (b_client, "c", &c_address)] {
            // The node the attempt called.
            let (host, port) = address.rsplit_once(':').unwrap();
            assert_eq!(span.tag("server.address"), Some(&Value::from(host)));
            let port: u16 = port.parse().unwrap();
            assert_eq!(span.tag("server.port"), Some(&Value::from(port)));
            assert_eq!(span.tag("micro.retry.attempt"), Some(&Value::from(0)));
            assert_eq!(span.tag("micro.service"), Some(&Value::from(service)));
            assert_eq!(
                span.tag("rpc.service"),
                Some(&Value::from(format!("{service}.Hop")))
            );
        }
    }
    for span in ok {
        assert!(!span.failed(), "{span:?}");
        if span.tag("rpc.system").is_some() {
            assert_eq!(span.tag("rpc.grpc.status_code"), Some(&Value::from(0)));
        }
    }
    // C failed with INTERNAL, and so did every call before it.
    for span in failed {
        assert!(span.failed(), "{span:?}");
        assert_eq!(span.tag("rpc.grpc.status_code"), Some(&Value::from(13)));
    }

    let c_server = find(ok, "c", "server", "hop.Hop/Relay");
    let publish = find(ok, "c", "producer", "publish hops");
    let deliver = find(ok, "c", "consumer", "process hops");
    assert_eq!(publish.parent.as_ref(), Some(&c_server.id));
    assert_eq!(deliver.parent.as_ref(), Some(&publish.id));
    assert_messaging(publish, deliver, "hops");

    // The event: published in C's call, its consumer's span the child of its publish.
    let publish = find(ok, "c", "producer", "publish hop-events");
    let consume = find(ok, "c", "consumer", "process hop-events");
    assert_eq!(publish.parent.as_ref(), Some(&c_server.id));
    assert_eq!(consume.parent.as_ref(), Some(&publish.id));
    assert_messaging(publish, consume, "hop-events");
    assert_eq!(
        consume.tag("messaging.consumer.group.name"),
        Some(&Value::from("c"))
    );
}

/// The messaging attributes of a message's `publish` and `process` spans on `topic`: the
/// memory backend's, one message id.
fn assert_messaging(publish: &Span, process: &Span, topic: &str) {
    for (span, operation) in [(publish, "publish"), (process, "process")] {
        assert_eq!(span.tag("messaging.system"), Some(&Value::from("memory")));
        assert_eq!(
            span.tag("messaging.destination.name"),
            Some(&Value::from(topic))
        );
        assert_eq!(
            span.tag("messaging.operation.type"),
            Some(&Value::from(operation))
        );
        assert!(!span.failed(), "{span:?}");
    }
    let id = publish.tag("messaging.message.id");
    assert!(
        id.is_some_and(|id| !id.as_str().unwrap_or("").is_empty()),
        "{publish:?}"
    );
    assert_eq!(process.tag("messaging.message.id"), id, "{process:?}");
}

#[tokio::test]
async fn three_hops_arrive_as_one_trace_over_otlp_grpc() {
    three_hops("grpc").await;
}

#[tokio::test]
async fn three_hops_arrive_as_one_trace_over_otlp_http() {
    three_hops("http/protobuf").await;
}

/// One histogram data point Jaeger's `debug` exporter printed.
#[derive(Debug, Default, Clone)]
struct Point {
    /// The sending service (`service.name`).
    service: String,
    metric: String,
    unit: String,
    attributes: HashMap<String, String>,
    count: u64,
}

/// The histogram points in Jaeger's log, oldest first, parsed from the `debug` exporter's
/// detailed text (`-> key: Str(value)` lines under `Resource attributes:`, `Descriptor:` and
/// `Data point attributes:`, then `Count: N`).
fn points(log: &str) -> Vec<Point> {
    #[derive(PartialEq)]
    enum Section {
        Resource,
        Descriptor,
        Point,
        Other,
    }
    let (mut points, mut section) = (Vec::new(), Section::Other);
    let mut current = Point::default();
    for line in log.lines() {
        let line = line.trim();
        if line.ends_with("Resource attributes:") {
            section = Section::Resource;
        } else if line.ends_with("Descriptor:") {
            section = Section::Descriptor;
        } else if line.starts_with("HistogramDataPoints #") {
            current.attributes.clear();
            current.count = 0;
        } else if line.ends_with("Data point attributes:") {
            section = Section::Point;
        } else if let Some(count) = line.strip_prefix("Count: ") {
            current.count = count.trim().parse().unwrap_or(0);
            points.push(current.clone());
            section = Section::Other;
        } else if let Some((key, value)) = line.strip_prefix("-> ").and_then(|l| l.split_once(": "))
        {
            // `Str(c)`, `Int(0)`; descriptor values are bare.
            let value = value
                .split_once('(')
                .filter(|_| section != Section::Descriptor)
                .map_or(value, |(_, value)| value.trim_end_matches(')'));
            match section {
                Section::Resource if key == "service.name" => current.service = value.to_owned(),
                Section::Descriptor if key == "Name" => current.metric = value.to_owned(),
                Section::Descriptor if key == "Unit" => current.unit = value.to_owned(),
                Section::Point => {
                    current.attributes.insert(key.to_owned(), value.to_owned());
                }
                _ => {}
            }
        }
    }
    points
}

/// The calls `service` reported in `metric` with `attributes`, as the latest point says
/// (cumulative counts).
fn count(points: &[Point], service: &str, metric: &str, attributes: &[(&str, &str)]) -> u64 {
    points
        .iter()
        .rev()
        .find(|point| {
            point.service == service
                && point.metric == metric
                && attributes.iter().all(|(key, value)| {
                    point.attributes.get(*key).map(String::as_str) == Some(value)
                })
        })
        .map_or(0, |point| {
            assert_eq!(point.unit, "s", "{point:?}");
            point.count
        })
}

/// Whether `log` reports B's and C's calls: each served one OK and one INTERNAL call, and B's
/// client made one of each to C.
fn reports_the_calls(log: &str) -> bool {
    let points = points(log);
    let served = "rpc.server.call.duration";
    let called = "rpc.client.call.duration";
    let ok = [("micro.status", "OK"), ("rpc.grpc.status_code", "0")];
    let failed = [("micro.status", "Internal"), ("rpc.grpc.status_code", "13")];
    [("b", served, "b"), ("c", served, "c"), ("b", called, "c")]
        .into_iter()
        .all(|(sender, metric, service)| {
            let of = |status: &[(&'static str, &'static str); 2]| {
                let mut attributes = vec![
                    ("rpc.system", "grpc"),
                    ("micro.service", service),
                    ("micro.endpoint", "Hop.Relay"),
                ];
                attributes.extend_from_slice(status);
                count(&points, sender, metric, &attributes)
            };
            of(&ok) == 1 && of(&failed) == 1
        })
}

/// Runs B → C with metrics exported over `protocol` every `interval` ms, makes one call that
/// succeeds and one that C fails, and returns Jaeger and the still running hops.
async fn two_hops_with_metrics(
    protocol: &str,
    interval: &str,
) -> Option<(JaegerServer, HopProcess, HopProcess)> {
    let jaeger = JaegerServer::start()?;
    let endpoint = match protocol {
        "grpc" => jaeger.otlp_grpc(),
        _ => jaeger.otlp_http(),
    };
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        ("OTEL_METRIC_EXPORT_INTERVAL", interval.to_owned()),
    ];
    let c = HopProcess::start("c", None, &otel);
    let b = HopProcess::start("b", Some(&format!("c@{}", c.address)), &otel);
    let client = Client::connect(&b.address).unwrap();
    let reply: Reply = client
        .call("b", "Hop.Relay", Request { fail: false })
        .await
        .unwrap();
    assert_eq!(reply.path, "b c");
    client
        .call::<_, Reply>("b", "Hop.Relay", Request { fail: true })
        .await
        .unwrap_err();
    Some((jaeger, b, c))
}

/// Polls Jaeger's log until it reports the calls.
fn wait_for_metrics(jaeger: &JaegerServer) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reports_the_calls(&jaeger.log()) {
        assert!(
            Instant::now() < deadline,
            "jaeger did not receive the call metrics; its log:\n{}",
            jaeger.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn metrics_arrive_every_export_interval_over_otlp_grpc() {
    let Some((jaeger, b, c)) = two_hops_with_metrics("grpc", "200").await else {
        return;
    };
    // Both services still run: only the periodic export can have sent them.
    wait_for_metrics(&jaeger);
    b.stop();
    c.stop();
}

#[tokio::test]
async fn metrics_are_flushed_when_the_service_stops_over_otlp_http() {
    // An interval no test waits for: only stopping sends the metrics.
    let Some((jaeger, b, c)) = two_hops_with_metrics("http/protobuf", "600000").await else {
        return;
    };
    assert!(
        !reports_the_calls(&jaeger.log()),
        "metrics arrived before the interval or the stop"
    );
    b.stop();
    c.stop();
    wait_for_metrics(&jaeger);
}
