//! HTTP health probes on the service's port, for Kubernetes `httpGet` probes and load
//! balancers:
//!
//! - `GET /health/live`: 200 while the process serves requests at all.
//! - `GET /health/ready` (and `GET /health`): 200 when the service should get traffic: it is
//!   registered, not draining, and every check the program added
//!   ([`Service::check`](crate::Service::check)) passes; else 503.
//!
//! Both answer JSON listing the checks: `{"status":"ready","checks":[{"name":"registered",
//! "status":"ok"},{"name":"db","status":"failing","error":"…","duration_ms":2000.0}]}`.
//! `grpc.health.v1` answers from the same readiness (see the health module).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Body;
use crate::{BoxError, BoxFuture};

/// A readiness check the program added: `Ok` when the dependency it checks works.
pub(crate) type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// How long one check may take before it counts as failing.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Which probe a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    Live,
    Ready,
}

impl Probe {
    /// The probe a `GET` of `path` asks for, if any.
    pub(crate) fn of(path: &str) -> Option<Probe> {
        match path {
            "/health/live" => Some(Probe::Live),
            "/health" | "/health/ready" => Some(Probe::Ready),
            _ => None,
        }
    }
}

/// The service's readiness: its lifecycle state and the program's checks. Shared by the
/// router (which answers probes) and the running service (which updates the state).
pub(crate) struct Probes {
    checks: Vec<(String, Check)>,
    registered: AtomicBool,
    draining: AtomicBool,
    /// Wakes gRPC health watchers when `registered` or `draining` changes.
    changed: watch::Sender<()>,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Probes").field("checks", &names).finish()
    }
}

/// One line of a probe's answer.
#[derive(Debug, Serialize)]
struct Outcome {
    name: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// How long the check took, for checks the program added.
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<f64>,
}

/// A probe's answer.
#[derive(Debug, Serialize)]
struct Answer {
    status: &'static str,
    checks: Vec<Outcome>,
}

impl Probes {
    pub(crate) fn new(checks: Vec<(String, Check)>) -> Probes {
        Probes {
            checks,
            registered: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            changed: watch::Sender::new(()),
        }
    }

    /// The node is in the registry (or has left it).
    pub(crate) fn set_registered(&self, registered: bool) {
        self.registered.store(registered, Ordering::Release);
        self.changed.send_replace(());
    }

    /// The service is stopping: no new traffic.
    pub(crate) fn set_draining(&self) {
        self.draining.store(true, Ordering::Release);
        self.changed.send_replace(());
    }

    /// Whether the service is stopping.
    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Whether the program added checks (readiness can change without a lifecycle change).
    pub(crate) fn has_checks(&self) -> bool {
        !self.checks.is_empty()
    }

    /// Notified on each lifecycle change.
    pub(crate) fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    /// Whether the service should get traffic, as `GET /health/ready` answers.
    pub(crate) async fn ready(&self) -> bool {
        self.readiness().await.status == "ready"
    }

    /// Answers `probe`.
    pub(crate) async fn answer(&self, probe: Probe) -> http::Response<Body> {
        let answer = match probe {
            Probe::Live => Answer {
                status: "live",
                checks: Vec::new(),
            },
            Probe::Ready => self.readiness().await,
        };
        let status = match answer.status {
            "live" | "ready" => StatusCode::OK,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        let body = serde_json::to_vec(&answer).unwrap_or_default();
        let mut response =
            http::Response::new(Body::new(http_body_util::Full::new(Bytes::from(body))));
        *response.status_mut() = status;
        let json = HeaderValue::from_static("application/json");
        response.headers_mut().insert(header::CONTENT_TYPE, json);
        response
    }

    /// Every check, run concurrently, each within [`CHECK_TIMEOUT`].
    async fn readiness(&self) -> Answer {
        let state = |name: &str, ok: bool, why: &str| Outcome {
            name: name.to_owned(),
            status: if ok { "ok" } else { "failing" },
            error: (!ok).then(|| why.to_owned()),
            duration_ms: None,
        };
        let mut checks = vec![
            state(
                "registered",
                self.registered.load(Ordering::Acquire),
                "not in the registry yet, or no longer",
            ),
            state(
                "serving",
                !self.draining.load(Ordering::Acquire),
                "draining: the service is stopping",
            ),
        ];
        let runs = self.checks.iter().map(|(name, check)| async move {
            let started = Instant::now();
            let outcome = tokio::time::timeout(CHECK_TIMEOUT, check()).await;
            let took = started.elapsed();
            let error = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(err)) => Some(err.to_string()),
                Err(_) => Some(format!("no answer within {CHECK_TIMEOUT:?}")),
            };
            Outcome {
                name: name.clone(),
                status: if error.is_none() { "ok" } else { "failing" },
                error,
                // Microsecond precision is plenty, and keeps the JSON short.
                duration_ms: Some((took.as_secs_f64() * 1e6).round() / 1e3),
            }
        });
        checks.extend(futures_util::future::join_all(runs).await);
        let ready = checks.iter().all(|check| check.status == "ok");
        Answer {
            status: if ready { "ready" } else { "not ready" },
            checks,
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn ready(probes: &Probes) -> (StatusCode, serde_json::Value) {
        let response = probes.answer(Probe::Ready).await;
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn ready_only_while_registered_and_not_draining() {
        let slow: Check = Arc::new(|| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            })
        });
        let probes = Probes::new(Vec::new());
        let (status, json) = ready(&probes).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json["checks"][0]["status"], "failing", "{json}");

        probes.set_registered(true);
        assert_eq!(ready(&probes).await.0, StatusCode::OK);

        probes.set_draining();
        let (status, json) = ready(&probes).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            json["checks"][1]["error"],
            "draining: the service is stopping"
        );

        tokio::time::pause();
        let probes = Probes::new(vec![("slow".into(), slow)]);
        probes.set_registered(true);
        let (status, json) = ready(&probes).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json["checks"][2]["error"], "no answer within 2s");
        let took = json["checks"][2]["duration_ms"].as_f64().unwrap();
        assert!((2000.0..2100.0).contains(&took), "{json}");
        assert!(json["checks"][0].get("duration_ms").is_none(), "{json}");
    }
}
