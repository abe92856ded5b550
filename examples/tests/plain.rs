//! The proto-less helloworld (`helloworld-plain`: serde types and `#[micro::handler]`, no
//! `.proto`) driven as a new user would, by real programs from outside: curl (go-micro's
//! README call, Connect JSON, gRPC with the JSON codec, mistakes), Python grpcio and `buf curl`
//! with the protobuf descriptors they fetch by reflection, the `micro` CLI, the API gateway,
//! the dashboard in Chromium, and go-micro v4 and v5 clients (over etcd and over mDNS).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use clap::Parser as _;
use micro_test_support::output_within;
use micro_test_support::{
    EtcdServer, in_network_namespace, require_or_skip, run_in_network_namespace,
};
use serde_json::{Value, json};
use support::{Example, playwright};

const PLAIN: &str = env!("CARGO_BIN_EXE_helloworld-plain");
const STREAMING: &str = env!("CARGO_BIN_EXE_streaming");
/// How long any outside program may run.
const LIMIT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

/// `command` ran and exited 0; its stdout.
fn success(command: &mut Command) -> String {
    let output = output_within(command, LIMIT);
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        text(&output.stderr),
        text(&output.stdout)
    );
    text(&output.stdout)
}

/// Runs blocking `work` off the async runtime, whose threads serve the in-process gateway.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.expect("ran")
}

/// The real curl; its body and HTTP status.
fn curl(curl: &Path, args: &[&str]) -> (String, u16) {
    let stdout = success(
        Command::new(curl)
            .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"])
            .args(args),
    );
    let (body, code) = stdout.rsplit_once('\n').expect("curl wrote the status");
    (body.to_owned(), code.parse().expect("a status code"))
}

/// curl POSTing `body` as JSON to `url` with `headers`.
fn post(curl_bin: &Path, url: &str, headers: &[&str], body: &str) -> (String, u16) {
    let mut args = vec!["-XPOST", "-H", "Content-Type: application/json"];
    for header in headers {
        args.extend(["-H", header]);
    }
    args.extend(["-d", body, url]);
    curl(curl_bin, &args)
}

/// `answer` is go-micro's error JSON with HTTP status `code`, its detail holding every one of
/// `needles`.
fn assert_go_micro_error(answer: &(String, u16), code: u16, needles: &[&str]) {
    let (body, status) = answer;
    assert_eq!(*status, code, "{body}");
    let error = json_of(body);
    assert_eq!(error["code"], code, "{body}");
    assert!(error["status"].is_string(), "{body}");
    let detail = error["detail"].as_str().unwrap_or_default();
    for needle in needles {
        assert!(
            detail.contains(needle),
            "`{needle}` not in the detail of {body}"
        );
    }
}

/// The plain helloworld registered in a fresh etcd; `None` (skipped) without etcd.
fn plain_in_etcd() -> Option<(EtcdServer, Example)> {
    let etcd = EtcdServer::start()?;
    let registry = ["--registry", "etcd", "--registry-address", &etcd.address()];
    let plain = Example::start(PLAIN, &registry);
    plain.wait_registered(Duration::from_secs(20));
    plain.wait_ready(Duration::from_secs(20));
    Some((etcd, plain))
}

#[test]
fn the_seed_curl_answers_hello_alice() {
    let Some(curl_bin) = support::tool("MICRO_TEST_CURL", "curl") else {
        return;
    };
    let server = Example::start(PLAIN, &[]);
    // go-micro's README call, as the example's doc comment gives it, on this test's port.
    let url = format!("http://localhost:{}", server.addr.port());
    let answer = post(
        &curl_bin,
        &url,
        &["Micro-Endpoint: Helloworld.Greeting"],
        r#"{"name":"alice"}"#,
    );
    // The reply ends in a newline, as go-micro's and the proto helloworld's do (curl.rs).
    assert_eq!(answer, ("{\"message\":\"Hello alice\"}\n".to_owned(), 200));
    // Connect with JSON, on the gRPC path.
    let connect = format!("{}/helloworld.Helloworld/Greeting", server.url());
    let answer = post(&curl_bin, &connect, &[], r#"{"name":"bob"}"#);
    assert_eq!(answer, (r#"{"message":"Hello bob"}"#.to_owned(), 200));
}

#[test]
fn curl_speaks_grpc_with_the_json_codec() {
    let Some(curl_bin) = support::tool("MICRO_TEST_CURL", "curl") else {
        return;
    };
    let server = Example::start(PLAIN, &[]);
    let work = tempfile::tempdir().unwrap();
    // One length-prefixed gRPC message holding JSON.
    let request = br#"{"name":"carol"}"#;
    let mut frame = vec![0];
    frame.extend((request.len() as u32).to_be_bytes());
    frame.extend(request);
    let (body, headers) = (work.path().join("frame"), work.path().join("headers"));
    std::fs::write(&body, frame).unwrap();
    let reply = work.path().join("reply");
    success(Command::new(&curl_bin).args([
        "-sS",
        "--max-time",
        "20",
        "--http2-prior-knowledge",
        "-H",
        "Content-Type: application/grpc+json",
        "-H",
        "TE: trailers",
        "--data-binary",
        &format!("@{}", body.display()),
        "-D",
        &headers.display().to_string(),
        "-o",
        &reply.display().to_string(),
        &format!("{}/helloworld.Helloworld/Greeting", server.url()),
    ]));
    // curl writes the trailers after the headers.
    let headers = std::fs::read_to_string(headers)
        .unwrap()
        .to_ascii_lowercase();
    let lines: Vec<&str> = headers.lines().map(str::trim).collect();
    assert!(
        lines.contains(&"content-type: application/grpc+json"),
        "{headers}"
    );
    assert!(lines.contains(&"grpc-status: 0"), "{headers}");
    let reply = std::fs::read(reply).unwrap();
    assert!(
        reply.len() > 5 && reply[0] == 0,
        "not one gRPC message: {reply:?}"
    );
    let length = u32::from_be_bytes(reply[1..5].try_into().unwrap()) as usize;
    assert_eq!(length, reply.len() - 5, "{reply:?}");
    assert_eq!(
        serde_json::from_slice::<Value>(&reply[5..]).unwrap(),
        json!({"message": "Hello carol"})
    );
}

#[test]
fn bad_input_gets_go_micro_errors_that_say_what_is_wrong() {
    let Some(curl_bin) = support::tool("MICRO_TEST_CURL", "curl") else {
        return;
    };
    let server = Example::start(PLAIN, &[]);
    let url = server.url();
    let greeting = ["Micro-Endpoint: Helloworld.Greeting"];
    let answer = post(&curl_bin, &url, &greeting, r#"{"name":5}"#);
    assert_go_micro_error(&answer, 400, &["`name`", "string"]);
    assert_eq!(json_of(&answer.0)["id"], "helloworld", "{}", answer.0);
    let answer = post(&curl_bin, &url, &greeting, r#"{"nam":"x"}"#);
    assert_go_micro_error(&answer, 400, &["`name`"]);
    let answer = post(&curl_bin, &url, &greeting, r#"{"name":"#);
    assert_go_micro_error(&answer, 400, &["JSON"]);
    let farewell = ["Micro-Endpoint: Helloworld.Farewell"];
    let answer = post(&curl_bin, &url, &farewell, "{}");
    assert_go_micro_error(
        &answer,
        404,
        &["Helloworld.Farewell", "Helloworld.Greeting"],
    );
    let connect = format!("{url}/helloworld.Helloworld/Farewell");
    let (body, code) = post(&curl_bin, &connect, &[], "{}");
    assert_eq!(code, 404, "{body}");
}

/// Python: learns the service by reflection, builds message classes from the descriptors
/// (derived from the serde types), calls with protobuf and prints the fields and the reply.
const PYTHON_CLIENT: &str = r#"
import json, sys, grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
channel = grpc.insecure_channel(sys.argv[1])
pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
method = pool.FindServiceByName("helloworld.Helloworld").FindMethodByName("Greeting")
fields = lambda message: [[f.name, f.type] for f in message.fields]
print(json.dumps({"request": fields(method.input_type), "response": fields(method.output_type)}))
Request = message_factory.GetMessageClass(method.input_type)
Response = message_factory.GetMessageClass(method.output_type)
call = channel.unary_unary(
    "/helloworld.Helloworld/Greeting",
    request_serializer=Request.SerializeToString,
    response_deserializer=Response.FromString,
)
print(json_format.MessageToJson(call(Request(name="alice"), timeout=10), indent=None))
"#;

#[test]
fn python_grpcio_calls_with_protobuf_learnt_by_reflection() {
    let Some(python) = support::python_with_grpc() else {
        return;
    };
    let server = Example::start(PLAIN, &[]);
    let stdout = success(
        Command::new(python)
            .args(["-c", PYTHON_CLIENT])
            .arg(server.addr.to_string()),
    );
    let lines: Vec<Value> = stdout.lines().map(json_of).collect();
    // 9 is protobuf's TYPE_STRING.
    assert_eq!(
        lines,
        [
            json!({"request": [["name", 9]], "response": [["message", 9]]}),
            json!({"message": "Hello alice"}),
        ]
    );
}

#[test]
fn buf_curl_lists_and_calls_it_through_reflection() {
    let Some(buf) = support::tool("MICRO_TEST_BUF", "buf") else {
        return;
    };
    let server = Example::start(PLAIN, &[]);
    let buf_curl = |protocol: &str, args: &[&str]| {
        success(
            Command::new(&buf)
                .args(["curl", "--protocol", protocol, "--http2-prior-knowledge"])
                .args(["--reflect-protocol", "grpc-v1"])
                .args(args),
        )
    };
    let listed = buf_curl("grpc", &["--list-services", &server.url()]);
    assert!(
        listed.lines().any(|line| line == "helloworld.Helloworld"),
        "{listed}"
    );
    let url = format!("{}/helloworld.Helloworld/Greeting", server.url());
    for protocol in ["grpc", "connect", "grpcweb"] {
        let reply = buf_curl(protocol, &["-d", r#"{"name":"alice"}"#, &url]);
        assert_eq!(
            json_of(&reply),
            json!({"message": "Hello alice"}),
            "{protocol}"
        );
    }
}

/// This checkout's `micro` binary, built (or found up to date) once per test process:
/// `cargo test -p examples` alone does not build it.
fn micro_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            // <target>/<profile>/deps/<test binary>
            let profile_dir = exe.parent().and_then(Path::parent).unwrap();
            let target_dir = profile_dir.parent().unwrap();
            let mut build = Command::new(env!("CARGO"));
            build.args(["build", "--quiet", "-p", "micro-cli", "--bin", "micro"]);
            build.arg("--target-dir").arg(target_dir);
            if profile_dir.ends_with("release") {
                build.arg("--release");
            }
            let status = build.status().unwrap();
            assert!(status.success(), "building the micro binary failed");
            profile_dir.join("micro")
        })
        .clone()
}

/// `micro --registry etcd --registry-address <etcd> <args>`.
fn micro(etcd: &EtcdServer, args: &[&str]) -> Output {
    let mut command = Command::new(micro_binary());
    command
        .args(["--registry", "etcd", "--registry-address", &etcd.address()])
        .args(args)
        .env_remove("MICRO_REGISTRY")
        .env_remove("MICRO_REGISTRY_ADDRESS")
        .env_remove("MICRO_OUTPUT");
    output_within(&mut command, LIMIT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn micro_call_and_describe_find_it_in_the_registry() {
    let Some((etcd, _plain)) = plain_in_etcd() else {
        return;
    };
    let call = [
        "call",
        "helloworld",
        "Helloworld.Greeting",
        r#"{"name":"alice"}"#,
    ];
    let called = micro(&etcd, &call);
    assert!(called.status.success(), "{}", text(&called.stderr));
    assert_eq!(
        text(&called.stdout),
        "{\n  \"message\": \"Hello alice\"\n}\n"
    );

    let described = micro(&etcd, &["describe", "helloworld"]);
    let human = text(&described.stdout);
    assert!(described.status.success(), "{}", text(&described.stderr));
    for line in [
        "  Helloworld.Greeting  unary",
        "    request   helloworld.Request { name: string }",
        "    response  helloworld.Response { message: string }",
    ] {
        assert!(
            human.lines().any(|shown| shown == line),
            "`{line}` not in:\n{human}"
        );
    }
    let described = micro(&etcd, &["describe", "helloworld", "-o", "json"]);
    let described = json_of(&text(&described.stdout));
    let endpoint = &described["endpoints"][0];
    assert_eq!(
        endpoint["path"], "/helloworld.Helloworld/Greeting",
        "{described:#}"
    );
    assert_eq!(
        endpoint["request"]["fields"],
        json!([{"name": "name", "type": "string"}]),
        "{described:#}"
    );

    let bad = ["call", "helloworld", "Helloworld.Greeting", r#"{"name":5}"#];
    let refused = micro(&etcd, &bad);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("`name`"),
        "{}",
        text(&refused.stderr)
    );

    // What go-micro's tools read: the endpoint's request and response as Value trees.
    let registry = micro::registry::build("etcd", &[etcd.address()]).unwrap();
    let versions = registry.get_service("helloworld").await.unwrap();
    let endpoints = serde_json::to_value(&versions[0].endpoints).unwrap();
    assert_eq!(endpoints[0]["name"], "Helloworld.Greeting", "{endpoints:#}");
    for (side, field) in [("request", "name"), ("response", "message")] {
        let value = &endpoints[0][side];
        assert_eq!(value["values"][0]["name"], field, "{endpoints:#}");
        assert_eq!(value["values"][0]["type"], "string", "{endpoints:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_it_over_http() {
    let Some(curl_bin) = support::tool("MICRO_TEST_CURL", "curl") else {
        return;
    };
    let Some((etcd, _plain)) = plain_in_etcd() else {
        return;
    };
    let cli = micro_cli::Cli::parse_from([
        "micro",
        "--registry",
        "etcd",
        "--registry-address",
        &etcd.address(),
        "gateway",
    ]);
    let env = micro_cli::Env::new(&cli.global).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(micro_cli::gateway::Gateway::new(env).run(listener, std::future::pending()));

    blocking(move || {
        let hello = (r#"{"message":"Hello alice"}"#.to_owned(), 200);
        for path in [
            "/helloworld/Helloworld.Greeting",
            "/api/helloworld/Helloworld/Greeting",
            "/helloworld/helloworld.Helloworld/Greeting",
        ] {
            let url = format!("{gateway}{path}");
            let answer = post(&curl_bin, &url, &[], r#"{"name":"alice"}"#);
            assert_eq!(answer, hello, "{path}");
        }
        let rpc = r#"{"service":"helloworld","endpoint":"Helloworld.Greeting","request":{"name":"alice"}}"#;
        assert_eq!(post(&curl_bin, &format!("{gateway}/rpc"), &[], rpc), hello);

        let greeting = format!("{gateway}/helloworld/Helloworld.Greeting");
        let answer = post(&curl_bin, &greeting, &[], r#"{"name":5}"#);
        assert_go_micro_error(&answer, 400, &["name"]);
        let farewell = format!("{gateway}/helloworld/Helloworld.Farewell");
        let answer = post(&curl_bin, &farewell, &[], "{}");
        assert_go_micro_error(&answer, 404, &["Helloworld.Farewell", "Helloworld.Greeting"]);
    })
    .await;
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The dashboard test's driver (tests/dashboard/drive.mjs), with the plain helloworld in
/// place of the generated one: it lists both services, calls `Helloworld.Greeting` through the
/// form (a bad request, then alice), watches its counter, and SIGKILLs the streaming node.
#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_lists_and_calls_it_in_chromium() {
    let chromium = micro_test_support::tool("MICRO_TEST_CHROMIUM", "chromium");
    let (Some(modules), Some(chromium)) = (playwright(), chromium) else {
        return;
    };
    let Some((etcd, _plain)) = plain_in_etcd() else {
        return;
    };
    let registry = ["--registry", "etcd", "--registry-address", &etcd.address()];
    let streaming = Example::start(STREAMING, &registry);
    streaming.wait_registered(Duration::from_secs(20));
    let cli = micro_cli::Cli::parse_from([&["micro"][..], &registry, &["dashboard"]].concat());
    let env = micro_cli::Env::new(&cli.global).unwrap();
    let url = serve(micro_cli::dashboard::router(env.clone())).await;
    let nested = format!(
        "{}dashboard",
        serve(micro_cli::gateway::Gateway::new(env).router()).await
    );

    let work = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard/drive.mjs");
    let mut node = Command::new("node");
    node.arg(script)
        .arg(modules)
        .arg(chromium)
        .args([&url, &nested]);
    node.arg(work.path().join("dashboard.png"));
    node.arg(streaming.pid().to_string())
        .args(["helloworld", "streaming"]);
    let output = blocking(move || output_within(&mut node, Duration::from_secs(180))).await;
    let stdout = text(&output.stdout);
    let result = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Value>(line).ok())
        .unwrap_or_else(|| panic!("no JSON result:\n{stdout}\n{}", text(&output.stderr)));
    assert!(
        output.status.success() && result["ok"] == true,
        "{result:#}"
    );

    let seen = &result["services"]["helloworld"];
    assert_eq!(seen["health"], json!(["SERVING"]), "{result:#}");
    assert_eq!(
        seen["endpoints"],
        json!(["Helloworld.Greeting"]),
        "{result:#}"
    );
    // The dashboard reads `{"nam":"x"}` with the descriptors the serde types derive, which
    // have no field `nam`.
    let bad = &result["badCall"];
    assert!(
        bad["status"].as_str().unwrap().starts_with("400"),
        "{result:#}"
    );
    assert!(
        bad["reply"].as_str().unwrap().contains("'nam'"),
        "{result:#}"
    );
    assert!(
        result["call"]["status"]
            .as_str()
            .unwrap()
            .starts_with("200")
    );
    let reply = json_of(result["call"]["reply"].as_str().unwrap());
    assert_eq!(reply, json!({"message": "Hello alice"}));
    assert!(result["requests"].as_f64().unwrap() >= 1.0, "{result:#}");
    assert_eq!(result["consoleErrors"], json!([]), "{result:#}");
    assert_eq!(
        result["failedResponses"],
        json!(["400 /api/call"]),
        "{result:#}"
    );
}

/// go-micro peer program `name` (`gomicro5-call`), or `None` (skipped) without the peers.
fn go_peer(name: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("MICRO_TEST_GO_PEERS") else {
        require_or_skip(
            "MICRO_TEST_GO_PEERS not set; run scripts/test.sh (it builds the Go peers)",
        );
        return None;
    };
    Some(PathBuf::from(dir).join(name))
}

/// go-micro's clients and the codecs each speaks: rpc with JSON (its default) and protobuf,
/// gRPC with protobuf (its default) and JSON.
const GO_CODECS: [(&str, &str); 4] = [
    ("mucp", "application/json"),
    ("mucp", "application/protobuf"),
    ("grpc", "application/grpc+proto"),
    ("grpc", "application/grpc+json"),
];

/// `gomicroN-call` (go-micro's own client, with generated Go types) through `registry` flags,
/// over every client and codec go-micro has: rpc with JSON and protobuf, gRPC with protobuf
/// and JSON.
fn go_clients_call_it(registry: &[&str]) {
    for version in ["gomicro4", "gomicro5"] {
        let Some(call) = go_peer(&format!("{version}-call")) else {
            return;
        };
        for (client, content_type) in GO_CODECS {
            let stdout = success(
                Command::new(&call)
                    .args(registry)
                    .args(["--client", client, "--content_type", content_type])
                    .args(["--name", "alice"]),
            );
            let lines: Vec<Value> = stdout
                .lines()
                .filter(|line| line.starts_with('{'))
                .map(json_of)
                .collect();
            assert_eq!(
                lines,
                [json!({"message": "Hello alice"})],
                "{version} {client} {content_type}"
            );
        }
    }
}

#[test]
fn go_micro_clients_call_it_over_etcd() {
    if go_peer("gomicro5-call").is_none() {
        return;
    }
    let Some((etcd, _plain)) = plain_in_etcd() else {
        return;
    };
    go_clients_call_it(&["--registry", "etcd", "--registry_address", &etcd.address()]);
}

/// go-micro's clients encode an empty name as nothing at all: an empty body in protobuf, which
/// is the default message (`Hello `), and `{}` in JSON (encoding/json's `omitempty`), which
/// this service's `Request` refuses, naming the field it requires (a field the type wants
/// optional is `#[serde(default)]`; see docs/plain-handlers.md).
#[test]
fn go_micro_clients_send_an_empty_name() {
    if go_peer("gomicro5-call").is_none() {
        return;
    }
    let Some((etcd, _plain)) = plain_in_etcd() else {
        return;
    };
    let registry = ["--registry", "etcd", "--registry_address", &etcd.address()];
    for (client, content_type) in GO_CODECS {
        let mut call = Command::new(go_peer("gomicro5-call").unwrap());
        call.args(registry)
            .args(["--client", client, "--content_type", content_type])
            .args(["--name", ""]);
        let output = output_within(&mut call, LIMIT);
        let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
        if content_type.ends_with("json") {
            assert!(
                said.contains("missing field `name`"),
                "{client} {content_type}: {said}"
            );
        } else {
            assert_eq!(
                json_of(text(&output.stdout).trim()),
                json!({"message": "Hello "}),
                "{client} {content_type}: {said}"
            );
        }
    }
}

/// go-micro's default registry, inside a network namespace of this test's own (see gomicro.rs:
/// go-micro's mDNS queries need a multicast route there); go-micro v5's own CLI describes the
/// endpoint from what the service registered, and calls it.
#[test]
fn go_micro_clients_and_cli_use_it_over_mdns() {
    if !in_network_namespace() {
        return run_in_network_namespace("go_micro_clients_and_cli_use_it_over_mdns");
    }
    let Some(go_micro) = go_peer("gomicro5-micro") else {
        return;
    };
    let route = Command::new("ip")
        .args(["route", "add", "224.0.0.0/4", "dev", "lo"])
        .status()
        .expect("ip runs");
    assert!(
        route.success(),
        "cannot add a multicast route in the namespace"
    );
    let plain = Example::start(PLAIN, &["--registry", "mdns"]);
    plain.wait_registered(Duration::from_secs(20));
    go_clients_call_it(&["--registry", "mdns"]);

    let described = json_of(&success(
        Command::new(&go_micro).args(["describe", "helloworld"]),
    ));
    let endpoint = &described["endpoints"][0];
    assert_eq!(endpoint["name"], "Helloworld.Greeting", "{described:#}");
    assert_eq!(
        endpoint["request"]["values"][0]["name"], "name",
        "{described:#}"
    );
    assert_eq!(
        endpoint["response"]["values"][0]["name"], "message",
        "{described:#}"
    );
    let called = success(Command::new(&go_micro).args([
        "call",
        "helloworld",
        "Helloworld.Greeting",
        r#"{"name":"alice"}"#,
    ]));
    assert_eq!(json_of(&called), json!({"message": "Hello alice"}));
}
