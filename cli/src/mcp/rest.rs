//! go-micro's plain HTTP API for its MCP gateway, served beside streamable HTTP, so what was
//! written against go-micro's (`curl`, scripts) works here too:
//!
//! - `GET /mcp/tools`: `{"tools": [{"name", "description", "inputSchema", "outputSchema",
//!   "scopes"}]}`;
//! - `POST /mcp/call` with `{"tool": "<name>", "input": {…}}`: `{"result": <reply>,
//!   "trace_id": "…"}` and the `Mcp-Trace-Id` header; a failure is go-micro's error JSON with
//!   the HTTP status of its code (go-micro answers every failed call 500, in plain text);
//! - `GET /health`: `{"status": "ok", "tools": <count>}`.
//!
//! The bearer token of the request (else `--token`) is the caller, as for MCP clients, and
//! only the `Host`s streamable HTTP accepts are served (DNS rebinding protection).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode, header};
use micro::errors::Error;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Caller, MCP_ID, Tool, Toolbox};
use crate::reply::error as failure;

/// The header (and go-micro's metadata key) with a call's trace id.
const TRACE_HEADER: &str = "mcp-trace-id";

/// What the routes share.
#[derive(Clone)]
struct Rest {
    toolbox: Arc<Toolbox>,
    /// The token of calls whose request carries none (`--token`).
    token: Option<String>,
}

/// `/mcp/tools`, `/mcp/call` and `/health`, for `Host`s among `allowed_hosts` (empty: any).
pub(super) fn router(
    toolbox: Arc<Toolbox>,
    token: Option<String>,
    allowed_hosts: Vec<String>,
) -> Router {
    let allowed_hosts = Arc::new(allowed_hosts);
    Router::new()
        .route("/mcp/tools", get(tools))
        .route("/mcp/call", post(call))
        .route("/health", get(health))
        .with_state(Rest { toolbox, token })
        .layer(middleware::from_fn(move |request, next| {
            only_from(allowed_hosts.clone(), request, next)
        }))
}

/// `GET /mcp/tools`.
async fn tools(State(rest): State<Rest>) -> Response {
    match rest.toolbox.tools().await {
        Ok(tools) => {
            let tools: Vec<Value> = tools.iter().map(listed).collect();
            Json(json!({ "tools": tools })).into_response()
        }
        Err(err) => failure(&Error::internal_server_error(MCP_ID, format!("{err:#}"))),
    }
}

/// A tool as go-micro's `/mcp/tools` lists it, with its output schema besides.
fn listed(tool: &Tool) -> Value {
    let mut listed = Map::new();
    listed.insert("name".into(), json!(tool.name));
    listed.insert("description".into(), json!(tool.description));
    listed.insert("inputSchema".into(), Value::Object(tool.input_schema()));
    if let Some(output) = tool.output_schema() {
        listed.insert("outputSchema".into(), Value::Object(output));
    }
    if !tool.scopes.is_empty() {
        listed.insert("scopes".into(), json!(tool.scopes));
    }
    Value::Object(listed)
}

/// The body of `POST /mcp/call`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallRequest {
    tool: String,
    #[serde(default)]
    input: Option<Map<String, Value>>,
}

/// `POST /mcp/call`.
async fn call(State(rest): State<Rest>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let request: CallRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            let detail = format!(
                "the body is not a tool call ({err}); send {{\"tool\": \"<service>.<Service.Method>\", \
                 \"input\": {{…}}}}"
            );
            return failure(&Error::bad_request(MCP_ID, detail));
        }
    };
    let Some(tool) = rest.toolbox.tool(&request.tool).await else {
        let detail = format!(
            "no tool `{}`: GET /mcp/tools lists the tools there are",
            request.tool
        );
        return failure(&Error::not_found(MCP_ID, detail));
    };
    let caller = Caller::from_headers(Some(&headers), rest.token.as_ref());
    let trace = uuid::Uuid::new_v4().to_string();
    match rest
        .toolbox
        .call_traced(&tool, request.input, &caller, &trace)
        .await
    {
        Ok(result) => {
            let body = Json(json!({ "result": result, "trace_id": trace }));
            ([(TRACE_HEADER, trace)], body).into_response()
        }
        Err(error) => {
            let mut response = failure(&error);
            if let Ok(value) = trace.parse() {
                response.headers_mut().insert(TRACE_HEADER, value);
            }
            response
        }
    }
}

/// `GET /health`: up, and how many tools there are now.
async fn health(State(rest): State<Rest>) -> Response {
    match rest.toolbox.tools().await {
        Ok(tools) => Json(json!({ "status": "ok", "tools": tools.len() })).into_response(),
        Err(err) => {
            let body = Json(json!({ "status": "error", "error": format!("{err:#}") }));
            (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    }
}

/// Refuses requests whose `Host` is not among `allowed` (a page of another site reaching a
/// local server through a rebound DNS name); an empty list allows any.
async fn only_from(allowed: Arc<Vec<String>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if allowed.is_empty() || host.is_some_and(|host| host_allowed(host, &allowed)) {
        return next.run(request).await;
    }
    let detail = format!(
        "requests for host `{}` are refused (DNS rebinding protection); start `micro mcp serve` \
         with `--allowed-host` naming it",
        host.unwrap_or_default()
    );
    failure(&Error::forbidden(MCP_ID, detail))
}

/// Whether `host` (`name[:port]`) is one of `allowed` (`name` for any port, or `name:port`).
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let Some((name, port)) = host.parse().ok().map(|host| authority(&host)) else {
        return false;
    };
    allowed.iter().any(|entry| {
        let (allowed_name, allowed_port) = match entry.parse() {
            Ok(entry) => authority(&entry),
            // A bare IPv6 address (`::1`) is no authority.
            Err(_) => (entry.trim_matches(['[', ']']).to_ascii_lowercase(), None),
        };
        allowed_name == name && allowed_port.is_none_or(|allowed| port == Some(allowed))
    })
}

/// The host name (lower case, IPv6 without brackets) and port of `authority`.
fn authority(authority: &http::uri::Authority) -> (String, Option<u16>) {
    let name = authority
        .host()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    (name, authority.port_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_by_name_and_by_port_when_one_is_given() {
        let allowed = [
            "localhost".to_owned(),
            "::1".to_owned(),
            "example.com:8080".to_owned(),
        ];
        assert!(host_allowed("localhost:3000", &allowed));
        assert!(host_allowed("LOCALHOST", &allowed));
        assert!(host_allowed("[::1]:3000", &allowed));
        assert!(host_allowed("example.com:8080", &allowed));
        assert!(!host_allowed("example.com:9090", &allowed));
        assert!(!host_allowed("evil.example:3000", &allowed));
        assert!(!host_allowed("", &allowed));
    }
}
