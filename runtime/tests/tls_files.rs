//! TLS with an existing PKI: certificates made by openssl, given to the service as PEM files,
//! the CA's key never leaving the test. The service serves its port over TLS, re-reads rotated
//! files without a restart, and with a CA bundle requires client certificates (mTLS); clients
//! call `https://` addresses and registry nodes, checking servers against the bundle.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use micro::auth::{ClientAuth, ServiceTls};
use micro::registry::Registry;
use micro::{Client, Code, RunningService};
use micro_test_support::{Issued, Pki};
use support::kitchen::{GetRequest, KitchenClient};
use support::{TestKitchen, kitchen_service, memory_registry};

/// The operator's PKI, made by openssl in `dir`.
fn pki(dir: &Path) -> Pki {
    Pki::new(dir, "operator CA")
}

fn server_cert(pki: &Pki, sans: &[&str]) -> Issued {
    pki.issue("kitchen", sans, 2)
}

async fn start(tls: ServiceTls, registry: Arc<dyn Registry>) -> RunningService {
    kitchen_service(TestKitchen::default())
        .registry(registry)
        .tls(tls)
        .start()
        .await
        .expect("kitchen starts")
}

fn get(id: &str) -> GetRequest {
    GetRequest { id: id.into() }
}

/// The kitchen at `https://localhost:<port>` through a client built by `build`.
fn https_client(
    service: &RunningService,
    build: impl FnOnce(micro::client::ClientBuilder) -> micro::client::ClientBuilder,
) -> KitchenClient {
    let address = format!("https://localhost:{}", service.local_addr().port());
    let builder = Client::builder().address(address).retries(0);
    KitchenClient::new(build(builder).build().expect("client"))
}

#[tokio::test]
async fn a_service_serves_tls_from_pem_files_to_curl_and_https_clients() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let own = server_cert(&pki, &["DNS:localhost", "IP:127.0.0.1"]);
    let service = start(
        ServiceTls::from_files(&own.cert, &own.key),
        memory_registry(),
    )
    .await;

    let ca = pki.ca_cert();
    let (code, body) = curl(&service, &["--cacert", &ca.display().to_string()]).await;
    assert_eq!(code, "200", "{body}");
    assert_eq!(body.trim(), r#"{"id":"identity"}"#, "no client identity");

    let trusting = https_client(&service, |b| b.tls_ca_file(&ca));
    let item = trusting.get(get("x")).await.expect("an https call");
    assert_eq!(item.id, "x");

    // The system's roots do not know the operator's CA.
    let strict = https_client(&service, |b| b);
    let status = strict.get(get("x")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("TLS handshake failed")
            && status.message().contains("UnknownIssuer"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn rotated_certificate_files_are_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let sans = ["DNS:localhost", "IP:127.0.0.1"];
    let own = server_cert(&pki, &sans);
    let tls =
        ServiceTls::from_files(&own.cert, &own.key).reload_interval(Duration::from_millis(50));
    let service = start(tls, memory_registry()).await;
    let ca = pki.ca_cert();
    let client = https_client(&service, |b| b.tls_ca_file(&ca));
    client
        .get(get("before"))
        .await
        .expect("a call before rotation");

    let before = served_serial(&service, &ca).await;
    assert_eq!(before, file_serial(&own.cert));
    // Written in place, as a renewal job would; issue() writes the key, then the certificate.
    let renewed = server_cert(&pki, &sans);
    let rotated = file_serial(&renewed.cert);
    assert_ne!(before, rotated);
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while served_serial(&service, &ca).await != rotated {
        assert!(
            tokio::time::Instant::now() < until,
            "still serving {before}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client
        .get(get("after"))
        .await
        .expect("the open connection still works");
    https_client(&service, |b| b.tls_ca_file(&ca))
        .get(get("new"))
        .await
        .expect("a new handshake with the rotated certificate");
}

#[tokio::test]
async fn mtls_with_an_outside_pki_identifies_callers_and_refuses_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    // Named for the service only: nodes are dialled at registry addresses (127.0.0.1).
    let own = server_cert(&pki, &["DNS:kitchen"]);
    let ca = pki.ca_cert();
    let registry = memory_registry();
    let tls = ServiceTls::from_files(&own.cert, &own.key).trust(&ca);
    let service = start(tls, registry.clone()).await;

    // The caller's certificate carries a micro identity, which reaches the handler.
    let frontend = pki.issue(
        "frontend",
        &["DNS:frontend", "URI:micro://micro/frontend"],
        2,
    );
    let caller = ServiceTls::from_files(&frontend.cert, &frontend.key).trust(&ca);
    let discovered = Client::builder()
        .registry(registry.clone())
        .tls(&caller, "frontend")
        .retries(0)
        .build()
        .unwrap();
    let item = KitchenClient::new(discovered)
        .with_service("kitchen")
        .get(get("identity"))
        .await
        .expect("a call through the registry over mTLS");
    assert_eq!(item.note.as_deref(), Some("micro://micro/frontend"));

    // Trusting the CA is not enough: the server asks for a certificate.
    let anonymous = Client::builder()
        .registry(registry.clone())
        .tls_ca_file(&ca)
        .retries(0)
        .build()
        .unwrap();
    let status = KitchenClient::new(anonymous)
        .with_service("kitchen")
        .get(get("x"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    // A certificate from another PKI is refused, both ways.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Pki::new(other_dir.path(), "another CA");
    let stranger = other.issue("frontend", &["DNS:frontend"], 2);
    let stranger = ServiceTls::from_files(&stranger.cert, &stranger.key).trust(other.ca_cert());
    let refused = Client::builder()
        .registry(registry.clone())
        .tls(&stranger, "frontend")
        .retries(0)
        .build()
        .unwrap();
    let status = KitchenClient::new(refused)
        .with_service("kitchen")
        .get(get("x"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("TLS handshake failed"),
        "{}",
        status.message()
    );

    // curl with the caller's files gets in; without them, no connection.
    let (ca, cert, key) = (
        ca.display().to_string(),
        frontend.cert.display().to_string(),
        frontend.key.display().to_string(),
    );
    let connect_to = format!("kitchen:443:127.0.0.1:{}", service.local_addr().port());
    let options = [
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "--connect-to",
        &connect_to,
    ];
    let (code, body) = curl_url(&options, "https://kitchen:443").await;
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("micro://micro/frontend"), "{body}");
    let (code, _) = curl_url(
        &["--cacert", &ca, "--connect-to", &connect_to],
        "https://kitchen:443",
    )
    .await;
    assert_eq!(code, "000", "no client certificate, no connection");
}

#[tokio::test]
async fn a_server_certificate_for_another_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let own = pki.issue("billing", &["DNS:billing"], 2);
    let ca = pki.ca_cert();
    let registry = memory_registry();
    let service = start(
        ServiceTls::from_files(&own.cert, &own.key),
        registry.clone(),
    )
    .await;
    let client = Client::builder()
        .registry(registry)
        .tls_ca_file(&ca)
        .retries(0)
        .build()
        .unwrap();
    let status = KitchenClient::new(client)
        .with_service("kitchen")
        .get(get("x"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("nor for the service `kitchen`"),
        "{}",
        status.message()
    );
    drop(service);
}

#[tokio::test]
async fn unusable_files_fail_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let own = server_cert(&pki, &["DNS:localhost"]);
    let other = pki.issue("other", &["DNS:localhost"], 2);
    let missing = dir.path().join("missing.crt");
    for (tls, expected) in [
        (
            ServiceTls::from_files(&missing, &own.key),
            missing.display().to_string(),
        ),
        (
            ServiceTls::from_files(&own.cert, &other.key),
            "is not the key of the certificate".to_owned(),
        ),
        (
            ServiceTls::from_files(&own.cert, &own.key).client_auth(ClientAuth::Required),
            "no CA to check them with".to_owned(),
        ),
    ] {
        let Err(err) = kitchen_service(TestKitchen::default())
            .tls(tls)
            .start()
            .await
        else {
            panic!("the start fails: {expected}");
        };
        assert!(err.to_string().contains(&expected), "{err}");
    }
}

/// The serial number of the certificate the service presents, as openssl sees it.
async fn served_serial(service: &RunningService, ca: &Path) -> String {
    let connect = format!("127.0.0.1:{}", service.local_addr().port());
    let ca = ca.display().to_string();
    let script = format!(
        "openssl s_client -connect {connect} -CAfile {ca} </dev/null 2>/dev/null \
         | openssl x509 -noout -serial"
    );
    let output =
        tokio::task::spawn_blocking(move || Command::new("sh").args(["-c", &script]).output())
            .await
            .unwrap()
            .expect("openssl runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn file_serial(cert: &Path) -> String {
    let output = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(cert)
        .output()
        .expect("openssl runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A JSON call to Kitchen.Get `identity` at `https://localhost:<port>`: HTTP code, body.
async fn curl(service: &RunningService, options: &[&str]) -> (String, String) {
    let url = format!("https://localhost:{}", service.local_addr().port());
    curl_url(options, &url).await
}

async fn curl_url(options: &[&str], url: &str) -> (String, String) {
    let mut args: Vec<String> = options.iter().map(|o| o.to_string()).collect();
    args.extend(
        [
            "-s",
            "--http1.1",
            "-w",
            "\n%{http_code}",
            "-XPOST",
            "-H",
            "Content-Type: application/json",
            "-H",
            "Micro-Endpoint: Kitchen.Get",
            "-d",
            r#"{"id":"identity"}"#,
            url,
        ]
        .map(String::from),
    );
    // curl blocks: off the runtime's thread, which also serves the kitchen.
    let output = tokio::task::spawn_blocking(move || Command::new("curl").args(&args).output())
        .await
        .unwrap()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_owned(), body.to_owned())
}
