//! `micro call` to a go-micro service, which serves no gRPC reflection: as go-micro's own CLI
//! does, the endpoint is checked against the endpoints the service registered (with their
//! request and response shapes), and the JSON request goes as is, over go-micro's RPC protocol
//! (`POST /` with `Micro-*` headers and `Content-Type: application/json`), to a node that
//! registered `protocol=mucp`. The reply is go-micro's JSON.

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use micro::registry::{Node, Service};
use serde_json::Value;

use crate::Env;
use crate::cli::CallArgs;

/// Calls `args.endpoint` of a go-micro service over mucp, if the registry lists the endpoint
/// and a node that speaks mucp; `None` when it does not (the call is not one for this path).
pub(super) async fn call(env: &Env, args: &CallArgs) -> anyhow::Result<Option<Value>> {
    let Ok(services) = env.registry.get_service(&args.service).await else {
        return Ok(None);
    };
    let registered = |service: &Service| service.endpoints.iter().any(|e| e.name == args.endpoint);
    let Some(node) = services
        .iter()
        .filter(|service| registered(service))
        .flat_map(|service| &service.nodes)
        .find(|node| speaks_mucp(node))
    else {
        return Ok(None);
    };
    let address = args.address.as_deref().unwrap_or(&node.address);
    let request = request(env, args, address)?;
    let client = HttpClient::builder(TokioExecutor::new()).build_http();
    let response = tokio::time::timeout(env.global.timeout, client.request(request))
        .await
        .with_context(|| format!("{} took over {:?}", args.endpoint, env.global.timeout))?
        .with_context(|| format!("cannot reach {} at {address}", args.service))?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    let error = parts
        .headers
        .get("micro-error")
        .and_then(|value| value.to_str().ok())
        .filter(|text| !text.is_empty());
    if let Some(error) = error {
        let status = micro::errors::Error::parse(error).to_status();
        return Err(super::call_error(env, &args.service, &status));
    }
    if !parts.status.is_success() {
        bail!(
            "{} answered {}: {}",
            args.service,
            parts.status,
            String::from_utf8_lossy(&body)
        );
    }
    let reply = serde_json::from_slice(&body)
        .with_context(|| format!("{} replied with something that is not JSON", args.service))?;
    Ok(Some(reply))
}

fn speaks_mucp(node: &Node) -> bool {
    node.metadata.get("protocol").map(String::as_str) == Some("mucp")
}

/// The request go-micro's client would send.
fn request(
    env: &Env,
    args: &CallArgs,
    address: &str,
) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let body = args.request.clone().unwrap_or_else(|| "{}".to_owned());
    serde_json::from_str::<Value>(&body).context("the request is not JSON")?;
    let mut request = http::Request::post(format!("http://{address}/"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("micro-id", uuid::Uuid::new_v4().to_string())
        .header("micro-service", &args.service)
        .header("micro-endpoint", &args.endpoint)
        .header("micro-method", &args.endpoint)
        .header("micro-from-service", "micro")
        .header("timeout", env.global.timeout.as_nanos().to_string());
    for (key, value) in &args.metadata {
        request = request.header(key.as_str(), value.as_str());
    }
    if let Some(token) = &env.global.token {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request
        .body(Full::new(Bytes::from(body)))
        .context("invalid metadata for a header")
}
