//! `micro mcp` driven by the official MCP SDK for Python (PyPI `mcp`, tests/mcp/client.py):
//! over stdio and over streamable HTTP, against live services registered in a real etcd. Tools
//! are listed with schemas from the services' descriptors, called for every kind of RPC,
//! refused with a structured error for bad arguments, and checked against per-tool scopes with
//! real JWTs. `micro mcp list` and `micro mcp test` are run as a user would.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use micro::auth::{Auth, GenerateOptions, JwtAuth, TokenRequest};
use micro_test_support::{free_port, rsa_key_pair, tool};
use serde_json::{Value, json};
use support::{Fleet, MICRO, failed, ok};

const GREETING: &str = "helloworld.Helloworld.Greeting";

/// A Python with the MCP SDK, or `None` (the test skips unless tools are required).
fn python_with_mcp() -> Option<PathBuf> {
    micro_test_support::python_with("mcp, httpx2")
}

/// Runs tests/mcp/client.py with `plan`; what it printed, parsed.
async fn drive(python: &Path, plan: Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let mut command = Command::new(python);
    command.arg(script).arg(plan.to_string());
    let output = tokio::task::spawn_blocking(move || support::run(&mut command, None))
        .await
        .unwrap();
    let text = ok(&output);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|err| panic!("the client printed no JSON ({err}): {text}"))
}

/// The names of the tools the client listed.
fn tool_names(report: &Value) -> Vec<&str> {
    let tools = report["tools"].as_array().unwrap();
    tools
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect()
}

fn listed<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == name)
        .unwrap_or_else(|| panic!("no tool {name} in {:#}", report["tools"]))
}

/// The calls every transport is checked with, and what each must give.
fn calls() -> Value {
    json!([
        { "tool": GREETING, "arguments": { "name": "alice" } },
        { "tool": GREETING, "arguments": { "name": 5 } },
        { "tool": GREETING, "arguments": { "name": "nobody" } },
        { "tool": "helloworld.Helloworld.Nothing", "arguments": {} },
        { "tool": "streaming.Streamer.Count", "arguments": { "to": 3 } },
        { "tool": "streaming.Streamer.Sum", "arguments": { "requests": [{ "value": 2 }, { "value": 5 }] } },
        { "tool": "streaming.Streamer.Shout", "arguments": { "requests": [{ "text": "a" }, { "text": "b" }] } },
        { "tool": "streaming.Streamer.Sum", "arguments": { "value": 2 } },
    ])
}

fn assert_calls(report: &Value) {
    let results = &report["results"];
    assert_eq!(results[0]["is_error"], false, "{results:#}");
    assert_eq!(
        results[0]["structured_content"],
        json!({ "message": "Hello alice" })
    );

    // A bad argument: a structured go-micro error naming the field.
    assert_eq!(results[1]["is_error"], true, "{:#}", results[1]);
    let error = &results[1]["structured_content"];
    assert_eq!(error["code"], 400, "{error:#}");
    assert_eq!(error["id"], "micro.mcp");
    assert!(
        error["detail"].as_str().unwrap().contains("name"),
        "{error:#}"
    );

    // The service's own error, as it sent it.
    assert_eq!(results[2]["is_error"], true);
    assert_eq!(results[2]["structured_content"]["code"], 404);
    assert_eq!(
        results[2]["structured_content"]["detail"],
        "nobody is not here"
    );

    // An unknown tool is a protocol error (invalid params), as the spec says.
    assert_eq!(
        results[3]["protocol_error"]["code"], -32602,
        "{:#}",
        results[3]
    );
    assert!(
        results[3]["protocol_error"]["message"]
            .as_str()
            .unwrap()
            .contains("tools/list")
    );

    assert_eq!(
        results[4]["structured_content"],
        json!({ "replies": [{ "number": 1 }, { "number": 2 }, { "number": 3 }], "truncated": false })
    );
    assert_eq!(
        results[5]["structured_content"],
        json!({ "total": "7", "count": 2 }),
        "an int64 is a string in proto3 JSON"
    );
    assert_eq!(
        results[6]["structured_content"],
        json!({ "replies": [{ "text": "A" }, { "text": "B" }], "truncated": false })
    );
    assert_eq!(results[7]["is_error"], true);
    let detail = results[7]["structured_content"]["detail"].as_str().unwrap();
    assert!(detail.contains("\"requests\""), "{detail}");
}

fn assert_tools(report: &Value) {
    let greeting = listed(report, GREETING);
    let input = &greeting["inputSchema"];
    assert_eq!(input["type"], "object", "{input:#}");
    assert_eq!(input["properties"]["name"]["type"], "string", "{input:#}");
    assert_eq!(
        greeting["outputSchema"]["properties"]["message"]["type"],
        "string"
    );
    assert!(!greeting["description"].as_str().unwrap().is_empty());

    let sum = &listed(report, "streaming.Streamer.Sum")["inputSchema"];
    assert_eq!(sum["required"], json!(["requests"]), "{sum:#}");
    assert_eq!(sum["properties"]["requests"]["type"], "array");
    let count = &listed(report, "streaming.Streamer.Count")["outputSchema"];
    assert_eq!(count["properties"]["replies"]["type"], "array", "{count:#}");
    // Infrastructure is not a tool.
    let names = tool_names(report);
    assert!(
        names.iter().all(|name| !name.contains("grpc.")),
        "{names:?}"
    );
}

#[tokio::test]
async fn the_python_sdk_lists_and_calls_tools_over_stdio() {
    let (Some(python), Some(fleet)) = (python_with_mcp(), Fleet::start().await) else {
        return;
    };
    let mut command = vec![MICRO.to_owned(), "mcp".into(), "serve".into()];
    command.extend(fleet.registry_args());
    let report = drive(&python, json!({ "stdio": command, "calls": calls() })).await;
    assert_tools(&report);
    assert_calls(&report);
    fleet.stop().await;
}

/// A go-micro v5 service serves no gRPC reflection: its registered endpoint is a tool anyway,
/// with an input schema from the registry's shapes and no output schema; the call goes over
/// go-micro's RPC protocol, and the service's own error comes back as the tool's error.
#[tokio::test]
async fn the_python_sdk_calls_a_go_micro_service_without_reflection() {
    let Some(program) = support::go_peer("gomicro5-helloworld") else {
        return;
    };
    let (Some(python), Some(fleet)) = (python_with_mcp(), Fleet::start().await) else {
        return;
    };
    let _go = support::GoHelloworld::start(program, &fleet.etcd.address(), "gohello");
    let mut command = vec![MICRO.to_owned(), "mcp".into(), "serve".into()];
    command.extend(fleet.registry_args());
    let tool = "gohello.Helloworld.Greeting";
    let calls = json!([
        { "tool": tool, "arguments": { "name": "alice" } },
        { "tool": tool, "arguments": { "name": "error" } },
    ]);
    let report = drive(&python, json!({ "stdio": command, "calls": calls })).await;
    let listed_tool = listed(&report, tool);
    let input = &listed_tool["inputSchema"];
    assert_eq!(input["properties"]["name"]["type"], "string", "{input:#}");
    assert!(listed_tool.get("outputSchema").is_none(), "{listed_tool:#}");
    listed(&report, GREETING);

    let results = &report["results"];
    assert_eq!(results[0]["is_error"], false, "{results:#}");
    assert_eq!(
        results[0]["structured_content"],
        json!({ "message": "Hello alice" })
    );
    let error = &results[1]["structured_content"];
    assert_eq!(results[1]["is_error"], true, "{results:#}");
    assert_eq!(
        (&error["id"], &error["code"], &error["detail"]),
        (
            &json!("helloworld"),
            &json!(409),
            &json!("no greeting for error")
        ),
        "{error:#}"
    );
    fleet.stop().await;
}

/// `micro mcp serve --address` as a child process, killed on drop.
struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    fn start(fleet: &Fleet, extra: &[&str]) -> HttpServer {
        let address = format!("127.0.0.1:{}", free_port());
        let child = Command::new(MICRO)
            .args(fleet.registry_args())
            .args(["mcp", "serve", "--address", &address])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("micro runs");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "micro mcp serve never listened on {address}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        HttpServer {
            child,
            url: format!("http://{address}/mcp"),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_python_sdk_lists_and_calls_tools_over_streamable_http() {
    let (Some(python), Some(fleet)) = (python_with_mcp(), Fleet::start().await) else {
        return;
    };
    let server = HttpServer::start(&fleet, &[]);
    let report = drive(&python, json!({ "url": server.url, "calls": calls() })).await;
    assert_tools(&report);
    assert_calls(&report);
    drop(server);
    fleet.stop().await;
}

/// A token for a new account with `scopes`, issued with `auth`'s private key.
async fn token(auth: &JwtAuth, id: &str, scopes: &[&str]) -> String {
    let options = GenerateOptions {
        scopes: scopes.iter().map(|scope| scope.to_string()).collect(),
        ..GenerateOptions::default()
    };
    let account = auth.generate(id, options).await.unwrap();
    auth.token(TokenRequest::credentials(id, &account.secret))
        .await
        .unwrap()
        .access_token
}

#[tokio::test]
async fn tools_with_scopes_need_a_token_that_holds_one() {
    let (Some(python), Some(fleet)) = (python_with_mcp(), Fleet::start().await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (public, private) = rsa_key_pair(dir.path());
    let auth = JwtAuth::new("micro", &public, Some(&private)).unwrap();
    let scope = format!("{GREETING}=greet,admin");
    let server = HttpServer::start(&fleet, &["--scope", &scope, "--auth-public-key", &public]);
    let greet = json!([{ "tool": GREETING, "arguments": { "name": "bob" } }]);

    let allowed = token(&auth, "alice", &["greet"]).await;
    let plan = json!({ "url": server.url, "token": allowed, "calls": greet });
    let report = drive(&python, plan).await;
    assert_eq!(
        report["results"][0]["structured_content"],
        json!({ "message": "Hello bob" })
    );
    assert_eq!(
        listed(&report, GREETING)["_meta"]["micro/scopes"],
        json!(["greet", "admin"])
    );

    let other = token(&auth, "mallory", &["read"]).await;
    let plan = json!({ "url": server.url, "token": other, "calls": greet });
    let denied = &drive(&python, plan).await["results"][0];
    assert_eq!(denied["is_error"], true);
    assert_eq!(denied["structured_content"]["code"], 403, "{denied:#}");
    let detail = denied["structured_content"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("mallory") && detail.contains("greet"),
        "{detail}"
    );

    let plan = json!({ "url": server.url, "calls": greet });
    let anonymous = &drive(&python, plan).await["results"][0];
    assert_eq!(
        anonymous["structured_content"]["code"], 401,
        "{anonymous:#}"
    );

    let forged = JwtAuth::generate_keys("micro").unwrap();
    let forged = token(&forged, "alice", &["greet"]).await;
    let plan = json!({ "url": server.url, "token": forged, "calls": greet });
    let refused = &drive(&python, plan).await["results"][0];
    assert_eq!(refused["structured_content"]["code"], 401, "{refused:#}");
    drop(server);
    fleet.stop().await;
}

/// curl with `args` (off the runtime's thread, which serves the fleet): the status, the body
/// as JSON, and the response headers; `None` without curl.
async fn curl(args: &[&str]) -> Option<(u16, Value, String)> {
    let curl = tool("MICRO_TEST_CURL", "curl")?;
    let mut command = Command::new(curl);
    command
        .args(["-sS", "-D", "/dev/stderr", "-w", "\n%{http_code}"])
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success(), "curl {args:?}: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    let body = serde_json::from_str(body).unwrap_or_else(|err| panic!("{err}: {body}"));
    let headers = String::from_utf8_lossy(&output.stderr).to_ascii_lowercase();
    Some((code.parse().unwrap(), body, headers))
}

/// `POST url` with the JSON `body` and `headers` (`Name: value`), by curl.
async fn post_json(url: &str, body: Value, headers: &[&str]) -> (u16, Value, String) {
    let body = body.to_string();
    let mut args = vec!["-H", "Content-Type: application/json"];
    for header in headers {
        args.extend(["-H", header]);
    }
    args.extend(["-d", &body, url]);
    curl(&args).await.expect("curl is installed")
}

/// go-micro's plain HTTP API for its MCP gateway, as its docs show it used with curl.
#[tokio::test]
async fn go_micros_http_api_lists_and_calls_tools_with_curl() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (public, private) = rsa_key_pair(dir.path());
    let auth = JwtAuth::new("micro", &public, Some(&private)).unwrap();
    let scope = "streaming.Streamer.Ping=ping";
    let server = HttpServer::start(&fleet, &["--scope", scope, "--auth-public-key", &public]);
    let base = server.url.trim_end_matches("/mcp").to_owned();
    let (tools_url, call_url) = (format!("{base}/mcp/tools"), format!("{base}/mcp/call"));

    let Some((code, listing, _)) = curl(&[&tools_url]).await else {
        return;
    };
    assert_eq!(code, 200, "{listing}");
    let tools = listing["tools"].as_array().unwrap();
    let greeting = tools.iter().find(|tool| tool["name"] == GREETING);
    let greeting = greeting.unwrap_or_else(|| panic!("no {GREETING}: {listing}"));
    assert_eq!(
        greeting["inputSchema"]["properties"]["name"]["type"], "string",
        "{greeting:#}"
    );
    assert!(greeting["description"].as_str().unwrap().contains("Hello"));
    let ping = tools
        .iter()
        .find(|tool| tool["name"] == "streaming.Streamer.Ping");
    assert_eq!(ping.unwrap()["scopes"], json!(["ping"]));

    let greet = json!({"tool": GREETING, "input": {"name": "ann"}});
    let (code, reply, headers) = post_json(&call_url, greet, &[]).await;
    assert_eq!(code, 200, "{reply}");
    assert_eq!(reply["result"], json!({"message": "Hello ann"}));
    let trace = reply["trace_id"].as_str().unwrap();
    assert!(
        headers.contains(&format!("mcp-trace-id: {trace}")),
        "{headers}"
    );

    // Bad arguments, an unknown tool, a missing scope: go-micro's error JSON and statuses.
    let bad = json!({"tool": GREETING, "input": {"name": 7}});
    let (code, error, _) = post_json(&call_url, bad, &[]).await;
    assert_eq!((code, &error["code"]), (400, &json!(400)), "{error}");
    assert!(
        error["detail"].as_str().unwrap().contains("name"),
        "{error}"
    );
    let unknown = json!({"tool": "nope.Nope.Nope", "input": {}});
    let (code, error, _) = post_json(&call_url, unknown, &[]).await;
    assert_eq!(code, 404, "{error}");
    assert!(
        error["detail"].as_str().unwrap().contains("/mcp/tools"),
        "{error}"
    );
    let (code, error, _) = post_json(&call_url, json!({"name": GREETING}), &[]).await;
    assert_eq!(code, 400, "{error}");
    let ping = json!({"tool": "streaming.Streamer.Ping", "input": {"text": "hi"}});
    let (code, error, _) = post_json(&call_url, ping.clone(), &[]).await;
    assert_eq!(code, 401, "{error}");
    let bearer = format!(
        "Authorization: Bearer {}",
        token(&auth, "pat", &["ping"]).await
    );
    let (code, reply, _) = post_json(&call_url, ping, &[&bearer]).await;
    assert_eq!(
        (code, &reply["result"]),
        (200, &json!({"text": "hi"})),
        "{reply}"
    );

    let (code, health, _) = curl(&[&format!("{base}/health")]).await.unwrap();
    assert_eq!((code, &health["status"]), (200, &json!("ok")), "{health}");
    assert_eq!(health["tools"], json!(tools.len()));
    // A page of another site reaching the server through a rebound DNS name.
    let (code, error, _) = curl(&["-H", "Host: evil.example", &tools_url])
        .await
        .unwrap();
    assert_eq!(code, 403, "{error}");
    drop(server);
    fleet.stop().await;
}

#[tokio::test]
async fn list_and_test_work_from_the_command_line() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let listing = ok(&fleet.micro(&["mcp", "list"]).await);
    assert!(listing.contains(GREETING), "{listing}");
    assert!(listing.contains("streaming.Streamer.Shout"), "{listing}");

    let json_listing: Value =
        serde_json::from_str(&ok(&fleet.micro(&["mcp", "list", "-o", "json"]).await)).unwrap();
    let names: Vec<&str> = json_listing
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&GREETING), "{names:?}");

    let reply = ok(&fleet
        .micro(&["-o", "json", "mcp", "test", GREETING, r#"{"name":"carol"}"#])
        .await);
    assert_eq!(reply.trim(), r#"{"message":"Hello carol"}"#);

    let bad = failed(
        &fleet
            .micro(&["mcp", "test", GREETING, r#"{"name":1}"#])
            .await,
    );
    assert!(bad.contains("400") && bad.contains("name"), "{bad}");
    let unknown = failed(
        &fleet
            .micro(&["mcp", "test", "helloworld.Nope.Nope", "{}"])
            .await,
    );
    assert!(unknown.contains("micro mcp list"), "{unknown}");
    // The other naming is called too.
    let reply = ok(&fleet
        .micro(&[
            "-o",
            "json",
            "mcp",
            "test",
            "helloworld_Helloworld_Greeting",
            "{}",
        ])
        .await);
    assert_eq!(reply.trim(), r#"{"message":"Hello "}"#);
    fleet.stop().await;
}

/// Claude Desktop and OpenAI refuse a tool list with names outside `^[a-zA-Z0-9_-]{1,64}$`;
/// `--tool-names underscore` serves names they take, and calls (and `--scope`) keep working
/// with either naming.
#[tokio::test]
async fn underscore_names_are_what_strict_clients_take() {
    let (Some(python), Some(fleet)) = (python_with_mcp(), Fleet::start().await) else {
        return;
    };
    let scope = format!("{GREETING}=greet");
    let server = HttpServer::start(&fleet, &["--tool-names", "underscore", "--scope", &scope]);
    let safe = "helloworld_Helloworld_Greeting";
    let calls = json!([
        { "tool": safe, "arguments": { "name": "ann" } },
        { "tool": "streaming_Streamer_Ping", "arguments": { "text": "hi" } },
        { "tool": "streaming.Streamer.Ping", "arguments": { "text": "dotted" } },
    ]);
    let report = drive(&python, json!({ "url": server.url, "calls": calls })).await;
    let names = tool_names(&report);
    assert!(names.contains(&safe), "{names:?}");
    let strict = |name: &&str| {
        (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    assert!(names.iter().all(strict), "{names:?}");
    // The scope given under go-micro's name holds under the other one.
    let denied = &report["results"][0];
    assert_eq!(denied["is_error"], true, "{denied:#}");
    assert_eq!(denied["structured_content"]["code"], 403, "{denied:#}");
    assert_eq!(
        report["results"][1]["structured_content"],
        json!({ "text": "hi" })
    );
    assert_eq!(
        report["results"][2]["structured_content"],
        json!({ "text": "dotted" })
    );
    drop(server);
    fleet.stop().await;
}

#[tokio::test]
async fn a_service_that_registers_later_is_announced_to_a_listening_client() {
    announces_new_tools("auto", "listen").await;
}

#[tokio::test]
async fn a_service_that_registers_later_is_announced_in_a_legacy_session() {
    announces_new_tools("legacy", "legacy").await;
}

/// A client (protocol `mode`, told of changes as `watch` says) lists the tools; a service
/// registers; the client is told, lists again and sees its tools.
async fn announces_new_tools(mode: &str, watch: &str) {
    let (Some(python), Some(fleet)) = (python_with_mcp(), Fleet::start().await) else {
        return;
    };
    let mut command = vec![MICRO.to_owned(), "mcp".into(), "serve".into()];
    command.extend(fleet.registry_args());
    let plan = json!({ "stdio": command, "mode": mode, "watch": watch });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let mut client = Command::new(&python)
        .arg(script)
        .arg(plan.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    let lines = lines_of(client.stdout.take().unwrap());
    let first = next_line(&lines, "the client lists the tools").await;
    assert_eq!(first, "listed");

    let greeter = support::serve(
        micro::Service::new("greeter").handle(examples::helloworld::HelloworldServer::new(
            support::Greeter,
        )),
        &fleet.registry,
    )
    .await;
    let last = next_line(&lines, "the client hears of the new service").await;
    let report: Value = serde_json::from_str(&last).unwrap();
    let before: Vec<&Value> = report["tools"].as_array().unwrap().iter().collect();
    assert!(
        before
            .iter()
            .all(|tool| tool["name"] != "greeter.Helloworld.Greeting")
    );
    let after = &report["tools_after"];
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .any(|tool| tool["name"] == "greeter.Helloworld.Greeting"),
        "{after:#}"
    );
    assert!(client.wait().unwrap().success());
    greeter.stop().await.unwrap();
    fleet.stop().await;
}

type Lines = Arc<Mutex<std::sync::mpsc::Receiver<String>>>;

/// The lines `stdout` prints, read by a thread of their own.
fn lines_of(stdout: std::process::ChildStdout) -> Lines {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    Arc::new(Mutex::new(receiver))
}

/// The next line, within 30 seconds.
async fn next_line(lines: &Lines, what: &str) -> String {
    let lines = lines.clone();
    tokio::task::spawn_blocking(move || {
        let lines = lines.lock().unwrap();
        lines.recv_timeout(Duration::from_secs(30))
    })
    .await
    .unwrap()
    .unwrap_or_else(|_| panic!("{what} within 30 s"))
}
