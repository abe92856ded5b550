//! Login over the API's handlers: with JWT keys, `api/*` is 401 until `api/login` sets the
//! cookie, a wrong secret is refused, and `api/session` says who is logged in.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use clap::Parser as _;
use http_body_util::BodyExt as _;
use micro::auth::{Auth as _, GenerateOptions, JwtAuth};
use serde_json::Value as Json;
use tower::ServiceExt as _;

use super::{Login, router_with};
use crate::{Cli, Env};

struct Keys {
    login: Login,
    secret: String,
}

fn keys() -> Option<Keys> {
    let dir = tempfile::tempdir().unwrap();
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        micro_test_support::require_or_skip("openssl makes the test's RSA keys");
        return None;
    }
    let (public, private) = micro_test_support::rsa_key_pair(dir.path());
    let auth = JwtAuth::new("micro", &public, Some(&private)).unwrap();
    let runtime = tokio::runtime::Handle::current();
    let account = tokio::task::block_in_place(|| {
        runtime.block_on(auth.generate("admin", GenerateOptions::default()))
    })
    .unwrap();
    Some(Keys {
        login: Login::jwt("micro", &public, Some(&private)).unwrap(),
        secret: account.secret,
    })
}

fn env() -> Env {
    let cli = Cli::parse_from(["micro", "--registry", "memory", "services"]);
    Env::new(&cli.global).unwrap()
}

async fn send(keys: &Keys, request: Request<Body>) -> (StatusCode, Option<String>, Json) {
    let response = router_with(env(), keys.login.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, cookie, serde_json::from_slice(&body).unwrap())
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::empty()).unwrap()
}

fn login(body: Json) -> Request<Body> {
    Request::post("/api/login")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_needs_a_login_and_the_right_secret_gets_one() {
    let Some(keys) = keys() else { return };
    let (status, _, error) = send(&keys, get("/api/services", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["id"], "micro.dashboard");
    assert!(
        error["detail"].as_str().unwrap().contains("log in"),
        "{error}"
    );
    let (_, _, session) = send(&keys, get("/api/session", None)).await;
    assert_eq!(
        session,
        serde_json::json!({"auth": "jwt", "credentials": true})
    );

    let wrong = serde_json::json!({"id": "admin", "secret": "guess"});
    let (status, cookie, error) = send(&keys, login(wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(cookie, None);
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("wrong account id or secret")
    );
    let other = serde_json::json!({"id": "someone", "secret": keys.secret});
    let (status, _, _) = send(&keys, login(other)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let right = serde_json::json!({"id": "admin", "secret": keys.secret});
    let (status, cookie, answer) = send(&keys, login(right)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["account"]["id"], "admin");
    let cookie = cookie.expect("a cookie is set");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let (status, _, listing) = send(&keys, get("/api/services", Some(pair))).await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    let (_, _, session) = send(&keys, get("/api/session", Some(pair))).await;
    assert_eq!(session["account"]["id"], "admin");
    assert!(!session.to_string().contains(&keys.secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pasted_token_logs_in_and_a_bad_one_does_not() {
    let Some(keys) = keys() else { return };
    let (status, _, error) = send(&keys, login(serde_json::json!({"token": "not.a.jwt"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    // An account's secret is a token the same keys signed.
    let (status, cookie, _) = send(&keys, login(serde_json::json!({"token": keys.secret}))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cookie.unwrap().starts_with("micro_dashboard_token="));
}

#[tokio::test]
async fn without_keys_there_is_no_login() {
    let keys = Keys {
        login: Login::none(),
        secret: String::new(),
    };
    let (status, _, _) = send(&keys, get("/api/services", None)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, session) = send(&keys, get("/api/session", None)).await;
    assert_eq!(session["auth"], "none");
    let (status, _, _) = send(&keys, login(serde_json::json!({"id": "a", "secret": "b"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
