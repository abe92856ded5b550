//! Every `micro` command against live services registered in a real etcd (and, for mDNS,
//! inside a network namespace): human output checked against golden files, `--output json`
//! parsed.

mod support;

use micro::codec::Json;
use micro_test_support::{in_network_namespace, run_in_network_namespace};
use serde_json::Value;
use support::{Fleet, assert_golden, failed, ok};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

/// Replaces what changes between runs (node ids, ports) with placeholders.
fn normalize(text: &str, fleet: &Fleet) -> String {
    let mut text = text.replace(&fleet.etcd.address(), "ETCD");
    for service in fleet.helloworld.iter().chain([&fleet.streaming]) {
        text = text
            .replace(service.id(), "NODE_ID")
            .replace(&service.local_addr().to_string(), "ADDRESS");
    }
    text
}

#[tokio::test]
async fn services_lists_each_service_with_its_nodes() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    assert_golden("services.txt", &ok(&fleet.micro(&["services"]).await));
    let listed = json(&ok(&fleet.micro(&["services", "-o", "json"]).await));
    assert_eq!(listed[0]["name"], "helloworld");
    assert_eq!(listed[0]["nodes"], 2);
    assert_eq!(listed[1]["name"], "streaming");
    assert_eq!(listed[1]["versions"][0], "latest");
    fleet.stop().await;
}

#[tokio::test]
async fn describe_shows_nodes_and_endpoint_fields_from_reflection() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let human = ok(&fleet.micro(&["describe", "streaming"]).await);
    assert_golden("describe_streaming.txt", &normalize(&human, &fleet));

    let described = json(&ok(&fleet
        .micro(&["describe", "helloworld", "-o", "json"])
        .await));
    assert_eq!(
        described["versions"][0]["nodes"].as_array().unwrap().len(),
        2
    );
    let endpoint = &described["endpoints"][0];
    assert_eq!(endpoint["name"], "Helloworld.Greeting");
    assert_eq!(endpoint["request"]["type"], "helloworld.Request");
    assert_eq!(endpoint["request"]["fields"][0]["name"], "name");
    assert_eq!(endpoint["response"]["fields"][0]["type"], "string");
    assert_eq!(
        described["endpoints"].as_array().unwrap().len(),
        1,
        "no gRPC infrastructure"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn call_sends_json_and_metadata_through_discovery() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let reply = ok(&fleet
        .micro(&[
            "call",
            "helloworld",
            "Helloworld.Greeting",
            r#"{"name":"alice"}"#,
        ])
        .await);
    assert_golden("call_greeting.txt", &reply);

    let args = [
        "call",
        "helloworld",
        "Helloworld.Greeting",
        r#"{"name":"bob"}"#,
        "-m",
        "x-team=ops",
        "-o",
        "json",
    ];
    assert_eq!(
        json(&ok(&fleet.micro(&args).await))["message"],
        "Hello bob from ops"
    );
    // go-micro's spelling: `-H 'Key:Value'`.
    let mut go_style = args;
    go_style[4..6].copy_from_slice(&["-H", "X-Team: dev"]);
    assert_eq!(
        json(&ok(&fleet.micro(&go_style).await))["message"],
        "Hello bob from dev"
    );

    // Straight to one node, by its address; the gRPC path works as the endpoint too.
    let address = fleet.helloworld[1].local_addr().to_string();
    let args = [
        "call",
        "helloworld",
        "/helloworld.Helloworld/Greeting",
        r#"{"name":"carol"}"#,
        "--address",
        &address,
        "-o",
        "json",
    ];
    assert_eq!(
        json(&ok(&fleet.micro(&args).await))["message"],
        "Hello carol"
    );
    fleet.stop().await;
}

/// A reader that goes away (`micro services | head -1`) ends micro quietly, not in a panic.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(support::MICRO)
        .args(["--registry", "memory", "-o", "json", "services"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("panicked"),
        "{:?}: {stderr}",
        output.status
    );
}

/// go-micro's names for the gateway (`micro api`, `micro server`) run it.
#[test]
fn go_micro_names_for_the_gateway_run_it() {
    for name in ["api", "server"] {
        let output = support::run(
            std::process::Command::new(support::MICRO).args([name, "--help"]),
            None,
        );
        let help = ok(&output);
        assert!(
            help.contains("API gateway") && help.contains("--address"),
            "{name}: {help}"
        );
    }
}

/// go-micro's dynamic commands: `micro <service> <words> --field=value`.
#[tokio::test]
async fn services_are_commands_with_flags_for_fields() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let call = |args: &[&str]| {
        let mut all = vec!["-o", "json"];
        all.extend(args);
        let all: Vec<String> = all.into_iter().map(str::to_owned).collect();
        let fleet = &fleet;
        async move {
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            fleet.micro(&all).await
        }
    };
    let greeted = ok(&call(&["helloworld", "greeting", "--name=alice"]).await);
    assert_eq!(json(&greeted)["message"], "Hello alice");
    let greeted = ok(&call(&["helloworld", "Helloworld", "Greeting", "--name", "bob"]).await);
    assert_eq!(json(&greeted)["message"], "Hello bob");
    // A method's name alone, when one handler has it; other kinds of call say how to stream.
    let pinged = ok(&call(&["streaming", "ping", "--text=hi"]).await);
    assert_eq!(json(&pinged)["text"], "hi");
    let streams = failed(&call(&["streaming", "count", "--to=2"]).await);
    assert!(streams.contains("micro stream streaming"), "{streams}");

    // The service alone lists its commands; `--help` after one lists its flags.
    let commands = ok(&call(&["streaming"]).await);
    for line in ["streamer ping", "streamer count", "Streamer.Shout"] {
        assert!(commands.contains(line), "{line}: {commands}");
    }
    let flags = ok(&call(&["helloworld", "greeting", "--help"]).await);
    assert!(flags.contains("--name string"), "{flags}");

    // Mistakes name what is wrong.
    let unknown_field = failed(&call(&["helloworld", "greeting", "--colour=red"]).await);
    assert!(
        unknown_field.contains("`colour`") && unknown_field.contains("name"),
        "{unknown_field}"
    );
    let unknown_endpoint = failed(&call(&["helloworld", "shout"]).await);
    assert!(unknown_endpoint.contains("greeting"), "{unknown_endpoint}");
    let unknown = failed(&call(&["nosuch"]).await);
    assert!(
        unknown.contains("unknown command `nosuch`") && unknown.contains("no service `nosuch`"),
        "{unknown}"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn stream_speaks_json_messages_for_every_kind_of_stream() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let counted = ok(&fleet
        .micro(&["stream", "streaming", "Streamer.Count", r#"{"to":3}"#])
        .await);
    assert_eq!(counted, "{\"number\":1}\n{\"number\":2}\n{\"number\":3}\n");

    let input = "{\"value\":40}\n\n{\"value\":2}\n";
    let sum = ok(&fleet
        .micro_with_stdin(&["stream", "streaming", "Streamer.Sum"], input)
        .await);
    assert_eq!(json(&sum), serde_json::json!({"total": "42", "count": 2}));

    let input = "{\"text\":\"hi\"}\n{\"text\":\"bye\"}\n";
    let shouted = ok(&fleet
        .micro_with_stdin(&["stream", "streaming", "Streamer.Shout"], input)
        .await);
    assert_eq!(shouted, "{\"text\":\"HI\"}\n{\"text\":\"BYE\"}\n");

    let bad = failed(
        &fleet
            .micro_with_stdin(
                &["stream", "streaming", "Streamer.Shout"],
                "{\"text\":\"ok\"}\n{\"txt\":1}\n",
            )
            .await,
    );
    assert!(
        bad.contains("request message 2") && bad.contains("txt"),
        "{bad}"
    );

    // Pretty-printed messages read as well as lines, and the argument may hold several.
    let input = "{\n  \"value\": 40\n}\n{\n  \"value\": 2\n}\n";
    let sum = ok(&fleet
        .micro_with_stdin(&["stream", "streaming", "Streamer.Sum"], input)
        .await);
    assert_eq!(json(&sum), serde_json::json!({"total": "42", "count": 2}));
    let sum = ok(&fleet
        .micro(&[
            "stream",
            "streaming",
            "Streamer.Sum",
            r#"{"value":1} {"value":2}"#,
        ])
        .await);
    assert_eq!(json(&sum), serde_json::json!({"total": "3", "count": 2}));

    // A server stream takes one request: a second is refused, not left unsent.
    let two = failed(
        &fleet
            .micro_with_stdin(
                &["stream", "streaming", "Streamer.Count"],
                "{\"to\":1}\n{\"to\":2}\n",
            )
            .await,
    );
    assert!(two.contains("takes one request"), "{two}");

    let unary = failed(
        &fleet
            .micro(&["call", "streaming", "Streamer.Count", "{}"])
            .await,
    );
    assert!(
        unary.contains("micro stream streaming Streamer.Count"),
        "{unary}"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn errors_say_what_happened_and_what_to_do() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let unknown = failed(&fleet.micro(&["call", "nosuch", "Foo.Bar", "{}"]).await);
    assert!(unknown.contains("nosuch"), "{unknown}");
    assert!(
        unknown.contains(&format!("etcd ({})", fleet.etcd.address())),
        "names the registry: {unknown}"
    );
    assert!(
        unknown.contains("--registry") && unknown.contains("micro services"),
        "{unknown}"
    );

    let endpoint = failed(
        &fleet
            .micro(&["call", "helloworld", "Helloworld.Nope", "{}"])
            .await,
    );
    assert!(
        endpoint.contains("Helloworld.Nope") && endpoint.contains("Helloworld.Greeting"),
        "{endpoint}"
    );

    let field = failed(
        &fleet
            .micro(&["call", "helloworld", "Helloworld.Greeting", r#"{"name":7}"#])
            .await,
    );
    assert!(
        field.contains("helloworld.Request") && field.contains("name"),
        "{field}"
    );

    let handler = failed(
        &fleet
            .micro(&[
                "call",
                "helloworld",
                "Helloworld.Greeting",
                r#"{"name":"nobody"}"#,
            ])
            .await,
    );
    assert!(
        handler.contains("NOT_FOUND") && handler.contains("nobody is not here"),
        "{handler}"
    );

    let as_json = failed(&fleet.micro(&["describe", "nosuch", "-o", "json"]).await);
    assert!(
        json(&as_json)["error"]
            .as_str()
            .unwrap()
            .contains("service nosuch not found"),
        "{as_json}"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn health_checks_every_node() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let human = ok(&fleet.micro(&["health", "helloworld"]).await);
    assert_golden("health_helloworld.txt", &normalize(&human, &fleet));
    let checked = json(&ok(&fleet
        .micro(&["health", "helloworld", "-o", "json"])
        .await));
    assert_eq!(checked.as_array().unwrap().len(), 2);
    assert!(
        checked
            .as_array()
            .unwrap()
            .iter()
            .all(|node| node["status"] == "SERVING")
    );

    // A node that is gone is reported, and the command fails.
    let gone = format!("127.0.0.1:{}", micro_test_support::free_port());
    let output = fleet
        .micro(&["health", "helloworld", "--address", &gone, "-o", "json"])
        .await;
    let stderr = failed(&output);
    let reported = json(&support::stdout(&output));
    assert_eq!(reported[0]["status"], "UNREACHABLE");
    assert!(stderr.contains("not serving"), "{stderr}");
    fleet.stop().await;
}

#[tokio::test]
async fn health_shows_each_check_with_its_status_error_and_duration() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let orders = micro::Service::new("orders")
        .check("cache", || async { Ok::<_, std::io::Error>(()) })
        .check("db", || async {
            Err::<(), _>(std::io::Error::other("connection refused"))
        });
    let orders = support::serve(orders, &fleet.registry).await;

    let output = fleet.micro(&["health", "orders", "-o", "json"]).await;
    let stderr = failed(&output);
    assert!(
        stderr.contains("1 of 1 nodes of orders are not serving"),
        "{stderr}"
    );
    let reported = json(&support::stdout(&output));
    let node = &reported[0];
    assert_eq!(node["status"], "NOT_SERVING", "{node:#}");
    assert_eq!(node["ready"], false, "{node:#}");
    let checks = node["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["registered", "serving", "cache", "db"], "{node:#}");
    assert_eq!(checks[2]["status"], "ok");
    assert_eq!(checks[3]["status"], "failing");
    assert_eq!(checks[3]["error"], "connection refused");
    for check in &checks[2..] {
        let took = check["duration_ms"].as_f64().unwrap();
        assert!((0.0..2000.0).contains(&took), "{check}");
    }

    let human = failed_stdout(&fleet.micro(&["health", "orders"]).await);
    let db = human
        .lines()
        .find(|line| line.contains(" db "))
        .unwrap_or_else(|| panic!("no db row:\n{human}"));
    assert!(
        db.contains("failing") && db.contains("connection refused") && db.contains('s'),
        "{human}"
    );
    assert!(human.contains("NOT_SERVING"), "{human}");
    orders.stop().await.unwrap();
    fleet.stop().await;
}

/// Asserts the command failed and returns its stdout.
fn failed_stdout(output: &std::process::Output) -> String {
    failed(output);
    support::stdout(output)
}

#[tokio::test]
async fn publish_reaches_subscribers_with_go_micro_headers() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mailer = micro::Service::new("mailer").subscribe(
        "signups",
        move |ctx: micro::Context, message: Json<Value>| {
            let from = ctx.get("micro-from-service").map(str::to_owned);
            let _ = tx.send((message.0, from));
            async { Ok::<_, micro::Status>(()) }
        },
    );
    let mailer = support::serve(mailer, &fleet.registry).await;

    let published = ok(&fleet
        .micro(&["publish", "signups", r#"{"email":"a@b.c"}"#, "-o", "json"])
        .await);
    assert_eq!(json(&published)["topic"], "signups");
    let (message, from) = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message, serde_json::json!({"email": "a@b.c"}));
    assert_eq!(from.as_deref(), Some("micro"));

    let bad = failed(&fleet.micro(&["publish", "signups", "not json"]).await);
    assert!(bad.contains("not JSON"), "{bad}");
    mailer.stop().await.unwrap();
    fleet.stop().await;
}

#[tokio::test]
async fn services_and_calls_over_mdns() {
    if !in_network_namespace() {
        return run_in_network_namespace("services_and_calls_over_mdns");
    }
    let registry = micro::registry::build("mdns", &[]).unwrap();
    let service = micro::Service::new("helloworld").handle(
        examples::helloworld::HelloworldServer::new(support::Greeter),
    );
    let service = support::serve(service, &registry).await;
    let mdns = || vec!["--registry".to_owned(), "mdns".to_owned()];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let mut args = mdns();
        args.push("services".into());
        let listed = support::micro(args, None).await;
        if support::stdout(&listed).contains("helloworld") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never listed: {}",
            support::stderr(&listed)
        );
    }
    let mut args = mdns();
    args.extend(
        [
            "call",
            "helloworld",
            "Helloworld.Greeting",
            r#"{"name":"mdns"}"#,
            "-o",
            "json",
        ]
        .map(String::from),
    );
    assert_eq!(
        json(&ok(&support::micro(args, None).await))["message"],
        "Hello mdns"
    );
    service.stop().await.unwrap();
}
