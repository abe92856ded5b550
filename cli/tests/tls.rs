//! `micro call` to a service served over TLS with certificates from an openssl-made PKI:
//! `--tls-ca-file` trusts the operator's CA, `--tls-cert-file`/`--tls-key-file` present a
//! client certificate where the service requires one (mTLS).

mod support;

use examples::helloworld::HelloworldServer;
use micro::Service;
use micro::auth::ServiceTls;
use micro_test_support::{EtcdServer, Pki};
use support::{Greeter, failed, micro, ok, serve};

/// An etcd, an openssl-made PKI, and `helloworld` served with its certificate requiring client
/// certificates (mTLS); `configure` adds to the service before it starts.
struct Fixture {
    etcd: EtcdServer,
    pki: Pki,
    /// The CA certificate's path.
    ca: String,
    service: micro::RunningService,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start(configure: impl FnOnce(Service) -> Service) -> Option<Fixture> {
        let etcd = EtcdServer::start()?;
        let registry = micro::registry::build("etcd", &[etcd.address()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::new(dir.path(), "operator CA");
        let server = pki.issue("helloworld", &["DNS:helloworld"], 2);
        let ca = pki.ca_cert().display().to_string();
        let tls = ServiceTls::from_files(&server.cert, &server.key).trust(&ca);
        let service = Service::new("helloworld")
            .handle(HelloworldServer::new(Greeter))
            .tls(tls);
        let service = serve(configure(service), &registry).await;
        Some(Fixture {
            etcd,
            pki,
            ca,
            service,
            _dir: dir,
        })
    }

    /// A client certificate's and key's paths, for `--tls-cert-file`/`--tls-key-file`.
    fn client_certificate(&self) -> (String, String) {
        let caller = self.pki.issue("cli", &["DNS:cli"], 2);
        (
            caller.cert.display().to_string(),
            caller.key.display().to_string(),
        )
    }
}

#[tokio::test]
async fn call_over_tls_and_mtls_with_files_from_an_existing_pki() {
    let Some(fixture) = Fixture::start(|service| service).await else {
        return;
    };
    let (etcd, ca) = (&fixture.etcd, &fixture.ca);
    let call = |extra: &[&str]| {
        let mut args = vec![
            "--registry".to_owned(),
            "etcd".into(),
            "--registry-address".into(),
            etcd.address(),
        ];
        args.extend(extra.iter().map(|arg| arg.to_string()));
        args.extend(
            [
                "call",
                "helloworld",
                "Helloworld.Greeting",
                r#"{"name":"alice"}"#,
            ]
            .map(String::from),
        );
        micro(args, None)
    };

    let (cert, key) = fixture.client_certificate();
    let reply = ok(&call(&[
        "--tls-ca-file",
        ca,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
    ])
    .await);
    assert!(reply.contains("Hello alice"), "{reply}");

    // The service requires a client certificate; trusting its CA is not enough.
    let refused = failed(&call(&["--tls-ca-file", ca]).await);
    assert!(
        refused.contains("asked for a client certificate"),
        "{refused}"
    );
    // Plaintext to a TLS port fails too, and says so.
    let plaintext = failed(&call(&[]).await);
    assert!(
        plaintext.contains("the server may expect TLS"),
        "{plaintext}"
    );

    fixture.service.stop().await.unwrap();
}

#[tokio::test]
async fn health_reads_readiness_from_the_probe_port_of_an_mtls_node() {
    let probe_port_and_check = |service: Service| {
        service
            .health_address("127.0.0.1:0")
            .check("db", || async { Ok::<_, std::io::Error>(()) })
    };
    let Some(fixture) = Fixture::start(probe_port_and_check).await else {
        return;
    };
    let (etcd, ca) = (&fixture.etcd, &fixture.ca);
    let probes = (fixture.service.health_addr())
        .expect("a probe port")
        .to_string();
    let (cert, key) = fixture.client_certificate();
    let args = [
        "--registry",
        "etcd",
        "--registry-address",
        &etcd.address(),
        "--tls-ca-file",
        ca,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "health",
        "helloworld",
        "-o",
        "json",
    ];
    let output = ok(&micro(args.iter().map(|arg| arg.to_string()).collect(), None).await);
    let nodes: serde_json::Value = serde_json::from_str(&output).unwrap();
    let node = &nodes[0];
    assert_eq!(node["status"], "SERVING", "{node:#}");
    assert_eq!(node["health"], probes.as_str(), "{node:#}");
    assert_eq!(node["ready"], true, "{node:#}");
    let names: Vec<&str> = (node["checks"].as_array().unwrap().iter())
        .map(|check| check["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["registered", "serving", "db"], "{node:#}");
    fixture.service.stop().await.unwrap();
}
