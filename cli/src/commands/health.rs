//! `micro health <service>`: asks each node's `grpc.health.v1` how it is, and its
//! `GET /health/ready` which readiness checks pass, how long each took and why one fails.
//! Readiness is read from the node's probe port when it advertises one (metadata `health`,
//! from `--health-address`), else from its service port.

use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use micro::dynamic::{HealthStatus, check_health};
use serde::Deserialize;
use serde_json::{Value, json};

use super::describe::nodes;
use crate::Env;
use crate::cli::HealthArgs;
use crate::output::{DIM, ERROR, GOOD, styled, table};

/// How long a node may take to answer its readiness probe: its checks get 2 s each.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest readiness answer read.
const MAX_ANSWER: usize = 1 << 20;

type Http = Client<HttpConnector, Empty<Bytes>>;

/// One node's answers.
struct Checked {
    id: String,
    address: String,
    /// The node's probe port, if it advertises one.
    probes: Option<String>,
    status: Result<HealthStatus, micro::Status>,
    /// `GET /health/ready`'s JSON, or why it could not be read.
    readiness: Result<Readiness, String>,
}

/// What `GET /health/ready` answers.
#[derive(Debug, Deserialize)]
struct Readiness {
    status: String,
    checks: Vec<Check>,
}

/// One readiness check of a node.
#[derive(Debug, Deserialize)]
struct Check {
    name: String,
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    duration_ms: Option<f64>,
}

/// Checks every node of the service (or the one at `--address`); fails unless all serve.
pub(super) async fn run(env: &Env, args: &HealthArgs) -> anyhow::Result<()> {
    let targets = match &args.address {
        Some(address) => vec![(String::new(), address.clone(), None)],
        None => nodes(env, &args.service)
            .await?
            .into_iter()
            .map(|node| {
                let probes = node.metadata.get(PROBE_PORT).cloned();
                (node.id, node.address, probes)
            })
            .collect(),
    };
    let tls = env.global.tls_ca_file.is_some() || env.global.tls_cert_file.is_some();
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let checks = targets.into_iter().map(|(id, address, probes)| {
        let http = http.clone();
        async move {
            let (status, readiness) = futures_util::join!(
                check_health(&env.client, &args.service, Some(&address)),
                readiness(&http, &address, probes.as_deref(), tls),
            );
            Checked {
                id,
                address,
                probes,
                status,
                readiness: readiness.map_err(|err| format!("{err:#}")),
            }
        }
    });
    let checked = futures_util::future::join_all(checks).await;
    print(env, &args.service, &checked);
    let failing = checked
        .iter()
        .filter(|check| !matches!(check.status, Ok(HealthStatus::Serving)))
        .count();
    if failing > 0 {
        bail!(
            "{failing} of {} nodes of {} are not serving",
            checked.len(),
            args.service
        );
    }
    Ok(())
}

/// The node metadata naming a node's plain-HTTP probe port.
const PROBE_PORT: &str = "health";

/// The node's `GET /health/ready` answer (200 or 503, both with the checks), from its probe
/// port if it has one, else from its service port (plain HTTP only).
async fn readiness(
    http: &Http,
    address: &str,
    probes: Option<&str>,
    tls: bool,
) -> anyhow::Result<Readiness> {
    let address = match (probes, tls) {
        (Some(probes), _) => probes,
        (None, false) => address,
        (None, true) => bail!(
            "the node advertises no probe port and its readiness over TLS is not read; start \
             it with --health-address (MICRO_HEALTH_ADDRESS) to serve the probes over plain HTTP"
        ),
    };
    let uri: http::Uri = format!("http://{address}/health/ready")
        .parse()
        .with_context(|| format!("bad node address {address}"))?;
    let read = async {
        let response = http.get(uri).await?;
        let body = Limited::new(response.into_body(), MAX_ANSWER);
        let bytes = body.collect().await.map_err(anyhow::Error::from_boxed)?;
        anyhow::Ok(bytes.to_bytes())
    };
    let bytes = tokio::time::timeout(READY_TIMEOUT, read)
        .await
        .with_context(|| format!("no readiness answer within {READY_TIMEOUT:?}"))??;
    serde_json::from_slice(&bytes).context("the readiness answer is not micro's JSON")
}

fn print(env: &Env, service: &str, checked: &[Checked]) {
    let nodes: Vec<Vec<String>> = checked
        .iter()
        .map(|check| {
            let status = match &check.status {
                Ok(HealthStatus::Serving) => styled(GOOD, "SERVING"),
                Ok(other) => styled(ERROR, other),
                Err(err) => format!(
                    "{} {}",
                    styled(ERROR, "UNREACHABLE"),
                    styled(DIM, err.message())
                ),
            };
            vec![check.id.clone(), check.address.clone(), status]
        })
        .collect();
    let mut human = table(&["NODE", "ADDRESS", "STATUS"], &nodes);
    let checks: Vec<Vec<String>> = checked.iter().flat_map(check_rows).collect();
    if !checks.is_empty() {
        human.push('\n');
        human.push_str(&table(
            &["NODE", "CHECK", "STATUS", "DURATION", "ERROR"],
            &checks,
        ));
    }
    let json: Vec<Value> = checked
        .iter()
        .map(|check| node_json(service, check))
        .collect();
    env.output.print(&human, &json.into());
}

/// A node's checks as table rows; none when its readiness could not be read.
fn check_rows(node: &Checked) -> Vec<Vec<String>> {
    let Ok(readiness) = &node.readiness else {
        return Vec::new();
    };
    (readiness.checks.iter())
        .map(|check| {
            let status = match check.status.as_str() {
                "ok" => styled(GOOD, "ok"),
                other => styled(ERROR, other),
            };
            let duration = check.duration_ms.map_or_else(|| "-".to_owned(), duration);
            let error = check.error.clone().unwrap_or_default();
            vec![node.id.clone(), check.name.clone(), status, duration, error]
        })
        .collect()
}

/// A check's duration for people: `850µs`, `12.3ms`, `2.00s`.
fn duration(ms: f64) -> String {
    match ms {
        ms if ms < 1.0 => format!("{:.0}µs", ms * 1000.0),
        ms if ms < 1000.0 => format!("{ms:.1}ms"),
        ms => format!("{:.2}s", ms / 1000.0),
    }
}

fn node_json(service: &str, node: &Checked) -> Value {
    let mut out = json!({ "service": service, "node": node.id, "address": node.address });
    if let Some(probes) = &node.probes {
        out["health"] = probes.as_str().into();
    }
    match &node.status {
        Ok(status) => out["status"] = status.to_string().into(),
        Err(err) => {
            out["status"] = "UNREACHABLE".into();
            out["error"] = err.message().into();
        }
    }
    match &node.readiness {
        Ok(readiness) => {
            out["ready"] = (readiness.status == "ready").into();
            out["checks"] = (readiness.checks.iter())
                .map(|check| {
                    json!({
                        "name": check.name,
                        "status": check.status,
                        "error": check.error,
                        "duration_ms": check.duration_ms,
                    })
                })
                .collect();
        }
        Err(err) => out["checks_error"] = err.clone().into(),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0.012), "12µs");
        assert_eq!(duration(12.34), "12.3ms");
        assert_eq!(duration(2001.0), "2.00s");
    }
}
