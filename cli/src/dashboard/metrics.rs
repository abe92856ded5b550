//! Request metrics of a service, scraped from each node's Prometheus `GET /metrics` and summed
//! per endpoint, for `GET api/metrics/{service}`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use bytes::Bytes;
use futures_util::future::join_all;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use super::Dashboard;
use super::error::ApiError;
use super::exposition::{self, Sample};

/// How long a node may take to serve its metrics.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest metrics page read from a node.
const MAX_PAGE: usize = 4 << 20;

/// An HTTP/1 client for scraping nodes.
pub(crate) type Scraper = Client<HttpConnector, Empty<Bytes>>;

/// A client for [`scrape`].
pub(crate) fn scraper() -> Scraper {
    Client::builder(TokioExecutor::new()).build_http()
}

/// `GET api/metrics/{service}`: per-endpoint totals over the nodes that answered.
#[derive(Debug, Serialize)]
pub(crate) struct ServiceMetrics {
    service: String,
    endpoints: Vec<EndpointMetrics>,
    nodes: Vec<Scrape>,
}

/// How one node's scrape went.
#[derive(Debug, Serialize)]
struct Scrape {
    id: String,
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Calls served by an endpoint, summed over nodes and statuses.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub(crate) struct EndpointMetrics {
    endpoint: String,
    /// Calls served.
    requests: f64,
    /// Calls whose status was not `OK`.
    errors: f64,
    /// Mean time to serve a call, in milliseconds (`null` before the first call).
    mean_latency_ms: Option<f64>,
    #[serde(skip)]
    seconds: f64,
    #[serde(skip)]
    timed: f64,
}

pub(crate) async fn service(
    State(dashboard): State<Dashboard>,
    Path(name): Path<String>,
) -> Result<Json<ServiceMetrics>, ApiError> {
    let versions = super::services::lookup(&dashboard, &name).await?;
    let nodes: Vec<_> = versions.iter().flat_map(|s| s.nodes.iter()).collect();
    let pages = join_all(
        nodes
            .iter()
            .map(|node| scrape(&dashboard.scraper, &node.address)),
    )
    .await;
    let mut samples = Vec::new();
    let mut scrapes = Vec::new();
    for (node, page) in nodes.into_iter().zip(pages) {
        let error = match page {
            Ok(page) => {
                samples.extend(page);
                None
            }
            Err(error) => Some(error),
        };
        scrapes.push(Scrape {
            id: node.id.clone(),
            address: node.address.clone(),
            error,
        });
    }
    Ok(Json(ServiceMetrics {
        endpoints: summarize(&samples),
        service: name,
        nodes: scrapes,
    }))
}

/// The samples a node at `address` serves at `/metrics`.
async fn scrape(scraper: &Scraper, address: &str) -> Result<Vec<Sample>, String> {
    let url = format!("http://{address}/metrics");
    let uri = url
        .parse()
        .map_err(|err| format!("{url} is not a URL: {err}"))?;
    let fetch = async {
        let response = scraper
            .get(uri)
            .await
            .map_err(|err| format!("GET {url} failed: {err}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url} answered {}", response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_PAGE)
            .collect()
            .await
            .map_err(|err| format!("reading {url} failed: {err}"))?;
        String::from_utf8(body.to_bytes().to_vec()).map_err(|_| format!("{url} is not UTF-8"))
    };
    let text = tokio::time::timeout(SCRAPE_TIMEOUT, fetch)
        .await
        .map_err(|_| format!("GET {url} took longer than {SCRAPE_TIMEOUT:?}"))??;
    exposition::parse(&text).map_err(|err| format!("{url} is not Prometheus text: {err}"))
}

/// Sums `micro_request_total` and `micro_request_duration_seconds_{sum,count}` by endpoint.
pub(crate) fn summarize(samples: &[Sample]) -> Vec<EndpointMetrics> {
    let mut endpoints: BTreeMap<&str, EndpointMetrics> = BTreeMap::new();
    for sample in samples {
        let field: fn(&mut EndpointMetrics, &Sample) = match sample.name.as_str() {
            "micro_request_total" => |metrics, sample| {
                metrics.requests += sample.value;
                if sample.label("status") != "OK" {
                    metrics.errors += sample.value;
                }
            },
            "micro_request_duration_seconds_sum" => |metrics, sample| {
                metrics.seconds += sample.value;
            },
            "micro_request_duration_seconds_count" => |metrics, sample| {
                metrics.timed += sample.value;
            },
            _ => continue,
        };
        let endpoint = sample.label("endpoint");
        let metrics = endpoints
            .entry(endpoint)
            .or_insert_with(|| EndpointMetrics {
                endpoint: endpoint.to_owned(),
                ..EndpointMetrics::default()
            });
        field(metrics, sample);
    }
    endpoints
        .into_values()
        .map(|mut metrics| {
            metrics.mean_latency_ms =
                (metrics.timed > 0.0).then(|| metrics.seconds / metrics.timed * 1000.0);
            metrics
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ok: u32, failed: u32, seconds: f64) -> String {
        format!(
            "# TYPE micro_request_total counter\n\
             micro_request_total{{endpoint=\"Helloworld.Greeting\",service=\"helloworld\",status=\"OK\"}} {ok}\n\
             micro_request_total{{endpoint=\"Helloworld.Greeting\",service=\"helloworld\",status=\"Internal\"}} {failed}\n\
             micro_request_duration_seconds_sum{{endpoint=\"Helloworld.Greeting\",service=\"helloworld\",status=\"OK\"}} {seconds}\n\
             micro_request_duration_seconds_count{{endpoint=\"Helloworld.Greeting\",service=\"helloworld\",status=\"OK\"}} {ok}\n\
             micro_request_duration_seconds_bucket{{endpoint=\"Helloworld.Greeting\",service=\"helloworld\",status=\"OK\",le=\"+Inf\"}} {ok}\n\
             micro_requests_in_flight{{endpoint=\"Helloworld.Greeting\",service=\"helloworld\"}} 0\n\
             micro_request_total{{endpoint=\"Health.Check\",service=\"helloworld\",status=\"OK\"}} 2\n"
        )
    }

    #[test]
    fn sums_requests_errors_and_latency_over_nodes() {
        let mut samples = exposition::parse(&node(3, 1, 0.003)).unwrap();
        samples.extend(exposition::parse(&node(1, 0, 0.005)).unwrap());
        let endpoints = summarize(&samples);
        assert_eq!(endpoints.len(), 2);
        assert_eq!(endpoints[0].endpoint, "Health.Check");
        assert_eq!(endpoints[0].requests, 4.0);
        assert_eq!(endpoints[0].mean_latency_ms, None);
        let greeting = &endpoints[1];
        assert_eq!(greeting.endpoint, "Helloworld.Greeting");
        assert_eq!(greeting.requests, 5.0);
        assert_eq!(greeting.errors, 1.0);
        let mean = greeting.mean_latency_ms.unwrap();
        assert!((mean - 2.0).abs() < 1e-9, "{mean}");
    }

    #[test]
    fn no_samples_no_endpoints() {
        assert!(summarize(&[]).is_empty());
        let others = exposition::parse("process_cpu_seconds_total 1\n").unwrap();
        assert!(summarize(&others).is_empty());
    }

    #[tokio::test]
    async fn an_unreachable_node_is_an_error_naming_its_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let error = scrape(&scraper(), &address).await.unwrap_err();
        assert!(
            error.contains(&format!("GET http://{address}/metrics failed")),
            "{error}"
        );
    }
}
