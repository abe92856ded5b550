//! docs/auth.md, run for real: helloworld started with `--auth jwt` and shared keys refuses
//! curl without a token (go-micro's 401 JSON), serves it with one, and helloworld-client, given
//! an account made by auth-account, calls it with tokens it gets and refreshes itself.

mod support;

use std::process::Command;

use support::{Example, assert_all_failed, assert_all_ok, load};

const SERVER: &str = env!("CARGO_BIN_EXE_helloworld");
const CLIENT: &str = env!("CARGO_BIN_EXE_helloworld-client");
const ACCOUNT: &str = env!("CARGO_BIN_EXE_auth-account");

fn curl(url: &str, token: Option<&str>) -> (String, String) {
    let mut command = Command::new("curl");
    command.args([
        "-sS",
        "-w",
        "\n%{http_code}",
        "-XPOST",
        "-H",
        "Content-Type: application/json",
    ]);
    command.args([
        "-H",
        "Micro-Endpoint: Helloworld.Greeting",
        "-d",
        r#"{"name":"alice"}"#,
    ]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let output = command.arg(url).output().expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), code.to_owned())
}

#[test]
fn two_services_with_jwt_auth() {
    let dir = tempfile::tempdir().unwrap();
    let (public, private) = micro_test_support::rsa_key_pair(dir.path());
    let auth = [
        "--auth",
        "jwt",
        "--auth-public-key",
        &public,
        "--auth-private-key",
        &private,
    ];
    let server = Example::start(SERVER, &auth);

    let (body, code) = curl(&server.url(), None);
    assert_eq!(code, "401", "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["id"], "helloworld");
    assert_eq!(error["status"], "Unauthorized");

    let output = Command::new(ACCOUNT)
        .args(["frontend", "--scope", "service"])
        .args(auth)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    let value = |key: &str| {
        printed
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} missing from {printed}"))
            .to_owned()
    };
    let (body, code) = curl(&server.url(), Some(&value("TOKEN")));
    assert_eq!(
        (body.as_str(), code.as_str()),
        ("{\"message\":\"Hello alice\"}\n", "200")
    );

    let address = server.addr.to_string();
    let (id, secret) = (value("MICRO_AUTH_ID"), value("MICRO_AUTH_SECRET"));
    let account = [&auth[..], &["--auth-id", &id, "--auth-secret", &secret]].concat();
    assert_all_ok(&load(CLIENT, &address, 200, &account), 200);
    assert_all_failed(&load(CLIENT, &address, 200, &[]), 200);
}
