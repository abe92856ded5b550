//! The API gateway (`micro gateway`, run in-process through `micro_cli`) in front of real
//! service processes registered in a real etcd: curl through every path style and a
//! google.api.http route, errors as go-micro JSON with HTTP statuses, and a node SIGKILLed
//! under load without a failed request.

#![cfg(feature = "full")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::GatewayFleet;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const HELLOWORLD: &str = env!("CARGO_BIN_EXE_helloworld");
const STREAMING: &str = env!("CARGO_BIN_EXE_streaming");
const GREETER: &str = env!("CARGO_BIN_EXE_greeter-http");

/// The gateway's global options in these tests.
const GATEWAY_FLAGS: &[&str] = &["--timeout", "10s", "--token", "gateway-token"];

/// The path to curl, or `None` (the test skips) without it.
fn curl_path() -> Option<PathBuf> {
    support::tool("MICRO_TEST_CURL", "curl")
}

fn curl(curl: &Path, args: &[&str]) -> (String, u16) {
    let output = Command::new(curl)
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), code.parse().unwrap())
}

fn post(curl_bin: &Path, url: &str, json: &str) -> (String, u16) {
    curl(
        curl_bin,
        &["-H", "Content-Type: application/json", "-d", json, url],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_reaches_two_services_in_every_path_style_and_http_rules() {
    let Some(curl_bin) = curl_path() else { return };
    let Some(setup) = GatewayFleet::start(GATEWAY_FLAGS).await else {
        return;
    };
    let _helloworld = setup.service(HELLOWORLD, "helloworld", 1).await;
    let _streaming = setup.service(STREAMING, "streaming", 1).await;
    let _greeter = setup.service(GREETER, "greeter", 1).await;
    let hello = r#"{"message":"Hello alice"}"#;
    for path in [
        "/helloworld/Helloworld.Greeting",
        "/helloworld/Helloworld/Greeting",
        "/api/helloworld/Helloworld.Greeting",
        "/api/helloworld/Helloworld/Greeting",
        "/helloworld/helloworld.Helloworld/Greeting",
        // go-micro's classic API, and endpoints in any case.
        "/helloworld/greeting",
        "/api/helloworld/greeting",
        "/helloworld/helloworld/greeting",
        "/helloworld/HELLOWORLD.GREETING",
    ] {
        let answer = post(&curl_bin, &setup.url(path), r#"{"name":"alice"}"#);
        assert_eq!(answer, (hello.to_owned(), 200), "{path}");
    }
    for path in [
        "/streaming/Streamer.Ping",
        "/api/streaming/Streamer/Ping",
        // The method alone, when only one handler has it.
        "/streaming/ping",
    ] {
        let answer = post(&curl_bin, &setup.url(path), r#"{"text":"ping"}"#);
        assert_eq!(answer, (r#"{"text":"ping"}"#.to_owned(), 200), "{path}");
    }
    // go-micro v4's /rpc.
    let rpc = r#"{"service":"streaming","endpoint":"Streamer.Ping","request":{"text":"rpc"}}"#;
    assert_eq!(
        post(&curl_bin, &setup.url("/rpc"), rpc),
        (r#"{"text":"rpc"}"#.to_owned(), 200)
    );

    // google.api.http: GET with a path variable and query parameters (nested, typed).
    let (body, code) = curl(
        &curl_bin,
        &[&setup.url("/v1/greet/bob?options.greeting=Hi&options.times=2&options.shout=true")],
    );
    assert_eq!(
        (body.as_str(), code),
        (r#"{"message":"HI BOB HI BOB"}"#, 200)
    );
    // HEAD: GET's status and headers, no body.
    let (head, code) = curl(&curl_bin, &["-I", &setup.url("/v1/greet/bob")]);
    assert_eq!(code, 200, "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{head}");
    let length = r#"{"message":"Hello bob"}"#.len();
    assert!(
        head.contains(&format!("content-length: {length}")),
        "{head}"
    );
    assert!(!head.contains("hello bob"), "{head}");
    let (body, code) = curl(&curl_bin, &[&setup.url("/v1/greet/al%20ice")]);
    assert_eq!(
        (body.as_str(), code),
        (r#"{"message":"Hello al ice"}"#, 200)
    );
    // POST with body "*", and PUT with the body going to one field.
    let (body, code) = post(&curl_bin, &setup.url("/v1/greet"), r#"{"name":"carol"}"#);
    assert_eq!((body.as_str(), code), (r#"{"message":"Hello carol"}"#, 200));
    let (body, code) = curl(
        &curl_bin,
        &[
            "-X",
            "PUT",
            "-d",
            r#"{"greeting":"Howdy"}"#,
            &setup.url("/v1/greetings/dave"),
        ],
    );
    assert_eq!((body.as_str(), code), (r#"{"message":"Howdy dave"}"#, 200));
    // The generic style reaches the annotated service too.
    let (body, code) = post(
        &curl_bin,
        &setup.url("/greeter/Greeter.Greet"),
        r#"{"name":"erin"}"#,
    );
    assert_eq!((body.as_str(), code), (r#"{"message":"Hello erin"}"#, 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_go_micro_json_with_http_statuses() {
    let Some(curl_bin) = curl_path() else { return };
    let Some(setup) = GatewayFleet::start(GATEWAY_FLAGS).await else {
        return;
    };
    let _helloworld = setup.service(HELLOWORLD, "helloworld", 1).await;
    let _streaming = setup.service(STREAMING, "streaming", 1).await;
    let _greeter = setup.service(GREETER, "greeter", 1).await;
    let error = |answer: (String, u16), code: u16, needles: &[&str]| {
        let (body, status) = answer;
        assert_eq!(status, code, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|err| {
            panic!("not JSON ({err}): {body}");
        });
        assert_eq!(json["code"], code, "{body}");
        assert!(json["status"].is_string(), "{body}");
        let detail = json["detail"].as_str().unwrap_or_default();
        for needle in needles {
            assert!(detail.contains(needle), "`{needle}` not in {body}");
        }
        json
    };

    // Unknown service: which registry was asked and how to list services.
    let answer = post(&curl_bin, &setup.url("/nosuch/Foo.Bar"), "{}");
    error(answer, 404, &["nosuch", "etcd", "micro services"]);
    // Unknown endpoint: the endpoints there are.
    let answer = post(
        &curl_bin,
        &setup.url("/helloworld/Helloworld.Farewell"),
        "{}",
    );
    error(answer, 404, &["Helloworld.Farewell", "Helloworld.Greeting"]);
    let answer = post(&curl_bin, &setup.url("/helloworld/farewell"), "{}");
    error(answer, 404, &["`farewell`", "Helloworld.Greeting"]);
    // No route at all.
    let answer = curl(&curl_bin, &[&setup.url("/v2/nothing")]);
    error(answer, 404, &["GET /v2/nothing", "/v1/greet/{name}"]);
    let answer = post(&curl_bin, &setup.url("/v2/nothing"), "{}");
    error(answer, 404, &["POST /v2/nothing", "/v1/greet/{name}"]);
    // Bad JSON, and a field of the wrong type, named.
    let answer = post(
        &curl_bin,
        &setup.url("/helloworld/Helloworld.Greeting"),
        "{\"name\":",
    );
    error(answer, 400, &["JSON"]);
    let answer = post(
        &curl_bin,
        &setup.url("/helloworld/Helloworld.Greeting"),
        r#"{"name":1}"#,
    );
    error(answer, 400, &["name"]);
    let answer = curl(&curl_bin, &[&setup.url("/v1/greet/bob?options.shout=loud")]);
    error(answer, 400, &["options.shout", "true or false"]);
    let answer = curl(&curl_bin, &[&setup.url("/v1/greet/bob?colour=red")]);
    error(answer, 400, &["colour", "name"]);
    // A client-streaming method takes its requests as JSON messages, one per line (more in
    // tests/gateway_stream.rs).
    for path in ["/streaming/Streamer.Sum", "/streaming/sum"] {
        let answer = post(
            &curl_bin,
            &setup.url(path),
            "{\"value\":2}\n{\"value\":40}\n",
        );
        let expected = (r#"{"total":"42","count":2}"#.to_owned(), 200);
        assert_eq!(answer, expected, "{path}");
    }
    // The handler's own errors keep their meaning.
    let answer = post(
        &curl_bin,
        &setup.url("/v1/fail/5"),
        r#"{"message":"no such greeting"}"#,
    );
    let json = error(answer, 404, &["no such greeting"]);
    assert_eq!(json["id"], "greeter");
    let answer = post(
        &curl_bin,
        &setup.url("/v1/fail/14"),
        r#"{"message":"busy"}"#,
    );
    error(answer, 503, &["busy"]);
    let answer = post(&curl_bin, &setup.url("/v1/fail/4"), r#"{"message":"slow"}"#);
    error(answer, 504, &["slow"]);
    // Over the body limit.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let name = "x".repeat(micro_cli::gateway::MAX_BODY + 10);
    std::fs::write(&big, format!(r#"{{"name":"{name}"}}"#)).unwrap();
    let answer = curl(
        &curl_bin,
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{}", big.display()),
            &setup.url("/helloworld/Helloworld.Greeting"),
        ],
    );
    error(answer, 413, &["4 MiB"]);
    // A call slower than the gateway's --timeout.
    let impatient = support::start_gateway(
        &setup.etcd.address(),
        &["--timeout", "300ms", "--token", "gateway-token"],
    )
    .await;
    let answer = post(
        &curl_bin,
        &format!("{impatient}/v1/fail/0"),
        r#"{"delay_ms":3000}"#,
    );
    error(answer, 504, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chosen_headers_reach_the_service_as_metadata() {
    let Some(curl_bin) = curl_path() else { return };
    let Some(setup) = GatewayFleet::start(GATEWAY_FLAGS).await else {
        return;
    };
    let _greeter = setup.service(GREETER, "greeter", 1).await;
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let (body, code) = curl(
        &curl_bin,
        &[
            "-H",
            "Authorization: Bearer caller-token",
            "-H",
            "X-Request-Id: req-42",
            "-H",
            &format!("traceparent: {traceparent}"),
            "-H",
            "Micro-Tenant: acme",
            "-H",
            "Cookie: session=secret",
            "-H",
            "X-Forwarded-For: 10.0.0.1",
            &setup.url("/v1/echo"),
        ],
    );
    assert_eq!(code, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    let metadata = &reply["metadata"];
    assert_eq!(metadata["authorization"], "Bearer caller-token", "{body}");
    assert_eq!(metadata["x-request-id"], "req-42", "{body}");
    assert_eq!(metadata["micro-tenant"], "acme", "{body}");
    assert!(metadata.get("cookie").is_none(), "{body}");
    assert!(metadata.get("x-forwarded-for").is_none(), "{body}");
    // The service joins the caller's trace (its tracing layer continues the trace id).
    let trace_id = traceparent.split('-').nth(1).unwrap();
    assert!(
        metadata["traceparent"]
            .as_str()
            .is_some_and(|sent| sent.contains(trace_id)),
        "{body}"
    );
    // Without an Authorization header, the gateway's own --token goes.
    let (body, code) = curl(&curl_bin, &[&setup.url("/v1/echo")]);
    assert_eq!(code, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        reply["metadata"]["authorization"], "Bearer gateway-token",
        "{body}"
    );
}

/// A keep-alive HTTP/1.1 connection, just enough to drive load through the gateway.
struct Connection {
    stream: BufReader<TcpStream>,
    host: String,
}

impl Connection {
    async fn open(url: &str) -> Connection {
        let host = url.trim_start_matches("http://").to_owned();
        let stream = TcpStream::connect(&host).await.unwrap();
        Connection {
            stream: BufReader::new(stream),
            host,
        }
    }

    async fn request(&mut self, method: &str, path: &str, body: &str) -> (u16, String) {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        self.stream.read_line(&mut line).await.unwrap();
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line `{line}`"));
        let mut length = 0;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.unwrap();
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.unwrap();
        (status, String::from_utf8(body).unwrap())
    }
}

/// Calls `Helloworld.Greeting` the node at `url` has served, from its Prometheus metrics.
async fn greetings_served(url: &str) -> u64 {
    let (status, metrics) = Connection::open(url)
        .await
        .request("GET", "/metrics", "")
        .await;
    assert_eq!(status, 200);
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("micro_request_total{") && line.contains("Helloworld.Greeting")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_under_load_fails_no_request() {
    const REQUESTS: usize = 2_000;
    const TASKS: usize = 8;
    let Some(setup) = GatewayFleet::start(GATEWAY_FLAGS).await else {
        return;
    };
    let mut nodes = Vec::new();
    for count in 1..=3 {
        nodes.push(Some(setup.service(HELLOWORLD, "helloworld", count).await));
    }
    let victim_url = nodes[1].as_ref().unwrap().url();
    let sent = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (sent, gateway) = (sent.clone(), setup.gateway.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(&gateway).await;
            let mut failures = Vec::new();
            while sent.fetch_add(1, Ordering::SeqCst) < REQUESTS {
                let name = format!("task{task}");
                let body = format!(r#"{{"name":"{name}"}}"#);
                let answer = connection
                    .request("POST", "/helloworld/Helloworld.Greeting", &body)
                    .await;
                let expected = (200, format!(r#"{{"message":"Hello {name}"}}"#));
                if answer != expected {
                    failures.push(answer);
                }
            }
            failures
        }));
    }
    // Midway: the victim has served some of the load; SIGKILL it (no deregistration).
    let started = tokio::time::Instant::now();
    while sent.load(Ordering::SeqCst) < REQUESTS / 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the load stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let served = greetings_served(&victim_url).await;
    assert!(served > 0, "the victim served nothing before the kill");
    drop(nodes[1].take());
    assert!(
        sent.load(Ordering::SeqCst) < REQUESTS,
        "the load ended before the kill"
    );
    let mut failures = Vec::new();
    for task in tasks {
        failures.extend(task.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} of {REQUESTS} requests failed after the kill, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    eprintln!("the victim served {served} requests before it was killed; none failed");
}
