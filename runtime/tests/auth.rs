//! Auth enforced on a real service: JWT tokens checked and rules applied on every protocol
//! (the generated gRPC client, curl on go-micro's JSON path, Connect), public endpoints and
//! built-ins, and a service account whose tokens are refreshed across expiry under load.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use micro::auth::{
    Auth, GenerateOptions, JwtAuth, MemoryRules, Resource, Rule, Rules, SCOPE_ACCOUNT,
    SCOPE_PUBLIC, ServerAuth, TokenRequest, TokenSource,
};
use micro::{Client, Code, RunningService, Status};
use support::kitchen::{GetRequest, KitchenClient, ListRequest, PantryClient};
use support::types::Item;
use support::{TestKitchen, kitchen_service};
use tokio::task::JoinSet;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn kitchen_endpoint(endpoint: &str) -> Resource {
    Resource::service("kitchen", endpoint)
}

/// Any account may use the kitchen, except Echo (a higher-priority deny); Pantry.Count needs the
/// `chef` scope; Kitchen.List is public by rule.
fn rules() -> MemoryRules {
    MemoryRules::from_rules(vec![
        Rule::grant("kitchen", SCOPE_ACCOUNT, kitchen_endpoint("Kitchen.*")),
        Rule::deny("no-echo", SCOPE_ACCOUNT, kitchen_endpoint("Kitchen.Echo")).priority(10),
        Rule::grant("chefs-count", "chef", kitchen_endpoint("Pantry.Count")),
        Rule::grant("menu", SCOPE_PUBLIC, kitchen_endpoint("Kitchen.List")),
    ])
}

/// A kitchen checking tokens from `auth` against [`rules`], with Kitchen.Type public.
async fn start(
    auth: &Arc<JwtAuth>,
    configure: impl FnOnce(ServerAuth) -> ServerAuth,
) -> RunningService {
    let server =
        configure(ServerAuth::new(auth.clone(), Arc::new(rules())).public(["Kitchen.Type"]));
    kitchen_service(TestKitchen::default())
        .auth(server)
        .start()
        .await
        .expect("kitchen starts")
}

fn jwt() -> Arc<JwtAuth> {
    Arc::new(JwtAuth::generate_keys("micro").expect("keys"))
}

async fn token(auth: &JwtAuth, id: &str, scopes: &[&str]) -> String {
    let account = auth
        .generate(
            id,
            GenerateOptions::default().scopes(scopes.iter().copied()),
        )
        .await
        .unwrap();
    auth.token(TokenRequest::credentials(id, &account.secret))
        .await
        .unwrap()
        .access_token
}

fn clients(addr: SocketAddr) -> (KitchenClient, PantryClient) {
    let client = Client::connect(&addr.to_string()).expect("client");
    (
        KitchenClient::new(client.clone()),
        PantryClient::new(client),
    )
}

fn get(id: &str) -> GetRequest {
    GetRequest { id: id.into() }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn assert_status(result: Result<impl std::fmt::Debug, Status>, code: Code, says: &str) {
    let status = result.expect_err("the call should be refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(says),
        "`{}` lacks `{says}`",
        status.message()
    );
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let auth = jwt();
    let service = start(&auth, |s| s).await;
    let (kitchen, _) = clients(service.local_addr());

    let none = kitchen.get(get("account")).await;
    assert_status(none, Code::Unauthenticated, "Authorization: Bearer");

    let forged = token(&jwt(), "mallory", &[]).await;
    let bad = kitchen
        .get(get("account"))
        .metadata("authorization", &bearer(&forged))
        .await;
    assert_status(bad, Code::Unauthenticated, "invalid token");

    let malformed = kitchen
        .get(get("account"))
        .metadata("authorization", "Basic YWxpY2U6eA==")
        .await;
    assert_status(malformed, Code::Unauthenticated, "Bearer <token>");

    let account = auth
        .generate("alice", GenerateOptions::default())
        .await
        .unwrap();
    let short = auth
        .token(TokenRequest::credentials("alice", &account.secret).expiry(Duration::from_secs(1)))
        .await
        .unwrap();
    let fresh = kitchen
        .get(get("account"))
        .metadata("authorization", &bearer(&short.access_token))
        .await
        .expect("a fresh token is accepted");
    assert_eq!(fresh.note.as_deref(), Some("alice "));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = kitchen
        .get(get("account"))
        .metadata("authorization", &bearer(&short.access_token))
        .await;
    assert_status(expired, Code::Unauthenticated, "expired");
}

#[tokio::test]
async fn rules_decide_what_an_account_may_call() {
    let auth = jwt();
    let service = start(&auth, |s| s).await;
    let (kitchen, pantry) = clients(service.local_addr());
    let cook = bearer(&token(&auth, "cook", &["staff"]).await);
    let chef = bearer(&token(&auth, "chef", &["staff", "chef"]).await);

    // Kitchen.* covers Get for any account, and the handler sees who called.
    let item = kitchen
        .get(get("account"))
        .metadata("authorization", &chef)
        .await
        .unwrap();
    assert_eq!(item.note.as_deref(), Some("chef staff,chef"));

    // The higher-priority deny beats the Kitchen.* grant.
    let echo = kitchen
        .echo(Item::default())
        .metadata("authorization", &chef)
        .await;
    assert_status(echo, Code::PermissionDenied, "no-echo");

    // Pantry.Count needs the chef scope.
    let count = pantry.count(()).metadata("authorization", &cook).await;
    assert_status(count, Code::PermissionDenied, "Pantry.Count");
    assert_eq!(
        pantry
            .count(())
            .metadata("authorization", &chef)
            .await
            .unwrap()
            .stored,
        42
    );

    // Rules are live: revoking the deny lets Echo through.
    let rules = rules();
    rules.revoke("no-echo").unwrap();
    let relaxed = start(&auth, |_| ServerAuth::new(auth.clone(), Arc::new(rules))).await;
    let (kitchen, _) = clients(relaxed.local_addr());
    kitchen
        .echo(Item::default())
        .metadata("authorization", &chef)
        .await
        .unwrap();
}

#[tokio::test]
async fn public_endpoints_and_builtins_need_no_token() {
    let auth = jwt();
    let service = start(&auth, |s| s).await;
    let (kitchen, _) = clients(service.local_addr());

    // Public by rule (scope "") and by ServerAuth::public.
    let mut items = kitchen
        .list(ListRequest {
            limit: Some(2),
            ..ListRequest::default()
        })
        .await
        .unwrap();
    let mut listed = 0;
    while items.recv().await.unwrap().is_some() {
        listed += 1;
    }
    assert_eq!(listed, 2);
    kitchen.r#type(()).await.expect("Kitchen.Type is public");

    // Health is public by default, and checked once protected.
    health(&service)
        .await
        .check(HealthCheckRequest::default())
        .await
        .expect("health is public");

    let guarded = start(&auth, ServerAuth::protect_builtins).await;
    let refused = health(&guarded)
        .await
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    let mut request = tonic::Request::new(HealthCheckRequest::default());
    let cook = bearer(&token(&auth, "cook", &[]).await);
    request
        .metadata_mut()
        .insert("authorization", cook.parse().unwrap());
    let allowed = start(&auth, |_| {
        let rules = rules();
        rules
            .grant(Rule::grant(
                "health",
                SCOPE_ACCOUNT,
                kitchen_endpoint("Health.*"),
            ))
            .unwrap();
        ServerAuth::new(auth.clone(), Arc::new(rules)).protect_builtins()
    })
    .await;
    health(&allowed)
        .await
        .check(request)
        .await
        .expect("granted by the Health.* rule");
}

/// A health client of `service`, over tonic's own channel.
async fn health(service: &RunningService) -> HealthClient<tonic::transport::Channel> {
    let addr = format!("http://{}", service.local_addr());
    let channel = tonic::transport::Channel::from_shared(addr).unwrap();
    HealthClient::new(channel.connect().await.unwrap())
}

/// curl on go-micro's JSON path gets go-micro's error JSON with 401 and 403.
#[tokio::test]
async fn curl_gets_go_micro_errors() {
    let auth = jwt();
    let service = start(&auth, |s| s).await;
    let url = format!("http://{}", service.local_addr());
    let curl = |endpoint: &str, body: &str, token: Option<&str>| {
        let mut args: Vec<String> = ["-s", "-XPOST", "-w", "\n%{http_code}"]
            .map(String::from)
            .into();
        args.extend(["-H".into(), "Content-Type: application/json".into()]);
        args.extend([
            "-H".into(),
            format!("Micro-Endpoint: {endpoint}"),
            "-d".into(),
            body.into(),
        ]);
        if let Some(token) = token {
            args.extend(["-H".into(), format!("Authorization: Bearer {token}")]);
        }
        args.push(url.clone());
        // curl blocks: off the runtime's thread, which also serves the kitchen.
        async move {
            let output =
                tokio::task::spawn_blocking(move || Command::new("curl").args(&args).output())
                    .await
                    .unwrap()
                    .expect("curl runs (scripts/test.sh installs it)");
            let text = String::from_utf8(output.stdout).unwrap();
            let (body, code) = text.rsplit_once('\n').unwrap();
            (
                code.to_owned(),
                serde_json::from_str::<serde_json::Value>(body).unwrap_or_default(),
            )
        }
    };

    let (code, error) = curl("Kitchen.Get", r#"{"id":"account"}"#, None).await;
    assert_eq!(code, "401");
    assert_eq!(error["code"], 401);
    assert_eq!(error["status"], "Unauthorized");
    assert_eq!(error["id"], "kitchen");
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("Kitchen.Get needs an account"),
        "{error}"
    );

    let cook = token(&auth, "cook", &["staff"]).await;
    let (code, reply) = curl("Kitchen.Get", r#"{"id":"account"}"#, Some(&cook)).await;
    assert_eq!(code, "200", "{reply}");
    assert_eq!(reply["note"], "cook staff");

    let (code, error) = curl("Pantry.Count", "{}", Some(&cook)).await;
    assert_eq!(code, "403");
    assert_eq!(error["status"], "Forbidden");
    assert!(
        error["detail"].as_str().unwrap().contains("Pantry.Count"),
        "{error}"
    );
}

/// Connect and gRPC-Web go through the same check.
#[tokio::test]
async fn every_protocol_is_checked() {
    let auth = jwt();
    let service = start(&auth, |s| s).await;
    let addr = service.local_addr();
    let path = "/fixtures.kitchen.Kitchen/Get";
    let connect = support::post(
        addr,
        path,
        &[("content-type", "application/json")],
        r#"{"id":"x"}"#,
        false,
    )
    .await;
    assert_eq!(connect.status, 401);
    assert_eq!(connect.json()["code"], "unauthenticated");

    let web = support::post(
        addr,
        path,
        &[("content-type", "application/grpc-web+proto")],
        support::frame(b"\x0a\x01x"),
        false,
    )
    .await;
    assert_eq!(
        web.grpc_status(),
        Some(Code::Unauthenticated as i32),
        "{:?}",
        web.headers
    );

    let cook = bearer(&token(&auth, "cook", &[]).await);
    let headers = [
        ("content-type", "application/json"),
        ("authorization", cook.as_str()),
    ];
    let allowed = support::post(addr, path, &headers, r#"{"id":"x"}"#, false).await;
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.json()["id"], "x");
}

/// A service account's tokens live two seconds; eight callers keep calling for five seconds
/// while they are refreshed in the background: no call fails and several tokens are used.
#[tokio::test]
async fn service_tokens_are_refreshed_across_expiry_with_calls_in_flight() {
    let auth = jwt();
    let service = start(&auth, |s| s).await;
    let account = auth
        .generate("frontend", GenerateOptions::service())
        .await
        .unwrap();
    let source = Arc::new(
        TokenSource::new(auth.clone(), "frontend", &account.secret)
            .token_expiry(Duration::from_secs(2)),
    );
    let client = Client::builder()
        .address(service.local_addr().to_string())
        .token_source(source)
        .build()
        .unwrap();
    let kitchen = KitchenClient::new(client);
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut callers = JoinSet::new();
    for _ in 0..8 {
        let (kitchen, seen) = (kitchen.clone(), seen.clone());
        callers.spawn(async move {
            let mut calls = 0;
            while tokio::time::Instant::now() < until {
                let item = kitchen
                    .get(get("meta:authorization"))
                    .await
                    .expect("no call fails");
                seen.lock().unwrap().insert(item.note.unwrap_or_default());
                calls += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            calls
        });
    }
    let calls: usize = callers.join_all().await.into_iter().sum();
    let tokens = seen.lock().unwrap().len();
    assert!(calls > 100, "only {calls} calls");
    assert!(tokens >= 3, "{tokens} tokens over 5 s of 2 s tokens");
}

/// Flags build the same thing: `--auth jwt`, keys, a rules file, the service's own account.
#[tokio::test]
async fn flags_configure_auth() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        micro: micro::Flags,
    }

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"[{"ID":"kitchen","Scope":"service","Resource":{"Type":"service","Name":"kitchen","Endpoint":"*"},"Access":0}]"#,
    )
    .unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (public, private) = micro_test_support::rsa_key_pair(keys.path());
    let signer = JwtAuth::new("micro", &public, Some(&private)).unwrap();
    let account = signer
        .generate("frontend", GenerateOptions::service())
        .await
        .unwrap();
    let flags = |extra: &[&str]| {
        let mut args = vec![
            "svc",
            "--auth",
            "jwt",
            "--auth-public-key",
            &public,
            "--auth-private-key",
            &private,
        ];
        args.extend([
            "--auth-rules",
            rules.to_str().unwrap(),
            "--server-address",
            "127.0.0.1:0",
        ]);
        args.extend(extra);
        Cli::parse_from(args).micro
    };
    let service = kitchen_service(TestKitchen::default())
        .flags(flags(&[]))
        .start()
        .await
        .unwrap();

    let frontend = micro::Service::new("frontend")
        .registry(support::memory_registry())
        .flags(flags(&[
            "--auth-id",
            "frontend",
            "--auth-secret",
            &account.secret,
        ]));
    let client = frontend.client().unwrap();
    let kitchen = KitchenClient::new(client.clone());
    let item = kitchen
        .get(get("account"))
        .address(&service.local_addr().to_string())
        .await
        .unwrap();
    assert_eq!(item.note.as_deref(), Some("frontend service"));

    let anonymous = micro::Service::new("anonymous")
        .registry(support::memory_registry())
        .flags(flags(&[]));
    let kitchen = KitchenClient::new(anonymous.client().unwrap());
    let refused = kitchen
        .get(get("account"))
        .address(&service.local_addr().to_string())
        .await;
    assert_status(refused, Code::Unauthenticated, "needs an account");

    let broken = kitchen_service(TestKitchen::default())
        .flags(Cli::parse_from(["svc", "--auth", "jwt", "--auth-public-key", "nonsense"]).micro)
        .start()
        .await
        .unwrap_err();
    assert!(broken.to_string().contains("public key"), "{broken}");
}
