//! `POST api/call`: calls a unary endpoint with a JSON request, as go-micro's dashboard
//! `POST /api/client/call` did, and answers with the reply or the error.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use micro::dynamic;
use micro::server::RpcKind;
use micro::{Call, Code, JsonOptions};
use serde::Deserialize;

use super::Dashboard;
use super::auth::Session;
use super::error::ApiError;

/// What to call and with what.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallRequest {
    /// The service's name, e.g. `helloworld`.
    service: String,
    /// The endpoint, e.g. `Helloworld.Greeting`.
    endpoint: String,
    /// The request message as JSON, or a string holding it (default `{}`).
    #[serde(default)]
    request: Option<serde_json::Value>,
    /// Metadata sent with the call; keys are lowercased, as HTTP/2 sends them.
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    /// How long the call may take, e.g. `5s` (default: the `--timeout` option).
    #[serde(default)]
    timeout: Option<String>,
}

pub(crate) async fn call(
    State(dashboard): State<Dashboard>,
    Extension(session): Extension<Session>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let call: CallRequest = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(format!(
            "the body is not a call ({err}); send {{\"service\":\"helloworld\",\
             \"endpoint\":\"Helloworld.Greeting\",\"request\":{{\"name\":\"alice\"}}}}"
        ))
    })?;
    super::services::lookup(&dashboard, &call.service).await?;
    let reply = invoke(&dashboard, &session, &call).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], reply))
}

async fn invoke(
    dashboard: &Dashboard,
    session: &Session,
    call: &CallRequest,
) -> Result<String, ApiError> {
    let env = &dashboard.env;
    let failed = |status: micro::Status| ApiError::from_status(&status, &call.service);
    let method = match env.catalog.method(&call.service, &call.endpoint).await {
        Ok(method) => method,
        // No reflection (go-micro before v6.10): the JSON goes as is, as go-micro's dashboard
        // sent it.
        Err(status) if status.code() == Code::Unimplemented => {
            let request: serde_json::Value = serde_json::from_slice(&request_json(&call.request))
                .map_err(|err| {
                ApiError::bad_request(format!("the request is not JSON: {err}"))
            })?;
            let pending = env.client.call(&call.service, &call.endpoint, request);
            let reply: serde_json::Value = prepare(dashboard, session, &call.options(), pending)?
                .await
                .map_err(failed)?;
            return Ok(reply.to_string());
        }
        Err(status) => return Err(failed(status)),
    };
    if method.kind() != RpcKind::Unary {
        return Err(ApiError::bad_request(format!(
            "{} is a {:?} endpoint; call it with POST api/stream (the page does)",
            call.endpoint,
            method.kind(),
        )));
    }
    let options = JsonOptions::default();
    let request = dynamic::from_json(&method.input(), &request_json(&call.request), &options)
        .map_err(failed)?;
    let pending = env.client.dynamic_unary(&call.service, &method, request);
    let reply = prepare(dashboard, session, &call.options(), pending)?
        .await
        .map_err(failed)?;
    dynamic::to_json(&reply, &options).map_err(failed)
}

/// What a call from the page carries besides its request: metadata and a timeout.
pub(super) struct CallOptions<'a> {
    pub(super) metadata: &'a BTreeMap<String, String>,
    pub(super) timeout: Option<&'a str>,
}

impl CallRequest {
    fn options(&self) -> CallOptions<'_> {
        CallOptions {
            metadata: &self.metadata,
            timeout: self.timeout.as_deref(),
        }
    }
}

/// `pending` with the session's token, the metadata and the timeout.
pub(super) fn prepare<T: Send + 'static>(
    dashboard: &Dashboard,
    session: &Session,
    options: &CallOptions<'_>,
    pending: Call<T>,
) -> Result<Call<T>, ApiError> {
    let mut pending = session.authorize(&dashboard.env, pending);
    for (key, value) in options.metadata {
        pending = pending.metadata(&key.to_ascii_lowercase(), value);
    }
    if let Some(timeout) = timeout(options.timeout)? {
        pending = pending.timeout(timeout);
    }
    Ok(pending)
}

/// A request's JSON bytes: a string is taken as JSON text, anything else as the message.
pub(super) fn request_json(request: &Option<serde_json::Value>) -> Vec<u8> {
    match request {
        None | Some(serde_json::Value::Null) => b"{}".to_vec(),
        Some(serde_json::Value::String(text)) if text.trim().is_empty() => b"{}".to_vec(),
        Some(serde_json::Value::String(text)) => text.as_bytes().to_vec(),
        Some(value) => value.to_string().into_bytes(),
    }
}

/// A call's timeout, from a duration such as `5s`; none when absent or blank.
pub(super) fn timeout(text: Option<&str>) -> Result<Option<Duration>, ApiError> {
    let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
        return Ok(None);
    };
    humantime::parse_duration(text.trim())
        .map(Some)
        .map_err(|err| {
            ApiError::bad_request(format!("timeout `{text}` is not a duration like 5s: {err}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> CallRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_request_may_be_a_message_a_string_or_absent() {
        let object = parse(r#"{"service":"s","endpoint":"E.m","request":{"name":"alice"}}"#);
        assert_eq!(request_json(&object.request), br#"{"name":"alice"}"#);
        let text = parse(r#"{"service":"s","endpoint":"E.m","request":"{\"name\":\"bob\"}"}"#);
        assert_eq!(request_json(&text.request), br#"{"name":"bob"}"#);
        let absent = parse(r#"{"service":"s","endpoint":"E.m"}"#);
        assert_eq!(request_json(&absent.request), b"{}");
    }

    #[test]
    fn timeouts_are_durations() {
        let call = parse(r#"{"service":"s","endpoint":"E.m","timeout":"1500ms"}"#);
        assert_eq!(
            timeout(call.timeout.as_deref()).unwrap(),
            Some(Duration::from_millis(1500))
        );
        let call = parse(r#"{"service":"s","endpoint":"E.m","timeout":""}"#);
        assert_eq!(timeout(call.timeout.as_deref()).unwrap(), None);
        let call = parse(r#"{"service":"s","endpoint":"E.m","timeout":"soon"}"#);
        let error = timeout(call.timeout.as_deref()).unwrap_err();
        assert!(
            error.0.detail.contains("`soon` is not a duration"),
            "{error:?}"
        );
    }
}
