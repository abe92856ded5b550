//! HTTP health probes on the service's port: liveness, readiness with the program's checks,
//! and `grpc.health.v1` turning `SERVING` only once the service is registered.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use micro::Service;

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
