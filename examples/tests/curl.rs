//! go-micro's README call, byte for byte, with the real curl against the helloworld binary.

mod support;

use std::process::Command;

use support::Example;

fn curl(args: &[&str]) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), code.to_owned())
}

#[test]
fn the_go_micro_readme_curl_command() {
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &[]);
    let url = format!("http://localhost:{}", server.addr.port());
    // As in go-micro's README, with the port of this test's server.
    let (body, code) = curl(&[
        "-XPOST",
        "-H",
        "Content-Type: application/json",
        "-H",
        "Micro-Endpoint: Helloworld.Greeting",
        "-d",
        r#"{"name": "alice"}"#,
        &url,
    ]);
    assert_eq!(
        (body.as_str(), code.as_str()),
        ("{\"message\":\"Hello alice\"}\n", "200")
    );
}

#[test]
fn curl_to_the_grpc_path_and_curls_mistakes() {
    let server = Example::start(env!("CARGO_BIN_EXE_helloworld"), &[]);
    let url = format!("{}/helloworld.Helloworld/Greeting", server.url());
    let json = ["-H", "Content-Type: application/json"];
    let (body, code) = curl(&[&json[..], &["-d", r#"{"name":"bob"}"#, &url]].concat());
    assert_eq!(
        (body.as_str(), code.as_str()),
        (r#"{"message":"Hello bob"}"#, "200")
    );

    // Forgot the content type: curl sends a form; the answer says what to send.
    let (body, code) = curl(&["-d", r#"{"name":"bob"}"#, &url]);
    assert_eq!(code, "415");
    assert!(
        body.contains("application/x-www-form-urlencoded") && body.contains("application/json"),
        "{body}"
    );

    // Wrong type for a field.
    let (body, code) = curl(&[&json[..], &["-d", r#"{"name":1}"#, &url]].concat());
    assert_eq!(code, "400");
    assert!(body.contains("at `name`"), "{body}");

    // Unknown endpoint, go-micro style: lists the ones there are.
    let unknown = [
        "-H",
        "Micro-Endpoint: Helloworld.Farewell",
        "-d",
        "{}",
        &server.url(),
    ];
    let (body, code) = curl(&[&json[..], &unknown[..]].concat());
    assert_eq!(code, "404");
    assert!(body.contains("Helloworld.Greeting"), "{body}");
}

#[test]
fn the_services_own_port_answers_its_google_api_http_rules() {
    let server = Example::start(env!("CARGO_BIN_EXE_greeter-http"), &[]);
    // curl with `args` to `path` on the service: (body, status).
    let answer = |args: &[&str], path: &str| {
        let url = format!("{}{path}", server.url());
        let (body, code) = curl(&[args, &[url.as_str()]].concat());
        (body, code.parse::<u16>().unwrap())
    };
    let ok = |json: &str| (format!("{json}\n"), 200);
    // A path variable and typed, nested query parameters.
    let greet = "/v1/greet/bob?options.greeting=Hi&options.times=2&options.shout=true";
    assert_eq!(answer(&[], greet), ok(r#"{"message":"HI BOB HI BOB"}"#));
    let escaped = answer(&[], "/v1/greet/al%20ice");
    assert_eq!(escaped, ok(r#"{"message":"Hello al ice"}"#));
    // The body: the whole request (`*`), or one field of it.
    let json = ["-H", "Content-Type: application/json"];
    let carol = [&json[..], &["-d", r#"{"name":"carol"}"#]].concat();
    assert_eq!(
        answer(&carol, "/v1/greet"),
        ok(r#"{"message":"Hello carol"}"#)
    );
    let howdy = ["-X", "PUT", "-d", r#"{"greeting":"Howdy"}"#];
    let put = answer(&howdy, "/v1/greetings/dave");
    assert_eq!(put, ok(r#"{"message":"Howdy dave"}"#));
    // A page on another origin may PUT too: the CORS preflight allows the rules' methods.
    let preflight = [
        "-i",
        "-X",
        "OPTIONS",
        "-H",
        "Origin: https://app.example",
        "-H",
        "Access-Control-Request-Method: PUT",
    ];
    let (headers, code) = answer(&preflight, "/v1/greetings/dave");
    assert_eq!(code, 200, "{headers}");
    let allowed = (headers.lines())
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("access-control-allow-methods")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(allowed.contains(method), "{method} not in {allowed:?}");
    }
    // `response_body`: the reply's one field.
    assert_eq!(answer(&[], "/v1/greet/erin/message"), ok(r#""Hello erin""#));
    // Headers reach the handler as metadata, as on every other route.
    let echo = answer(&["-H", "X-Request-Id: r-1"], "/v1/echo");
    assert_eq!(echo, ok(r#"{"metadata":{"x-request-id":"r-1"}}"#));

    // The handler's error: go-micro's error JSON with the matching HTTP status.
    let fail = [&json[..], &["-d", r#"{"message":"no such greeting"}"#]].concat();
    let (body, code) = answer(&fail, "/v1/fail/5");
    assert_eq!(code, 404, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["id"], "greeter");
    assert_eq!(error["detail"], "no such greeting");
    // A query parameter naming no field says which fields there are.
    let (body, code) = answer(&[], "/v1/greet/bob?colour=red");
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("`colour`") && body.contains("name, options"),
        "{body}"
    );
    // A server stream: Server-Sent Events, each the reply's `response_body` field, then `end`.
    let (events, code) = answer(&["-N", "-i"], "/v1/countdown/3");
    assert_eq!(code, 200, "{events}");
    assert!(
        events
            .to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{events}"
    );
    let data = "data: {\"remaining\":3}\n\ndata: {\"remaining\":2}\n\ndata: {\"remaining\":1}\n\n";
    assert!(
        events.ends_with(&format!("{data}event: end\ndata: {{}}\n\n")),
        "{events}"
    );
    // Failing before its first reply, the stream is an error answer with its status.
    let (body, code) = answer(&[], "/v1/countdown/1001");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("at most 1000"), "{body}");
    // Client and bidirectional streams take their requests as a body of JSON messages (one
    // per line, as grpc-gateway takes them), each put where the rule puts the body.
    let votes = ["-d", "\"yes\"\n\"no\"\n\"yes\"\n"];
    let (body, code) = answer(&votes, "/v1/polls/lunch/votes");
    assert_eq!(code, 200, "{body}");
    let tally: serde_json::Value = serde_json::from_str(&body).unwrap();
    let expected = r#"{"poll":"lunch","votes":{"yes":2,"no":1},"total":3}"#;
    assert_eq!(
        tally,
        serde_json::from_str::<serde_json::Value>(expected).unwrap()
    );
    // The handler's error for a bad message, and a message that is not JSON at all.
    let (body, code) = answer(&["-d", "\"yes\" \"\""], "/v1/polls/lunch/votes");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("a vote without a choice"), "{body}");
    let (body, code) = answer(&["-d", "\"yes\"\nyes"], "/v1/polls/lunch/votes");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("request message 2 is not JSON"), "{body}");
    // A bidirectional stream answers with events, one per reply, as they come.
    let lines = ["-N", "-d", "{\"text\":\"hi\"}\n{\"text\":\"bye\"}"];
    let (events, code) = answer(&lines, "/v1/rooms/den/lines");
    assert_eq!(code, 200, "{events}");
    let said = "data: {\"room\":\"den\",\"text\":\"[den] hi\"}\n\n\
                data: {\"room\":\"den\",\"text\":\"[den] bye\"}\n\n";
    assert_eq!(events, format!("{said}event: end\ndata: {{}}\n\n"));

    // HEAD is GET without the body; a rule's path with another method is 405 with `Allow`;
    // a path no rule takes is 404 listing the rules.
    let (head, code) = answer(&["-I"], "/v1/greet/bob");
    assert_eq!(code, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(!head.contains("Hello bob"), "{head}");
    let (body, code) = answer(&["-i"], "/v1/greet");
    assert_eq!(code, 405, "{body}");
    assert!(body.to_ascii_lowercase().contains("allow: post"), "{body}");
    let (body, code) = answer(&[], "/v2/greet/bob");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("GET /v1/greet/{name}"), "{body}");

    // The method's own paths are not rules: Connect and go-micro calls work as before.
    let fay = [&json[..], &["-d", r#"{"name":"fay"}"#]].concat();
    let connect = answer(&fay, "/greeter.Greeter/Greet");
    assert_eq!(connect, (r#"{"message":"Hello fay"}"#.to_owned(), 200));
    let endpoint = [
        "-H",
        "Micro-Endpoint: Greeter.Greet",
        "-d",
        r#"{"name":"gus"}"#,
    ];
    let go_micro = answer(&[&json[..], &endpoint[..]].concat(), "/v1/greet");
    assert_eq!(go_micro, ok(r#"{"message":"Hello gus"}"#));
}
