//! Streams through the API gateway (run in-process through `micro_cli`) to the `streaming`
//! example registered in a real etcd: `curl -N` reads Streamer.Count as Server-Sent Events
//! (POST with JSON, GET with a query, `/api`, `/rpc`), errors before the first event are
//! go-micro JSON with their status and errors after it an `event: error`; a client hanging
//! up cancels the call upstream; headless Chromium opens an `EventSource` and WebSockets on
//! every kind of method, on method paths and on google.api.http rule paths of the
//! `greeter-http` example (`tests/gateway_stream/browser.mjs`).

#![cfg(feature = "full")]

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use examples::streaming::{
    CountReply, CountRequest, Number, PingReply, PingRequest, StreamerHandler, StreamerServer,
    SumReply, Words,
};
use micro::registry::{EtcdOptions, EtcdRegistry, Registry};
use micro::{Context, Sender, Service, Status, Streaming};
use micro_cli::gateway::{Gateway, Origins};
use micro_test_support::{EtcdServer, tool};
use serde_json::{Value, json};
use support::{Example, GatewayFleet, playwright};

const STREAMING: &str = env!("CARGO_BIN_EXE_streaming");
const GREETER: &str = env!("CARGO_BIN_EXE_greeter-http");

/// etcd, the streaming and greeter-http examples registered in it, and a gateway in front.
struct Setup {
    fleet: GatewayFleet,
    _services: [Example; 2],
}

impl Setup {
    /// `None` (the test skips) without etcd.
    async fn start() -> Option<Setup> {
        let fleet = GatewayFleet::start(&["--timeout", "10s"]).await?;
        let streaming = fleet.service(STREAMING, "streaming", 1).await;
        let greeter = fleet.service(GREETER, "greeter", 1).await;
        Some(Setup {
            fleet,
            _services: [streaming, greeter],
        })
    }

    fn url(&self, path: &str) -> String {
        self.fleet.url(path)
    }
}

/// What curl received: the body, the status and the content type.
struct Answer {
    body: String,
    status: u16,
    content_type: String,
}

/// `curl -N` (no buffering) with `args`, bounded by `--max-time`.
fn curl(curl: &Path, args: &[&str]) -> Answer {
    let output = Command::new(curl)
        .args(["-sS", "-N", "--max-time", "20"])
        .args(["-w", "\n%{http_code} %{content_type}"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, trailer) = text.rsplit_once('\n').unwrap();
    let (status, content_type) = trailer.split_once(' ').unwrap_or((trailer, ""));
    Answer {
        body: body.to_owned(),
        status: status.parse().unwrap(),
        content_type: content_type.to_owned(),
    }
}

fn post(curl_bin: &Path, url: &str, json: &str) -> Answer {
    curl(
        curl_bin,
        &["-H", "Content-Type: application/json", "-d", json, url],
    )
}

/// The event stream of Count's `numbers`, as the gateway writes it.
fn count_events(numbers: std::ops::RangeInclusive<u32>) -> String {
    let mut events: String = numbers
        .map(|n| format!("data: {{\"number\":{n}}}\n\n"))
        .collect();
    events.push_str("event: end\ndata: {}\n\n");
    events
}

/// An answer of go-micro error JSON with HTTP status `code`, its detail naming `needles`.
fn assert_error(answer: &Answer, code: u16, needles: &[&str]) {
    assert_eq!(answer.status, code, "{}", answer.body);
    assert_eq!(answer.content_type, "application/json", "{}", answer.body);
    let json: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(json["code"], code, "{}", answer.body);
    let detail = json["detail"].as_str().unwrap_or_default();
    for needle in needles {
        assert!(detail.contains(needle), "`{needle}` not in {}", answer.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_reads_a_server_stream_as_events_in_every_path_style() {
    let Some(curl_bin) = tool("MICRO_TEST_CURL", "curl") else {
        return;
    };
    let Some(setup) = Setup::start().await else {
        return;
    };
    let three = count_events(1..=3);
    let streams = [
        post(
            &curl_bin,
            &setup.url("/streaming/Streamer.Count"),
            r#"{"to":3}"#,
        ),
        post(
            &curl_bin,
            &setup.url("/api/streaming/Streamer/Count"),
            r#"{"to":3}"#,
        ),
        curl(&curl_bin, &[&setup.url("/streaming/Streamer.Count?to=3")]),
        curl(
            &curl_bin,
            &[&setup.url("/api/streaming/Streamer.Count?to=3")],
        ),
        post(
            &curl_bin,
            &setup.url("/rpc"),
            r#"{"service":"streaming","endpoint":"Streamer.Count","request":{"to":3}}"#,
        ),
    ];
    for answer in &streams {
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.content_type, "text/event-stream");
        assert_eq!(answer.body, three);
    }
    // A stream of no replies is just its end.
    let empty = curl(&curl_bin, &[&setup.url("/streaming/Streamer.Count?to=0")]);
    assert_eq!(empty.body, "event: end\ndata: {}\n\n");
    // A google.api.http rule's route: the path's variable is the request, and each event is
    // the reply's `response_body` field alone.
    let countdown = curl(&curl_bin, &[&setup.url("/v1/countdown/2")]);
    assert_eq!(countdown.content_type, "text/event-stream");
    assert_eq!(
        countdown.body,
        "data: {\"remaining\":2}\n\ndata: {\"remaining\":1}\n\nevent: end\ndata: {}\n\n"
    );
    let too_far = curl(&curl_bin, &[&setup.url("/v1/countdown/5000")]);
    assert_error(&too_far, 400, &["at most 1000"]);
    // A rule of a client stream takes its requests as a body of JSON messages, each put
    // where the rule puts the body; a bidirectional stream answers them with events.
    let votes = post(
        &curl_bin,
        &setup.url("/v1/polls/lunch/votes"),
        "\"tea\"\n\"tea\"\n",
    );
    assert_eq!(
        (votes.body.as_str(), votes.status),
        (r#"{"poll":"lunch","votes":{"tea":2},"total":2}"#, 200)
    );
    let lines = post(
        &curl_bin,
        &setup.url("/v1/rooms/den/lines"),
        "{\"text\":\"hi\"}",
    );
    assert_eq!(lines.content_type, "text/event-stream");
    assert_eq!(
        lines.body,
        "data: {\"room\":\"den\",\"text\":\"[den] hi\"}\n\nevent: end\ndata: {}\n\n"
    );
    let shouted = post(
        &curl_bin,
        &setup.url("/streaming/Streamer.Shout"),
        "{\"text\":\"a\"} {\"text\":\"b\"}",
    );
    assert_eq!(
        shouted.body,
        "data: {\"text\":\"A\"}\n\ndata: {\"text\":\"B\"}\n\nevent: end\ndata: {}\n\n"
    );
    // Unary methods answer JSON as before.
    let ping = post(
        &curl_bin,
        &setup.url("/streaming/Streamer.Ping"),
        r#"{"text":"hi"}"#,
    );
    assert_eq!((ping.body.as_str(), ping.status), (r#"{"text":"hi"}"#, 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_errors_are_statuses_before_the_first_event_and_error_events_after() {
    let Some(curl_bin) = tool("MICRO_TEST_CURL", "curl") else {
        return;
    };
    let Some(setup) = Setup::start().await else {
        return;
    };
    let unknown = curl(&curl_bin, &[&setup.url("/nosuch/Foo.Count?to=3")]);
    assert_error(&unknown, 404, &["nosuch", "not registered"]);
    let bad_json = post(
        &curl_bin,
        &setup.url("/streaming/Streamer.Count"),
        r#"{"to":"#,
    );
    assert_error(&bad_json, 400, &["JSON"]);
    let bad_number = curl(
        &curl_bin,
        &[&setup.url("/streaming/Streamer.Count?to=many")],
    );
    assert_error(&bad_number, 400, &["to"]);
    let bad_field = curl(
        &curl_bin,
        &[&setup.url("/streaming/Streamer.Count?colour=red")],
    );
    assert_error(&bad_field, 400, &["colour", "interval_ms"]);
    // GET reaches only server streams. A streamed request that is not JSON, or not the
    // method's, fails the POST before the call, naming the message.
    let unary = curl(&curl_bin, &[&setup.url("/streaming/Streamer.Ping?text=hi")]);
    assert_error(&unary, 405, &["Streamer.Ping", "POST"]);
    let sum = setup.url("/streaming/Streamer.Sum");
    let not_json = post(&curl_bin, &sum, "{\"value\":1}\n{\"value\":");
    assert_error(&not_json, 400, &["request message 2 is not JSON"]);
    let wrong_field = post(&curl_bin, &sum, "{\"value\":1}\n{\"values\":2}");
    assert_error(&wrong_field, 400, &["request message 2", "values"]);

    // A WebSocket opened by a page of another origin (browsers send `Origin`).
    let handshake = [
        "-H",
        "Connection: Upgrade",
        "-H",
        "Upgrade: websocket",
        "-H",
        "Sec-WebSocket-Version: 13",
        "-H",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "-H",
        "Origin: http://elsewhere.example",
    ];
    let shout = setup.url("/streaming/Streamer.Shout");
    let foreign = curl(&curl_bin, &[&handshake[..], &[shout.as_str()]].concat());
    assert_error(&foreign, 403, &["elsewhere.example", "own origin"]);

    // The gateway's deadline passes after a few numbers: an `error` event ends the stream.
    let impatient = support::start_gateway(&setup.fleet.etcd.address(), &["--timeout", "1s"]).await;
    let slow = format!("{impatient}/streaming/Streamer.Count?to=100&interval_ms=200");
    let answer = curl(&curl_bin, &[&slow]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let events: Vec<&str> = answer.body.split_terminator("\n\n").collect();
    let (last, numbers) = events.split_last().unwrap();
    assert!(!numbers.is_empty() && numbers.len() < 10, "{}", answer.body);
    for (n, event) in numbers.iter().enumerate() {
        assert_eq!(*event, format!("data: {{\"number\":{}}}", n + 1));
    }
    let error = last
        .strip_prefix("event: error\ndata: ")
        .unwrap_or_else(|| panic!("no error event last: {}", answer.body));
    let error: Value = serde_json::from_str(error).unwrap();
    assert_eq!(error["code"], 504, "{error}");
    assert_eq!(error["id"], "streaming", "{error}");
}

/// Streamer.Count that counts forever and says when its call was cancelled (the server drops
/// the handler of a call its client gave up on, so a drop guard tells).
#[derive(Clone, Default)]
struct Endless(Arc<Counters>);

#[derive(Default)]
struct Counters {
    sent: AtomicU32,
    cancelled: AtomicBool,
}

/// Marks the call cancelled when the handler ends, whether it returned or was dropped.
struct Cancelled<'a>(&'a Counters);

impl Drop for Cancelled<'_> {
    fn drop(&mut self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
    }
}

impl StreamerHandler for Endless {
    async fn ping(&self, _ctx: Context, request: PingRequest) -> Result<PingReply, Status> {
        Ok(PingReply { text: request.text })
    }

    async fn count(
        &self,
        _ctx: Context,
        _request: CountRequest,
        responses: Sender<CountReply>,
    ) -> Result<(), Status> {
        let _cancelled = Cancelled(&self.0);
        for number in 1.. {
            responses.send(CountReply { number }).await?;
            self.0.sent.store(number, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    async fn sum(&self, _ctx: Context, _numbers: Streaming<Number>) -> Result<SumReply, Status> {
        Err(Status::unimplemented("not counted here"))
    }

    async fn shout(
        &self,
        _ctx: Context,
        _words: Streaming<Words>,
        _responses: Sender<Words>,
    ) -> Result<(), Status> {
        Err(Status::unimplemented("not shouted here"))
    }
}

/// curl, etcd and the `Endless` streamer registered in it, for the cancellation tests.
struct EndlessSetup {
    curl: std::path::PathBuf,
    etcd: EtcdServer,
    endless: Endless,
    _service: micro::RunningService,
}

impl EndlessSetup {
    /// `None` (the test skips) without curl or etcd.
    async fn start() -> Option<EndlessSetup> {
        let curl = tool("MICRO_TEST_CURL", "curl")?;
        let etcd = EtcdServer::start()?;
        let registry: Arc<dyn Registry> =
            Arc::new(EtcdRegistry::new(EtcdOptions::from_addresses(&[
                etcd.address()
            ])));
        let endless = Endless::default();
        let service = Service::new("endless")
            .address("127.0.0.1:0")
            .registry(registry)
            .handle(StreamerServer::new(endless.clone()))
            .start()
            .await
            .expect("the endless service starts");
        Some(EndlessSetup {
            curl,
            etcd,
            endless,
            _service: service,
        })
    }

    fn sent(&self) -> u32 {
        self.endless.0.sent.load(Ordering::SeqCst)
    }

    /// Waits (5 s at most) for the call to be cancelled upstream.
    async fn assert_cancelled(&self) {
        let started = tokio::time::Instant::now();
        while !self.endless.0.cancelled.load(Ordering::SeqCst) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the service kept streaming after the client left ({} sent)",
                self.sent()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_hanging_up_cancels_the_call_upstream() {
    let Some(setup) = EndlessSetup::start().await else {
        return;
    };
    let gateway = support::start_gateway(&setup.etcd.address(), &["--timeout", "60s"]).await;
    // curl gives up after a second, mid-stream.
    let output = Command::new(&setup.curl)
        .args(["-sS", "-N", "--max-time", "1"])
        .arg(format!("{gateway}/endless/Streamer.Count"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(28), "curl timed out");
    let body = String::from_utf8_lossy(&output.stdout);
    assert!(body.starts_with("data: {\"number\":1}\n\n"), "{body}");
    setup.assert_cancelled().await;
    // Nothing is sent after the cancel.
    let sent = setup.sent();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(setup.sent(), sent);
}

/// A stop waits for an event stream under way no longer than the drain timeout, then closes
/// it, which cancels the call upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_closes_event_streams_still_open_after_the_drain_timeout() {
    let Some(setup) = EndlessSetup::start().await else {
        return;
    };
    let env = support::gateway_env(&setup.etcd.address(), &["--timeout", "60s"]);
    let drain = Duration::from_millis(500);
    let gateway = Gateway::new(env).with_drain_timeout(drain);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let url = format!("http://{address}/endless/Streamer.Count");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(gateway.run(listener, async {
        let _ = stopped.await;
    }));
    let curl = Command::new(&setup.curl)
        .args(["-sS", "-N", "--max-time", "30", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = tokio::time::Instant::now();
    while setup.sent() == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "no event sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let stopping = tokio::time::Instant::now();
    let served = tokio::time::timeout(Duration::from_secs(10), running).await;
    let took = stopping.elapsed();
    let served = served.expect("the gateway stops despite the open stream");
    served.unwrap().unwrap();
    assert!(
        took >= drain - Duration::from_millis(50),
        "{took:?}: it waited for the stream first"
    );
    let output = tokio::task::spawn_blocking(|| curl.wait_with_output());
    let output = output.await.unwrap().unwrap();
    // The stream was cut, not ended (curl 18: transfer closed with data outstanding).
    let body = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(18), "{stderr}");
    assert!(body.starts_with("data: {\"number\":1}\n\n"), "{body}");
    setup.assert_cancelled().await;
}

/// Runs the browser script against `gateway`, with `others` (`{open, closed}`: gateways on
/// another origin); its JSON result line.
fn drive(modules: &Path, chromium: &Path, gateway: &str, others: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gateway_stream/browser.mjs");
    let output = Command::new("node")
        .arg(script)
        .arg(modules)
        .arg(chromium)
        .arg(gateway)
        .arg(others.to_string())
        .output()
        .expect("node runs (scripts/test.sh installs it)");
    support::driver_result(&output)
}

fn parsed(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

/// A socket's outcome: the frames, the close code, and whether the close was clean.
fn closed(result: &Value, name: &str) -> (Vec<Value>, u64) {
    let seen = &result[name];
    assert_eq!(seen["clean"], true, "{name}: {seen}");
    let frames = seen["frames"].as_array().cloned().unwrap_or_default();
    (frames, seen["code"].as_u64().unwrap_or_default())
}

/// The last frame is go-micro's error JSON with `code`, and the close code says so.
fn assert_failed(result: &Value, name: &str, code: u64, needle: &str) {
    let (frames, close) = closed(result, name);
    assert_eq!(close, 4000 + code, "{name}: {}", result[name]);
    let error = frames.last().unwrap();
    assert_eq!(error["code"], code, "{name}: {error}");
    let detail = error["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(needle), "{name}: `{needle}` not in {error}");
    let reason = result[name]["reason"].as_str().unwrap_or_default();
    assert!(
        !reason.is_empty() && detail.starts_with(reason),
        "{name}: {reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_streams_with_event_source_and_websockets() {
    let (Some(modules), Some(chromium)) = (playwright(), tool("MICRO_TEST_CHROMIUM", "chromium"))
    else {
        return;
    };
    let Some(setup) = Setup::start().await else {
        return;
    };
    let gateway = setup.fleet.gateway.clone();
    // Another origin (`localhost` for `127.0.0.1`): a gateway open to the page's origin, and
    // the same gateway as the page's, which is not.
    let other_origin = |url: &str| url.replace("127.0.0.1", "localhost");
    let env = support::gateway_env(&setup.fleet.etcd.address(), &["--timeout", "10s"]);
    let origins = Origins::parse(std::slice::from_ref(&gateway)).unwrap();
    let open = support::serve_gateway(Gateway::new(env).with_origins(origins)).await;
    let others = json!({"open": other_origin(&open), "closed": other_origin(&gateway)});
    let result = tokio::task::spawn_blocking(move || drive(&modules, &chromium, &gateway, &others))
        .await
        .unwrap();
    eprintln!("browser: {result}");

    assert_eq!(
        result["count"]["messages"],
        json!([{"number": 1}, {"number": 2}, {"number": 3}])
    );
    assert_eq!(result["count"]["end"], "{}");
    assert_eq!(result["count"]["error"], Value::Null);
    assert_eq!(result["empty"]["messages"], json!([]));
    assert_eq!(result["empty"]["end"], "{}");

    let (frames, code) = closed(&result, "shout");
    assert_eq!(code, 1000);
    assert_eq!(
        Value::Array(frames),
        parsed(r#"[{"text":"HELLO"},{"text":"WORLD"}]"#)
    );
    let (frames, code) = closed(&result, "sum");
    assert_eq!(code, 1000);
    assert_eq!(
        Value::Array(frames),
        parsed(r#"[{"total":"42","count":3}]"#)
    );
    let (frames, code) = closed(&result, "countOverWebSocket");
    assert_eq!(code, 1000);
    assert_eq!(
        Value::Array(frames),
        parsed(r#"[{"number":1},{"number":2}]"#)
    );
    // An empty first frame on a method's path sends the query's request, as events do.
    let (frames, code) = closed(&result, "countFromQuery");
    assert_eq!(code, 1000);
    assert_eq!(
        Value::Array(frames),
        parsed(r#"[{"number":1},{"number":2}]"#)
    );
    let (frames, code) = closed(&result, "ping");
    assert_eq!(code, 1000);
    assert_eq!(Value::Array(frames), parsed(r#"[{"text":"unary"}]"#));

    // A malformed frame: an error frame and 4400; the next socket works.
    assert_failed(&result, "malformed", 400, "message 2");
    let (frames, code) = closed(&result, "afterMalformed");
    assert_eq!(code, 1000);
    assert_eq!(Value::Array(frames), parsed(r#"[{"text":"AGAIN"}]"#));
    assert_failed(&result, "oversized", 413, "4 MiB");
    assert_failed(&result, "unknown", 404, "nosuch");

    // google.api.http rule paths: each frame goes where the rule puts the body, with the
    // path's variables; replies are cut to the rule's `response_body`.
    let (frames, code) = closed(&result, "chatOnRule");
    assert_eq!(code, 1000);
    assert_eq!(
        Value::Array(frames),
        parsed(
            r#"[{"room":"kitchen","text":"[kitchen] hi"},{"room":"kitchen","text":"[kitchen] bye"}]"#
        )
    );
    let (frames, code) = closed(&result, "tallyOnRule");
    assert_eq!(code, 1000);
    assert_eq!(
        Value::Array(frames),
        parsed(r#"[{"poll":"lunch","votes":{"tea":2,"coffee":1},"total":3}]"#)
    );
    let (frames, code) = closed(&result, "countdownOnRule");
    assert_eq!(code, 1000);
    assert_eq!(
        Value::Array(frames),
        parsed(r#"[{"remaining":2},{"remaining":1}]"#)
    );
    assert_eq!(
        result["countdownEvents"]["messages"],
        parsed(r#"[{"remaining":1}]"#)
    );
    assert_failed(&result, "badVariable", 400, "CountdownRequest");
    assert_failed(&result, "badVote", 400, "message 1");

    // A gateway on another origin: `fetch` (after its preflight), `EventSource` and WebSockets
    // work when it lets the page's origin in (`--cors-origin`), and fail when it does not.
    assert_eq!(
        result["corsFetch"],
        json!({"status": 200, "body": {"text": "cors"}})
    );
    let refused = result["corsRefused"]["error"].as_str().unwrap_or_default();
    assert!(refused.contains("Failed to fetch"), "{result:#}");
    assert_eq!(
        result["corsEvents"]["messages"],
        json!([{"number": 1}, {"number": 2}])
    );
    let (frames, code) = closed(&result, "corsSocket");
    assert_eq!(
        (Value::Array(frames), code),
        (json!([{"text": "CORS"}]), 1000)
    );
    let refused = &result["corsSocketRefused"];
    assert_eq!(
        (refused["code"].as_u64(), refused["clean"].as_bool()),
        (Some(1006), Some(false))
    );
    assert_eq!(result["pageErrors"], json!([]), "{result:#}");
}
