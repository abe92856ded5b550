//! HTTP health probes on the service's port: liveness, readiness with the program's checks,
//! and `grpc.health.v1` answering from the same readiness: `SERVING` only once the service is
//! registered, while its checks pass and until it deregisters on stop.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::Full;
use micro::Service;
use micro::registry::{self, Registry};
use tokio::sync::{Semaphore, mpsc};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

async fn get(addr: std::net::SocketAddr, path: &str) -> support::RawResponse {
    let request = http::Request::get(format!("http://{addr}{path}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    support::send_raw(request, false).await
}

#[tokio::test]
async fn readiness_lists_the_checks_and_fails_while_one_fails() {
    let db_up = Arc::new(AtomicBool::new(true));
    let up = db_up.clone();
    let service = Service::new("probed")
        .address("127.0.0.1:0")
        .registry(support::memory_registry())
        .check("db", move || {
            let up = up.load(Ordering::SeqCst);
            async move {
                match up {
                    true => Ok(()),
                    false => Err(std::io::Error::other("connection refused")),
                }
            }
        })
        .start()
        .await
        .unwrap();
    let addr = service.local_addr();

    let live = get(addr, "/health/live").await;
    assert_eq!(live.status, http::StatusCode::OK);
    assert_eq!(live.json()["status"], "live");

    for path in ["/health", "/health/ready"] {
        let ready = get(addr, path).await;
        assert_eq!(ready.status, http::StatusCode::OK, "{path}");
        assert_eq!(ready.header("content-type"), Some("application/json"));
        let json = ready.json();
        assert_eq!(json["status"], "ready");
        let names: Vec<_> = json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|check| {
                (
                    check["name"].as_str().unwrap().to_owned(),
                    check["status"].clone(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("registered".to_owned(), "ok".into()),
                ("serving".to_owned(), "ok".into()),
                ("db".to_owned(), "ok".into()),
            ]
        );
    }

    db_up.store(false, Ordering::SeqCst);
    let ready = get(addr, "/health/ready").await;
    assert_eq!(ready.status, http::StatusCode::SERVICE_UNAVAILABLE);
    let json = ready.json();
    assert_eq!(json["status"], "not ready");
    assert_eq!(json["checks"][2]["status"], "failing");
    assert_eq!(json["checks"][2]["error"], "connection refused");
    // Liveness does not depend on the checks.
    assert_eq!(get(addr, "/health/live").await.status, http::StatusCode::OK);

    db_up.store(true, Ordering::SeqCst);
    assert_eq!(
        get(addr, "/health/ready").await.status,
        http::StatusCode::OK
    );
    service.stop().await.unwrap();
}

type Health = HealthClient<tonic::transport::Channel>;

async fn health(addr: std::net::SocketAddr) -> Health {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
}

fn asking(name: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: name.into(),
    }
}

async fn check(health: &mut Health, name: &str) -> ServingStatus {
    let status = health
        .check(asking(name))
        .await
        .unwrap()
        .into_inner()
        .status;
    ServingStatus::try_from(status).unwrap()
}

async fn next(watch: &mut tonic::Streaming<HealthCheckResponse>) -> ServingStatus {
    let sent = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("the watch sends within 5 s");
    ServingStatus::try_from(sent.unwrap().unwrap().status).unwrap()
}

#[tokio::test]
async fn grpc_health_follows_the_checks() {
    let db_up = Arc::new(AtomicBool::new(true));
    let up = db_up.clone();
    let service = Service::new("probed")
        .address("127.0.0.1:0")
        .registry(support::memory_registry())
        .check("db", move || {
            let up = up.load(Ordering::SeqCst);
            async move { up.then_some(()).ok_or("connection refused") }
        })
        .start()
        .await
        .unwrap();
    let mut health = health(service.local_addr()).await;
    assert_eq!(check(&mut health, "").await, ServingStatus::Serving);
    assert_eq!(check(&mut health, "probed").await, ServingStatus::Serving);
    let unknown = health.check(asking("nope")).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let mut unknown = health.watch(asking("nope")).await.unwrap().into_inner();
    assert_eq!(next(&mut unknown).await, ServingStatus::ServiceUnknown);

    let mut watch = health.watch(asking("probed")).await.unwrap().into_inner();
    assert_eq!(next(&mut watch).await, ServingStatus::Serving);
    db_up.store(false, Ordering::SeqCst);
    // The watch polls the checks (every second) while someone watches.
    assert_eq!(next(&mut watch).await, ServingStatus::NotServing);
    assert_eq!(check(&mut health, "").await, ServingStatus::NotServing);
    db_up.store(true, Ordering::SeqCst);
    assert_eq!(next(&mut watch).await, ServingStatus::Serving);
    assert_eq!(check(&mut health, "").await, ServingStatus::Serving);
    drop((watch, unknown));
    service.stop().await.unwrap();
}

#[tokio::test]
async fn grpc_health_serves_only_once_registered() {
    let (registry, mut calls, gate) = Gated::registry();
    let starting = tokio::spawn(
        Service::new("gated")
            .address("127.0.0.1:0")
            .registry(registry)
            .start(),
    );
    let (op, addr) = calls.recv().await.unwrap();
    assert_eq!(op, "register");
    // The port answers, but the node is not in the registry yet.
    let mut health = health(addr).await;
    assert_eq!(check(&mut health, "").await, ServingStatus::NotServing);
    assert_eq!(check(&mut health, "gated").await, ServingStatus::NotServing);
    assert_eq!(
        get(addr, "/health/ready").await.status,
        http::StatusCode::SERVICE_UNAVAILABLE
    );
    let mut watch = health.watch(asking("")).await.unwrap().into_inner();
    assert_eq!(next(&mut watch).await, ServingStatus::NotServing);

    gate.add_permits(1);
    let service = starting.await.unwrap().unwrap();
    assert_eq!(next(&mut watch).await, ServingStatus::Serving);
    assert_eq!(check(&mut health, "gated").await, ServingStatus::Serving);
    gate.add_permits(1);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn stop_deregisters_while_ready_then_turns_not_serving_and_ends_watches() {
    let (registry, mut calls, gate) = Gated::registry();
    gate.add_permits(1);
    let service = Service::new("gated")
        .address("127.0.0.1:0")
        .registry(registry)
        .shutdown_timeout(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let (_, addr) = calls.recv().await.unwrap();
    let mut health = health(addr).await;
    let mut watch = health.watch(asking("")).await.unwrap().into_inner();
    assert_eq!(next(&mut watch).await, ServingStatus::Serving);

    let started = std::time::Instant::now();
    let stopping = tokio::spawn(service.stop());
    // Deregistration comes first: while it runs, the node is still ready and serving.
    let (op, _) = calls.recv().await.unwrap();
    assert_eq!(op, "deregister");
    assert_eq!(check(&mut health, "").await, ServingStatus::Serving);
    assert_eq!(
        get(addr, "/health/ready").await.status,
        http::StatusCode::OK
    );
    gate.add_permits(1);
    // Then readiness turns false, and the watch ends so the drain need not wait for it.
    assert_eq!(next(&mut watch).await, ServingStatus::NotServing);
    let end = tokio::time::timeout(Duration::from_secs(5), watch.next()).await;
    assert!(matches!(end, Ok(None | Some(Err(_)))), "{end:?}");
    stopping.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping waited for the watch: {:?}",
        started.elapsed()
    );
}

/// A memory registry that reports each register/deregister (with the node's address) and
/// holds it until the test releases a permit.
#[derive(Debug)]
struct Gated {
    inner: Arc<dyn Registry>,
    calls: mpsc::UnboundedSender<(&'static str, std::net::SocketAddr)>,
    gate: Arc<Semaphore>,
}

type Calls = mpsc::UnboundedReceiver<(&'static str, std::net::SocketAddr)>;

impl Gated {
    fn registry() -> (Arc<dyn Registry>, Calls, Arc<Semaphore>) {
        let (calls, seen) = mpsc::unbounded_channel();
        let gate = Arc::new(Semaphore::new(0));
        let registry = Gated {
            inner: support::memory_registry(),
            calls,
            gate: gate.clone(),
        };
        (Arc::new(registry), seen, gate)
    }

    async fn pass(&self, op: &'static str, service: &registry::Service) {
        let addr = service.nodes[0].address.parse().unwrap();
        let _ = self.calls.send((op, addr));
        self.gate.acquire().await.unwrap().forget();
    }
}

impl Registry for Gated {
    fn register<'a>(
        &'a self,
        service: &'a registry::Service,
        ttl: Option<Duration>,
    ) -> registry::BoxFuture<'a, Result<(), registry::Error>> {
        Box::pin(async move {
            self.pass("register", service).await;
            self.inner.register(service, ttl).await
        })
    }

    fn deregister<'a>(
        &'a self,
        service: &'a registry::Service,
    ) -> registry::BoxFuture<'a, Result<(), registry::Error>> {
        Box::pin(async move {
            self.pass("deregister", service).await;
            self.inner.deregister(service).await
        })
    }

    fn get_service<'a>(
        &'a self,
        name: &'a str,
    ) -> registry::BoxFuture<'a, Result<Vec<registry::Service>, registry::Error>> {
        self.inner.get_service(name)
    }

    fn list_services(
        &self,
    ) -> registry::BoxFuture<'_, Result<Vec<registry::Service>, registry::Error>> {
        self.inner.list_services()
    }

    fn watch<'a>(
        &'a self,
        service: Option<&'a str>,
    ) -> registry::BoxFuture<'a, Result<registry::Watcher, registry::Error>> {
        self.inner.watch(service)
    }

    fn name(&self) -> &'static str {
        "gated"
    }
}

/// What a plain-HTTP `GET /health` to a TLS port gets: no HTTP answer.
#[cfg(feature = "auth-tls")]
async fn plain_get_is_refused(addr: std::net::SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let asked = stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the TLS port closes the connection within 5 s");
    assert!(
        asked.is_err() || read.is_err() || !answer.starts_with(b"HTTP/"),
        "{answer:?}"
    );
}

#[cfg(feature = "auth-tls")]
#[tokio::test]
async fn the_probe_port_answers_plain_http_while_the_port_requires_client_certificates() {
    use micro::auth::{CertificateAuthority, ServiceTls};
    use support::kitchen::{GetRequest, KitchenClient};

    let ca = Arc::new(CertificateAuthority::generate("micro").unwrap());
    let tls = ServiceTls::new(ca);
    let service = support::kitchen_service(support::TestKitchen::default())
        .tls(tls.clone())
        .health_address("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let probes = service.health_addr().expect("a probe port");
    assert_ne!(probes, service.local_addr());
    let node = &service.registration().unwrap().nodes[0];
    assert_eq!(node.metadata.get("health"), Some(&probes.to_string()));

    let live = get(probes, "/health/live").await;
    assert_eq!(live.status, http::StatusCode::OK);
    for path in ["/health", "/health/ready"] {
        let ready = get(probes, path).await;
        assert_eq!(ready.status, http::StatusCode::OK, "{path}");
        assert_eq!(ready.json()["status"], "ready");
    }
    let metrics = get(probes, "/metrics").await;
    assert_eq!(metrics.status, http::StatusCode::OK);
    let other = get(probes, "/kitchen.Kitchen/Get").await;
    assert_eq!(other.status, http::StatusCode::NOT_FOUND);
    let said = String::from_utf8_lossy(&other.body).into_owned();
    assert!(said.contains("this is the probe port"), "{said}");
    // The service's port still wants a certificate.
    plain_get_is_refused(service.local_addr()).await;

    // While a call drains, the probe port says not ready; once stopped, it is closed.
    let client = micro::Client::builder()
        .address(service.local_addr().to_string())
        .tls(&tls, "frontend")
        .retries(0)
        .build()
        .unwrap();
    let kitchen = KitchenClient::new(client).with_service("kitchen");
    let call = tokio::spawn(async move {
        let request = GetRequest {
            id: "sleep:1500".into(),
        };
        kitchen.get(request).await
    });
    // Let the call reach its handler before stopping (it sleeps 1.5 s there).
    tokio::time::sleep(Duration::from_millis(300)).await;
    if call.is_finished() {
        panic!("the call ended early: {:?}", call.await.unwrap());
    }
    let stopping = tokio::spawn(service.stop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let ready = get(probes, "/health/ready").await;
        if ready.status == http::StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(ready.json()["checks"][1]["status"], "failing");
            break;
        }
        let now = tokio::time::Instant::now();
        assert!(now < deadline, "still ready while stopping");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let draining = !call.is_finished();
    assert!(draining, "the call drains after readiness turned false");
    call.await.unwrap().expect("the in-flight call finishes");
    stopping.await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(probes).await.is_err());
}
