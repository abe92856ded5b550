//! Service certificates and mTLS: a kitchen serving TLS with a certificate from the built-in CA
//! and requiring one from callers. The generated client and curl (HTTP/1 JSON on the same TLS
//! port) get through with certificates from the CA; a certificate from another CA is refused
//! at the handshake, a server naming another service is refused by the client, and calls go on
//! across certificate renewals.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use micro::auth::{CertificateAuthority, ClientAuth, ServiceTls};
use micro::{Client, Code, RunningService};
use support::kitchen::{GetRequest, KitchenClient};
use support::{TestKitchen, kitchen_service};

fn ca() -> Arc<CertificateAuthority> {
    Arc::new(CertificateAuthority::generate("micro").expect("a CA"))
}

async fn start(tls: ServiceTls) -> RunningService {
    kitchen_service(TestKitchen::default())
        .tls(tls)
        .start()
        .await
        .expect("kitchen starts")
}

/// A kitchen client calling `service` at the kitchen's address, as `caller`.
fn client(running: &RunningService, tls: &ServiceTls, service: &str) -> KitchenClient {
    let client = Client::builder()
        .address(running.local_addr().to_string())
        .tls(tls, "frontend")
        .retries(0)
        .build()
        .expect("client");
    KitchenClient::new(client).with_service(service)
}

fn get(id: &str) -> GetRequest {
    GetRequest { id: id.into() }
}

#[tokio::test]
async fn callers_with_certificates_from_the_ca_get_through_with_their_identity() {
    let ca = ca();
    let tls = ServiceTls::new(ca.clone());
    let service = start(tls.clone()).await;
    let item = client(&service, &tls, "kitchen")
        .get(get("identity"))
        .await
        .unwrap();
    assert_eq!(item.note.as_deref(), Some("micro://micro/frontend"));
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_at_the_handshake() {
    let tls = ServiceTls::new(ca());
    let service = start(tls.clone()).await;
    let stranger = ServiceTls::new(ca());
    let status = client(&service, &stranger, "kitchen")
        .get(get("x"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("TLS handshake failed"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn a_server_naming_another_service_is_refused() {
    let tls = ServiceTls::new(ca());
    let service = start(tls.clone()).await;
    let status = client(&service, &tls, "billing")
        .get(get("x"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status
            .message()
            .contains("names micro://micro/kitchen, not micro://micro/billing"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn without_client_auth_anonymous_callers_get_in_without_an_identity() {
    let ca = ca();
    let tls = ServiceTls::new(ca.clone()).client_auth(ClientAuth::Optional);
    let service = start(tls.clone()).await;
    let item = client(&service, &tls, "kitchen")
        .get(get("identity"))
        .await
        .unwrap();
    assert_eq!(item.note.as_deref(), Some("micro://micro/frontend"));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.certificate_pem()).unwrap();
    let ca_file = ca_file.display().to_string();
    let (code, body) = curl(&service, &["--cacert", &ca_file]).await;
    assert_eq!(code, "200", "{body}");
    assert!(!body.contains("note"), "no identity: {body}");
}

/// curl speaks HTTP/1.1 JSON to the TLS port, with and without a client certificate.
#[tokio::test]
async fn curl_calls_json_over_mtls() {
    let ca = ca();
    let tls = ServiceTls::new(ca.clone());
    let service = start(tls).await;
    let dir = tempfile::tempdir().unwrap();
    let issued = ca.issue("curl", &[], Duration::from_secs(600)).unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let cacert = file("ca.pem", ca.certificate_pem());
    let cert = file("curl.pem", &issued.cert_pem);
    let key = file("curl.key", &issued.key_pem);
    let options = [
        "--cacert",
        &cacert,
        "--cert",
        &cert,
        "--key",
        &key,
        "--http1.1",
    ];
    let (code, body) = curl(&service, &options).await;
    assert_eq!(code, "200", "{body}");
    assert_eq!(
        body.trim(),
        r#"{"id":"identity","note":"micro://micro/curl"}"#
    );

    let (code, _) = curl(&service, &["--cacert", &cacert]).await;
    assert_eq!(code, "000", "no client certificate, no connection");
}

/// A JSON call to Kitchen.Get `identity` over https with these curl options: HTTP code, body.
async fn curl(service: &RunningService, options: &[&str]) -> (String, String) {
    let url = format!("https://localhost:{}", service.local_addr().port());
    let mut args: Vec<String> = options.iter().map(|o| o.to_string()).collect();
    args.extend(
        [
            "-s",
            "-w",
            "\n%{http_code}",
            "-XPOST",
            "-H",
            "Content-Type: application/json",
        ]
        .map(String::from),
    );
    args.extend(
        [
            "-H",
            "Micro-Endpoint: Kitchen.Get",
            "-d",
            r#"{"id":"identity"}"#,
        ]
        .map(String::from),
    );
    args.push(url);
    // curl blocks: off the runtime's thread, which also serves the kitchen.
    let output = tokio::task::spawn_blocking(move || Command::new("curl").args(&args).output())
        .await
        .unwrap()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_owned(), body.to_owned())
}

/// Certificates living three seconds are renewed after two; fresh connections made after the
/// first certificate expired still get through, and no call fails meanwhile.
#[tokio::test]
async fn certificates_are_renewed_without_dropping_calls() {
    let tls = ServiceTls::new(ca()).lifetime(Duration::from_secs(3));
    let service = start(tls.clone()).await;
    let steady = client(&service, &tls, "kitchen");
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut calls = 0;
    while tokio::time::Instant::now() < until {
        steady
            .get(get("x"))
            .await
            .expect("the open connection keeps working");
        // A new client: a new connection and handshake with the certificates of the moment.
        client(&service, &tls, "kitchen")
            .get(get("x"))
            .await
            .expect("a new handshake works");
        calls += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(calls > 20, "{calls} rounds");
}

/// With auth too, a certificate counts as its service's account for the rules.
#[tokio::test]
async fn a_certificate_is_an_account_for_the_rules() {
    use micro::auth::{MemoryRules, NoopAuth, Resource, Rule, ServerAuth};

    let tls = ServiceTls::new(ca());
    let rules = MemoryRules::from_rules(vec![Rule::grant(
        "services",
        "service",
        Resource::service("kitchen", "Kitchen.*"),
    )]);
    let auth = ServerAuth::new(Arc::new(NoopAuth::new("micro")), Arc::new(rules));
    let service = kitchen_service(TestKitchen::default())
        .tls(tls.clone())
        .auth(auth)
        .start()
        .await
        .unwrap();
    let item = client(&service, &tls, "kitchen")
        .get(get("account"))
        .await
        .unwrap();
    assert_eq!(item.note.as_deref(), Some("frontend service"));
}

/// `--tls-ca-dir` gives services sharing the directory one CA: the first creates it.
#[tokio::test]
async fn flags_share_a_ca_directory() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        micro: micro::Flags,
    }

    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let flags = |name: &str| {
        let ca_dir = ca_dir.to_str().unwrap();
        let args = ["svc", "--server-name", name, "--tls-ca-dir", ca_dir];
        Cli::parse_from(args).micro
    };
    let service = kitchen_service(TestKitchen::default())
        .flags(flags("kitchen"))
        .start()
        .await
        .unwrap();
    assert!(ca_dir.join("ca.pem").exists() && ca_dir.join("ca.key").exists());
    let frontend = micro::Service::new("frontend")
        .registry(support::memory_registry())
        .flags(flags("frontend"));
    let kitchen = KitchenClient::new(frontend.client().unwrap()).with_service("kitchen");
    let item = kitchen
        .get(get("identity"))
        .address(&service.local_addr().to_string())
        .await
        .unwrap();
    assert_eq!(item.note.as_deref(), Some("micro://micro/frontend"));

    std::fs::write(ca_dir.join("ca.key"), "broken").unwrap();
    let err = kitchen_service(TestKitchen::default())
        .flags(flags("kitchen"))
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--tls-ca-dir"), "{err}");
}
