//! The API's handlers over a memory registry, whose one node is not running.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser as _;
use http_body_util::BodyExt as _;
use micro::registry::{Endpoint, Node, Service, Value};
use serde_json::Value as Json;
use tower::ServiceExt as _;

use super::router;
use crate::{Cli, Env};

/// An environment whose memory registry lists `helloworld` on a node nobody listens on.
async fn env_with_a_dead_node() -> Env {
    let cli = Cli::parse_from([
        "micro",
        "--registry",
        "memory",
        "--timeout",
        "2s",
        "services",
    ]);
    let env = Env::new(&cli.global).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let field = |name: &str| Value {
        name: name.into(),
        kind: "string".into(),
        values: vec![],
    };
    let service = Service {
        name: "helloworld".into(),
        version: "latest".into(),
        endpoints: vec![Endpoint {
            name: "Helloworld.Greeting".into(),
            request: Some(Value {
                name: "Request".into(),
                kind: "Request".into(),
                values: vec![field("name")],
            }),
            response: Some(Value {
                name: "Response".into(),
                kind: "Response".into(),
                values: vec![field("message")],
            }),
            metadata: Default::default(),
        }],
        nodes: vec![Node {
            id: "helloworld-1".into(),
            address,
            metadata: [("protocol".to_owned(), "grpc".to_owned())].into(),
        }],
        ..Service::default()
    };
    env.registry.register(&service, None).await.unwrap();
    env
}

async fn send(env: &Env, request: Request<Body>) -> (StatusCode, Json) {
    let response = router(env.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&body).into_owned()));
    (status, json)
}

async fn get(env: &Env, path: &str) -> (StatusCode, Json) {
    send(env, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn post(env: &Env, path: &str, body: &str) -> (StatusCode, Json) {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(env, request).await
}

#[tokio::test]
async fn serves_the_page() {
    let env = env_with_a_dead_node().await;
    let (status, page) = get(&env, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("micro dashboard"));
}

#[tokio::test]
async fn lists_services_with_the_registry_asked() {
    let env = env_with_a_dead_node().await;
    let (status, listing) = get(&env, "/api/services").await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    assert_eq!(listing["registry"], "memory");
    assert_eq!(listing["services"][0]["name"], "helloworld");
    assert_eq!(listing["services"][0]["versions"][0], "latest");
}

#[tokio::test]
async fn details_show_nodes_endpoints_and_an_unreachable_nodes_health() {
    let env = env_with_a_dead_node().await;
    let (status, details) = get(&env, "/api/services/helloworld").await;
    assert_eq!(status, StatusCode::OK, "{details}");
    let node = &details["nodes"][0];
    assert_eq!(node["id"], "helloworld-1");
    assert_eq!(node["metadata"]["protocol"], "grpc");
    assert_eq!(node["health"], "UNREACHABLE");
    assert!(
        node["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{node}"
    );
    let endpoint = &details["endpoints"][0];
    assert_eq!(endpoint["name"], "Helloworld.Greeting");
    assert_eq!(endpoint["request"]["values"][0]["name"], "name");
}

#[tokio::test]
async fn an_unknown_service_is_404_naming_the_registry() {
    let env = env_with_a_dead_node().await;
    for (status, error) in [
        get(&env, "/api/services/nope").await,
        get(&env, "/api/metrics/nope").await,
        post(&env, "/api/call", r#"{"service":"nope","endpoint":"A.b"}"#).await,
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
        assert_eq!(error["code"], 404);
        let detail = error["detail"].as_str().unwrap();
        assert!(
            detail.contains("service nope is not registered"),
            "{detail}"
        );
        assert!(detail.contains("asked the memory registry"), "{detail}");
    }
}

#[tokio::test]
async fn a_malformed_call_is_400_showing_a_good_one() {
    let env = env_with_a_dead_node().await;
    let (status, error) = post(&env, "/api/call", r#"{"service":"helloworld"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["id"], "micro.dashboard");
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.contains("missing field `endpoint`"), "{detail}");
    assert!(
        detail.contains(r#""endpoint":"Helloworld.Greeting""#),
        "{detail}"
    );
}

#[tokio::test]
async fn a_call_to_a_dead_node_is_a_go_micro_error() {
    let env = env_with_a_dead_node().await;
    let call = r#"{"service":"helloworld","endpoint":"Helloworld.Greeting","request":{}}"#;
    let (status, error) = post(&env, "/api/call", call).await;
    assert!(status.is_server_error(), "{status} {error}");
    assert_eq!(error["id"], "helloworld");
    assert_eq!(error["code"], status.as_u16());
    assert!(
        error["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{error}"
    );
}

#[tokio::test]
async fn metrics_name_the_nodes_that_could_not_be_scraped() {
    let env = env_with_a_dead_node().await;
    let (status, metrics) = get(&env, "/api/metrics/helloworld").await;
    assert_eq!(status, StatusCode::OK, "{metrics}");
    assert_eq!(metrics["endpoints"], Json::Array(vec![]));
    assert_eq!(metrics["nodes"][0]["id"], "helloworld-1");
    let error = metrics["nodes"][0]["error"].as_str().unwrap();
    assert!(error.contains("/metrics failed"), "{error}");
}

#[tokio::test]
async fn nested_under_a_prefix_the_page_and_api_answer_beneath_it() {
    let env = env_with_a_dead_node().await;
    let app = super::nested("/dashboard", env);
    for path in [
        "/dashboard/",
        "/dashboard/api/services",
        "/dashboard/api/services/helloworld",
    ] {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // Without the slash, relative URLs would resolve outside the prefix.
    let request = Request::get("/dashboard").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(response.headers()["location"], "/dashboard/");
}

#[tokio::test]
async fn malformed_streams_and_publications_are_400_showing_good_ones() {
    let env = env_with_a_dead_node().await;
    let (status, error) = post(&env, "/api/stream", r#"{"service":"helloworld"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["detail"].as_str().unwrap().contains("Streamer.Shout"),
        "{error}"
    );
    let (status, error) = post(&env, "/api/publish", r#"{"message":{}}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["detail"].as_str().unwrap().contains("\"topic\""),
        "{error}"
    );
    let (status, error) = post(&env, "/api/publish", r#"{"topic":"t","message":"{oops"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["detail"].as_str().unwrap().contains("not JSON"),
        "{error}"
    );
}
